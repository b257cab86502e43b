package dev.atlas.dstack.ra.internal;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.util.HexFormat;

/** Small byte helpers shared by the module. */
public final class Bytes {
    private Bytes() {}

    public static final HexFormat HEX = HexFormat.of();

    public static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    /** Unsigned big-endian, left-padded to {@code len} bytes. */
    public static byte[] fixed(BigInteger v, int len) {
        byte[] b = v.toByteArray();
        if (b.length == len) {
            return b;
        }
        byte[] out = new byte[len];
        if (b.length > len) {
            if (b.length == len + 1 && b[0] == 0) {
                System.arraycopy(b, 1, out, 0, len);
                return out;
            }
            throw new IllegalArgumentException("value does not fit in " + len + " bytes");
        }
        System.arraycopy(b, 0, out, len - b.length, b.length);
        return out;
    }

    public static byte[] u64be(long v) {
        byte[] b = new byte[8];
        for (int i = 7; i >= 0; i--) {
            b[i] = (byte) v;
            v >>>= 8;
        }
        return b;
    }

    public static void requireLength(byte[] b, int len, String what) throws RaException {
        if (b == null || b.length != len) {
            throw new RaException(Reason.INVALID_ARGUMENT, what,
                    "must be " + len + " bytes, got " + (b == null ? "null" : b.length));
        }
    }

    public static boolean allZero(byte[] b, int off, int len) {
        int acc = 0;
        for (int i = off; i < off + len; i++) {
            acc |= b[i];
        }
        return acc == 0;
    }

    /** Hex with an optional {@code 0x} prefix. */
    public static byte[] parseHex(String s, String what) throws RaException {
        if (s == null) {
            throw new RaException(Reason.INVALID_ARGUMENT, what, "missing");
        }
        String t = s.startsWith("0x") || s.startsWith("0X") ? s.substring(2) : s;
        try {
            return HEX.parseHex(t);
        } catch (IllegalArgumentException e) {
            throw new RaException(Reason.INVALID_ARGUMENT, what, "not hex");
        }
    }
}
