package dev.atlas.dstack.ra.internal;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/** msgpack writer with rmp's choices: the shortest marker for every integer, string, bin, array and map. */
public final class MsgpackWriter {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    private void be(long v, int n) {
        for (int i = n - 1; i >= 0; i--) {
            out.write((int) (v >>> (8 * i)));
        }
    }

    public MsgpackWriter uint(long v) {
        if (v < 0) {
            throw new IllegalArgumentException("negative");
        }
        if (v < 128) {
            out.write((int) v);
        } else if (v < 256) {
            out.write(0xcc);
            be(v, 1);
        } else if (v < 65536) {
            out.write(0xcd);
            be(v, 2);
        } else if (v < (1L << 32)) {
            out.write(0xce);
            be(v, 4);
        } else {
            out.write(0xcf);
            be(v, 8);
        }
        return this;
    }

    public MsgpackWriter nil() {
        out.write(0xc0);
        return this;
    }

    public MsgpackWriter str(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        int n = b.length;
        if (n < 32) {
            out.write(0xa0 | n);
        } else if (n < 256) {
            out.write(0xd9);
            be(n, 1);
        } else if (n < 65536) {
            out.write(0xda);
            be(n, 2);
        } else {
            out.write(0xdb);
            be(n, 4);
        }
        out.writeBytes(b);
        return this;
    }

    public MsgpackWriter bin(byte[] b) {
        int n = b.length;
        if (n < 256) {
            out.write(0xc4);
            be(n, 1);
        } else if (n < 65536) {
            out.write(0xc5);
            be(n, 2);
        } else {
            out.write(0xc6);
            be(n, 4);
        }
        out.writeBytes(b);
        return this;
    }

    public MsgpackWriter array(int n) {
        if (n < 16) {
            out.write(0x90 | n);
        } else if (n < 65536) {
            out.write(0xdc);
            be(n, 2);
        } else {
            out.write(0xdd);
            be(n, 4);
        }
        return this;
    }

    public MsgpackWriter map(int n) {
        if (n < 16) {
            out.write(0x80 | n);
        } else if (n < 65536) {
            out.write(0xde);
            be(n, 2);
        } else {
            out.write(0xdf);
            be(n, 4);
        }
        return this;
    }

    /** A plain {@code Vec<u8>} as serde writes it: an array of integers. */
    public MsgpackWriter byteArray(byte[] b) {
        array(b.length);
        for (byte x : b) {
            uint(x & 0xff);
        }
        return this;
    }

    public byte[] toByteArray() {
        return out.toByteArray();
    }
}
