package dev.atlas.measure.internal;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/** SHA-384 helpers (the JDK's; always present). */
public final class Sha384 {
    private Sha384() {
    }

    public static MessageDigest newDigest() {
        try {
            return MessageDigest.getInstance("SHA-384");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-384 missing from the JDK", e);
        }
    }

    public static byte[] of(byte[] data) {
        return newDigest().digest(data);
    }
}
