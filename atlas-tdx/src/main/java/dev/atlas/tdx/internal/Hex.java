package dev.atlas.tdx.internal;

/** Lowercase hex encoding and case-insensitive, strict decoding. */
public final class Hex {
    private static final char[] DIGITS = "0123456789abcdef".toCharArray();

    private Hex() {}

    public static String encode(byte[] bytes) {
        return encode(bytes, 0, bytes.length);
    }

    public static String encode(byte[] bytes, int off, int len) {
        char[] out = new char[len * 2];
        for (int i = 0; i < len; i++) {
            int b = bytes[off + i] & 0xff;
            out[2 * i] = DIGITS[b >>> 4];
            out[2 * i + 1] = DIGITS[b & 0x0f];
        }
        return new String(out);
    }

    public static String encodeUpper(byte[] bytes) {
        return encode(bytes).toUpperCase(java.util.Locale.ROOT);
    }

    /**
     * Decodes hex text (either case). Throws {@link IllegalArgumentException} on odd length or a non-hex
     * character; callers translate that into their own reason.
     */
    public static byte[] decode(CharSequence s) {
        int n = s.length();
        if ((n & 1) != 0) {
            throw new IllegalArgumentException("hex string has odd length " + n);
        }
        byte[] out = new byte[n / 2];
        for (int i = 0; i < out.length; i++) {
            int hi = digit(s.charAt(2 * i), 2 * i);
            int lo = digit(s.charAt(2 * i + 1), 2 * i + 1);
            out[i] = (byte) ((hi << 4) | lo);
        }
        return out;
    }

    /** Decodes hex that must be exactly {@code expectedBytes} long. */
    public static byte[] decodeExact(CharSequence s, int expectedBytes, String what) {
        byte[] b = decode(s);
        if (b.length != expectedBytes) {
            throw new IllegalArgumentException(what + " must be " + expectedBytes + " bytes, got " + b.length);
        }
        return b;
    }

    public static boolean isHex(CharSequence s) {
        if ((s.length() & 1) != 0) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (Character.digit(s.charAt(i), 16) < 0 || s.charAt(i) > 'f') {
                return false;
            }
        }
        return true;
    }

    private static int digit(char c, int index) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        throw new IllegalArgumentException("non-hex character at index " + index);
    }
}
