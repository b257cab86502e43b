package dev.atlas.dstack.gateway.certbot.internal;

import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/** Strict PEM: only blocks of one label, base64 bodies; other text between blocks is ignored (as openssl does). */
public final class Pem {
    private Pem() {
    }

    /** The DER of each {@code label} block, or null when a block is malformed (unterminated, bad base64). */
    public static List<byte[]> blocks(String pem, String label) {
        String begin = "-----BEGIN " + label + "-----";
        String end = "-----END " + label + "-----";
        List<byte[]> out = new ArrayList<>();
        int at = 0;
        while (true) {
            int b = pem.indexOf(begin, at);
            if (b < 0) {
                return out;
            }
            int e = pem.indexOf(end, b + begin.length());
            if (e < 0) {
                return null;
            }
            String body = pem.substring(b + begin.length(), e).replaceAll("[\\r\\n\\t ]", "");
            try {
                out.add(Base64.getDecoder().decode(body));
            } catch (IllegalArgumentException x) {
                return null;
            }
            at = e + end.length();
        }
    }

    /** One PEM block, 64 columns. */
    public static String encode(String label, byte[] der) {
        return "-----BEGIN " + label + "-----\n" + Base64.getMimeEncoder(64, "\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII))
                .encodeToString(der) + "\n-----END " + label + "-----\n";
    }
}
