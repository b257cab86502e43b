package dev.atlas.dstack.ra.internal;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/** SCALE writer: canonical compact lengths, little-endian integers. */
public final class ScaleWriter {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    public ScaleWriter u8(int v) {
        out.write(v);
        return this;
    }

    public ScaleWriter u32(long v) {
        for (int i = 0; i < 4; i++) {
            out.write((int) (v >>> (8 * i)));
        }
        return this;
    }

    public ScaleWriter compact(long v) {
        if (v < 64) {
            out.write((int) (v << 2));
        } else if (v < (1 << 14)) {
            long x = v << 2 | 1;
            out.write((int) x);
            out.write((int) (x >>> 8));
        } else if (v < (1L << 30)) {
            u32(v << 2 | 2);
        } else {
            out.write(3);
            u32(v);
        }
        return this;
    }

    public ScaleWriter bool(boolean v) {
        out.write(v ? 1 : 0);
        return this;
    }

    public ScaleWriter u64(long v) {
        u32(v & 0xffffffffL);
        u32(v >>> 32);
        return this;
    }

    public ScaleWriter fixed(byte[] b) {
        out.writeBytes(b);
        return this;
    }

    public ScaleWriter bytes(byte[] b) {
        compact(b.length);
        out.writeBytes(b);
        return this;
    }

    public ScaleWriter string(String s) {
        return bytes(s.getBytes(StandardCharsets.UTF_8));
    }

    public byte[] toByteArray() {
        return out.toByteArray();
    }
}
