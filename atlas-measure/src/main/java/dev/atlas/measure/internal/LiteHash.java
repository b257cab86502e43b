package dev.atlas.measure.internal;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/** SHA-256 / SHA-384 helpers and the RTMR extend rule of the lite check. */
public final class LiteHash {
    private LiteHash() {}

    public static byte[] sha256(byte[] b) {
        return digest("SHA-256", b);
    }

    public static byte[] sha384(byte[] b) {
        return digest("SHA-384", b);
    }

    /** An RTMR replay: start at 48 zero bytes, {@code mr = SHA-384(mr ‖ d)} for each digest in order. */
    public static byte[] replay(List<byte[]> digests) {
        byte[] mr = new byte[48];
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-384");
            for (byte[] d : digests) {
                md.update(mr);
                md.update(d);
                mr = md.digest();
            }
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        return mr;
    }

    public static String hex(byte[] b) {
        return HexFormat.of().formatHex(b);
    }

    private static byte[] digest(String alg, byte[] b) {
        try {
            return MessageDigest.getInstance(alg).digest(b);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
