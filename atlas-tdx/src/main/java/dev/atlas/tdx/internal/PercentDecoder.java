package dev.atlas.tdx.internal;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Percent-decoding of issuer-chain headers: {@code %XX} only. Unlike {@code URLDecoder}, {@code +} stays a
 * plus sign (base64 uses it). A malformed escape is an error.
 */
public final class PercentDecoder {
    private PercentDecoder() {}

    public static String decode(String s) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '%') {
                if (i + 2 >= s.length()) {
                    throw new IllegalArgumentException("truncated percent escape at index " + i);
                }
                int hi = Character.digit(s.charAt(i + 1), 16);
                int lo = Character.digit(s.charAt(i + 2), 16);
                if (hi < 0 || lo < 0) {
                    throw new IllegalArgumentException("malformed percent escape at index " + i);
                }
                out.write((hi << 4) | lo);
                i += 2;
            } else if (c > 0x7f) {
                byte[] b = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
                out.write(b, 0, b.length);
            } else {
                out.write(c);
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }
}
