package dev.atlas.measure;

import dev.atlas.measure.internal.Sha384;
import java.security.MessageDigest;
import java.util.List;

/**
 * RTMR arithmetic: a register starts at 48 zero bytes and each event extends it with
 * {@code mr = SHA-384(mr ‖ digest)} (upstream {@code dstack/dstack-mr/src/util.rs}).
 */
public final class Rtmr {
    /** Size of a register and of an event digest. */
    public static final int SIZE = 48;

    private Rtmr() {
    }

    /** Replays a log of 48-byte event digests from zero. */
    public static byte[] replay(List<byte[]> digests) {
        byte[] mr = new byte[SIZE];
        MessageDigest md = Sha384.newDigest();
        for (byte[] d : digests) {
            if (d.length != SIZE) {
                throw new IllegalArgumentException("an RTMR event digest must be 48 bytes, got " + d.length);
            }
            md.update(mr);
            md.update(d);
            mr = md.digest();
        }
        return mr;
    }

    /** SHA-384 of {@code data}. */
    public static byte[] sha384(byte[] data) {
        return Sha384.of(data);
    }
}
