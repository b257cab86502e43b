package dev.atlas.dstack.ra;

import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Objects;

/**
 * Secret bytes (a disk key, an env key, a derived secret). {@link #toString()} shows only the length; the
 * bytes leave only through {@link #bytes()} (a copy). {@link #equals} compares in constant time.
 */
public final class SecretBytes {
    private final byte[] value;

    private SecretBytes(byte[] value) {
        this.value = value;
    }

    /** Copies {@code value}. */
    public static SecretBytes of(byte[] value) {
        return new SecretBytes(Objects.requireNonNull(value, "value").clone());
    }

    /** A copy of the secret. */
    public byte[] bytes() {
        return value.clone();
    }

    public int length() {
        return value.length;
    }

    /** Lowercase hex of the secret, for writing it where it belongs (for example {@code .appkeys.json}). */
    public String toHex() {
        return java.util.HexFormat.of().formatHex(value);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SecretBytes && MessageDigest.isEqual(value, ((SecretBytes) o).value);
    }

    @Override
    public int hashCode() {
        return value.length;
    }

    @Override
    public String toString() {
        return "SecretBytes[" + value.length + " bytes, redacted]";
    }

    /** Overwrites the held bytes with zeros; the object is unusable afterwards. */
    public void destroy() {
        Arrays.fill(value, (byte) 0);
    }
}
