package dev.atlas.tdx.internal;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PublicKey;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Remembers signature checks that succeeded, keyed by SHA-256 over (kind, public key, signed bytes,
 * signature). A signature check is a pure function of those inputs, so a remembered success is exactly as
 * good as a fresh one; failures are never remembered, and nothing time-dependent is stored here. Bounded:
 * when full it is cleared.
 */
public final class SignatureMemo {
    private final int capacity;
    private final Set<Key> ok;

    public SignatureMemo(int capacity) {
        this.capacity = capacity;
        this.ok = ConcurrentHashMap.newKeySet();
    }

    /** A memo that remembers nothing. */
    public static SignatureMemo disabled() {
        return new SignatureMemo(0);
    }

    /** Computes the memo key for one check. */
    public static Key key(String kind, PublicKey key, byte[] data, byte[] signature) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(kind.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            md.update((byte) 0);
            byte[] k = key.getEncoded();
            md.update(lengthPrefix(k.length));
            md.update(k);
            md.update(lengthPrefix(data.length));
            md.update(data);
            md.update(signature);
            return new Key(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] lengthPrefix(int n) {
        return new byte[] {(byte) (n >>> 24), (byte) (n >>> 16), (byte) (n >>> 8), (byte) n};
    }

    public boolean contains(Key k) {
        return capacity > 0 && ok.contains(k);
    }

    public void remember(Key k) {
        if (capacity <= 0) {
            return;
        }
        if (ok.size() >= capacity) {
            ok.clear();
        }
        ok.add(k);
    }

    public int size() {
        return ok.size();
    }

    /** A 32-byte digest used as a set key. */
    public static final class Key {
        private final byte[] digest;
        private final int hash;

        Key(byte[] digest) {
            this.digest = digest;
            this.hash = java.util.Arrays.hashCode(digest);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Key && MessageDigest.isEqual(((Key) o).digest, digest);
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }
}
