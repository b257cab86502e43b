package dev.atlas.measure.internal;

import dev.atlas.measure.MeasureException;

/** Bounds-checked little-endian reads; a read past the end names the structure and its offset. */
public final class Le {
    private Le() {
    }

    /** Checks {@code [offset, offset + length)} lies inside {@code data}. */
    public static void require(byte[] data, long offset, long length, MeasureException.Reason reason, String structure)
            throws MeasureException {
        if (offset < 0 || length < 0 || offset > data.length || length > data.length - offset) {
            throw new MeasureException(reason, structure, offset, "needs " + length + " bytes at offset " + offset
                    + " but the file has " + data.length + " bytes");
        }
    }

    public static int u16(byte[] data, long offset, MeasureException.Reason reason, String structure)
            throws MeasureException {
        require(data, offset, 2, reason, structure);
        int o = (int) offset;
        return (data[o] & 0xff) | (data[o + 1] & 0xff) << 8;
    }

    public static long u32(byte[] data, long offset, MeasureException.Reason reason, String structure)
            throws MeasureException {
        require(data, offset, 4, reason, structure);
        int o = (int) offset;
        return (data[o] & 0xffL) | (data[o + 1] & 0xffL) << 8 | (data[o + 2] & 0xffL) << 16 | (data[o + 3] & 0xffL) << 24;
    }

    /** An unsigned 64-bit value; values of 2^63 and above are returned negative (callers check). */
    public static long u64(byte[] data, long offset, MeasureException.Reason reason, String structure)
            throws MeasureException {
        require(data, offset, 8, reason, structure);
        return u32(data, offset, reason, structure) | u32(data, offset + 4, reason, structure) << 32;
    }

    public static void putU16(byte[] data, int offset, int v) {
        data[offset] = (byte) v;
        data[offset + 1] = (byte) (v >>> 8);
    }

    public static void putU32(byte[] data, int offset, long v) {
        for (int i = 0; i < 4; i++) {
            data[offset + i] = (byte) (v >>> (8 * i));
        }
    }

    public static void putU64(byte[] data, int offset, long v) {
        for (int i = 0; i < 8; i++) {
            data[offset + i] = (byte) (v >>> (8 * i));
        }
    }
}
