package dev.atlas.tdx.internal;

/** Little-endian reads and small byte utilities. */
public final class Bytes {
    private Bytes() {}

    public static int u16le(byte[] b, int off) {
        return (b[off] & 0xff) | (b[off + 1] & 0xff) << 8;
    }

    public static long u32le(byte[] b, int off) {
        return ((long) (b[off] & 0xff)) | ((long) (b[off + 1] & 0xff)) << 8
                | ((long) (b[off + 2] & 0xff)) << 16 | ((long) (b[off + 3] & 0xff)) << 24;
    }

    public static long u64le(byte[] b, int off) {
        return u32le(b, off) | (u32le(b, off + 4) << 32);
    }

    public static boolean allZero(byte[] b) {
        int acc = 0;
        for (byte x : b) {
            acc |= x;
        }
        return acc == 0;
    }

    public static byte[] slice(byte[] b, int off, int len) {
        byte[] out = new byte[len];
        System.arraycopy(b, off, out, 0, len);
        return out;
    }

    public static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] out = new byte[n];
        int off = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, off, p.length);
            off += p.length;
        }
        return out;
    }
}
