package dev.atlas.dstack.internal;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/** SHA-2 helpers (the JDK always has these algorithms). */
public final class Digests {
    private Digests() {}

    public static byte[] sha256(byte[]... parts) {
        return digest("SHA-256", parts);
    }

    public static byte[] sha384(byte[]... parts) {
        return digest("SHA-384", parts);
    }

    public static byte[] sha512(byte[]... parts) {
        return digest("SHA-512", parts);
    }

    private static byte[] digest(String alg, byte[]... parts) {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance(alg);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(alg + " missing from the JDK", e);
        }
        for (byte[] p : parts) {
            md.update(p);
        }
        return md.digest();
    }
}
