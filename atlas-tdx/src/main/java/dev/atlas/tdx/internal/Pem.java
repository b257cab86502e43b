package dev.atlas.tdx.internal;

import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * PEM block extraction with the reference semantics: every {@code -----BEGIN X-----} ...
 * {@code -----END X-----} block in order, labels not checked, text between blocks (including NUL
 * bytes) ignored, no blocks is an empty list, malformed base64 inside a block is an error.
 */
public final class Pem {
    /** Upper bound on the PEM text we look at (a PCK chain is about 4 KiB). */
    public static final int MAX_PEM_CHARS = 1 << 20;
    private static final String BEGIN = "-----BEGIN ";
    private static final String END = "-----END ";

    private Pem() {}

    public static List<byte[]> decodeAll(String text) {
        if (text.length() > MAX_PEM_CHARS) {
            throw new IllegalArgumentException("PEM text longer than " + MAX_PEM_CHARS + " characters");
        }
        List<byte[]> out = new ArrayList<>();
        int pos = 0;
        while (true) {
            int b = text.indexOf(BEGIN, pos);
            if (b < 0) {
                return out;
            }
            int labelEnd = text.indexOf("-----", b + BEGIN.length());
            if (labelEnd < 0) {
                throw new IllegalArgumentException("unterminated PEM BEGIN line");
            }
            String label = text.substring(b + BEGIN.length(), labelEnd);
            int bodyStart = labelEnd + 5;
            String endMarker = END + label + "-----";
            int e = text.indexOf(endMarker, bodyStart);
            if (e < 0) {
                throw new IllegalArgumentException("PEM block '" + label + "' has no END line");
            }
            String body = text.substring(bodyStart, e);
            StringBuilder sb = new StringBuilder(body.length());
            for (int i = 0; i < body.length(); i++) {
                char c = body.charAt(i);
                if (c == '\r' || c == '\n' || c == ' ' || c == '\t') {
                    continue;
                }
                sb.append(c);
            }
            try {
                out.add(Base64.getDecoder().decode(sb.toString()));
            } catch (IllegalArgumentException ex) {
                throw new IllegalArgumentException("PEM block '" + label + "' has malformed base64", ex);
            }
            pos = e + endMarker.length();
        }
    }

    public static String encode(String label, byte[] der) {
        String b64 = Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der);
        return "-----BEGIN " + label + "-----\n" + b64 + "\n-----END " + label + "-----\n";
    }
}
