package dev.atlas.dstack.ra;

import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.internal.Bytes;
import dev.atlas.dstack.ra.internal.Curves;
import dev.atlas.dstack.ra.internal.Hashes;
import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.interfaces.ECPrivateKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Arrays;
import org.bouncycastle.math.ec.ECPoint;

/**
 * A P-256 private key (the KMS root CA key, an app CA key, a derived key). {@link #toString()} shows only
 * the public key.
 */
public final class P256PrivateKey {
    /** {@code 30 81 87 02 01 00 30 13 <ecPublicKey> <prime256v1> 04 6D 30 6B 02 01 01 04 20}. */
    private static final byte[] PKCS8_PREFIX = Bytes.HEX.parseHex(
            "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420");
    private static final byte[] PKCS8_MIDDLE = Bytes.HEX.parseHex("a144034200");
    private static final byte[] SPKI_PREFIX = Bytes.HEX.parseHex(
            "3059301306072a8648ce3d020106082a8648ce3d030107034200");
    /** Length of the canonical PKCS#8 encoding dstack hashes in {@code derive_dh_secret}. */
    public static final int PKCS8_LENGTH = 138;

    private final byte[] scalar;
    private final byte[] publicKey;

    private P256PrivateKey(byte[] scalar) {
        this.scalar = scalar;
        ECPoint q = Curves.P256.getG().multiply(new BigInteger(1, scalar)).normalize();
        this.publicKey = q.getEncoded(false);
    }

    /** From the 32-byte big-endian scalar; it must satisfy {@code 0 < d < n}. */
    public static P256PrivateKey fromScalar(byte[] scalar) throws RaException {
        Bytes.requireLength(scalar, 32, "p256 scalar");
        if (!Curves.inRange(new BigInteger(1, scalar), Curves.P256.getN())) {
            throw new RaException(Reason.KEY_OUT_OF_RANGE, "P-256 scalar is not in [1, n-1]");
        }
        return new P256PrivateKey(scalar.clone());
    }

    /**
     * From PKCS#8 DER (rcgen's and p256's 138-byte layout, or any EC P-256 PKCS#8 the JDK reads). The
     * embedded public key, when present in the canonical layout, must match the scalar.
     */
    public static P256PrivateKey fromPkcs8(byte[] der) throws RaException {
        if (der.length == PKCS8_LENGTH && Arrays.equals(der, 0, PKCS8_PREFIX.length, PKCS8_PREFIX, 0,
                PKCS8_PREFIX.length)) {
            P256PrivateKey k = fromScalar(Arrays.copyOfRange(der, PKCS8_PREFIX.length, PKCS8_PREFIX.length + 32));
            if (!MessageDigest.isEqual(k.pkcs8(), der)) {
                throw new RaException(Reason.INVALID_ARGUMENT, "pkcs8", "public key does not match the private key");
            }
            return k;
        }
        try {
            ECPrivateKey k = (ECPrivateKey) KeyFactory.getInstance("EC")
                    .generatePrivate(new PKCS8EncodedKeySpec(der));
            if (k.getParams().getOrder().compareTo(Curves.P256.getN()) != 0) {
                throw new RaException(Reason.INVALID_ARGUMENT, "pkcs8", "not a P-256 key");
            }
            return fromScalar(Bytes.fixed(k.getS(), 32));
        } catch (java.security.GeneralSecurityException | ClassCastException | IllegalArgumentException e) {
            if (e instanceof RaException) {
                throw (RaException) e;
            }
            throw new RaException(Reason.INVALID_ARGUMENT, "pkcs8", "not an EC PKCS#8 private key");
        }
    }

    /** From a {@code -----BEGIN PRIVATE KEY-----} PEM block. */
    public static P256PrivateKey fromPem(String pem) throws RaException {
        String body = pem.replace("-----BEGIN PRIVATE KEY-----", "").replace("-----END PRIVATE KEY-----", "")
                .replaceAll("\\s", "");
        try {
            return fromPkcs8(java.util.Base64.getDecoder().decode(body));
        } catch (IllegalArgumentException e) {
            throw new RaException(Reason.INVALID_ARGUMENT, "pem", "not base64");
        }
    }

    /** A copy of the 32-byte big-endian scalar. */
    public byte[] scalar() {
        return scalar.clone();
    }

    /** The uncompressed SEC1 public key {@code 04 ‖ X ‖ Y} (65 bytes). */
    public byte[] publicKey() {
        return publicKey.clone();
    }

    /** The SubjectPublicKeyInfo DER (91 bytes). */
    public byte[] spki() {
        return Bytes.concat(SPKI_PREFIX, publicKey);
    }

    /**
     * The canonical 138-byte PKCS#8 DER: a SEC1 {@code ECPrivateKey} (version 1, the public key in
     * {@code [1]}, no {@code [0]} parameters) inside PKCS#8 v0, exactly as p256's {@code to_pkcs8_der}.
     */
    public byte[] pkcs8() {
        return Bytes.concat(PKCS8_PREFIX, scalar, PKCS8_MIDDLE, publicKey);
    }

    /** PEM of {@link #pkcs8()}. */
    public String toPem() {
        String b64 = java.util.Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(pkcs8());
        return "-----BEGIN PRIVATE KEY-----\n" + b64 + "\n-----END PRIVATE KEY-----\n";
    }

    /** This key for the JCA (signing certificates and CSRs, TLS key managers); the PKCS#8 copy read is zeroed. */
    public PrivateKey toPrivateKey() {
        byte[] der = pkcs8();
        try {
            return KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(der));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK cannot read a P-256 PKCS#8 key", e);
        } finally {
            Arrays.fill(der, (byte) 0);
        }
    }

    /** The public key for the JCA. */
    public PublicKey toPublicKey() {
        try {
            return KeyFactory.getInstance("EC").generatePublic(new X509EncodedKeySpec(spki()));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK cannot read a P-256 public key", e);
        }
    }

    /** {@link #toPublicKey()} and {@link #toPrivateKey()}. */
    public KeyPair toKeyPair() {
        return new KeyPair(toPublicKey(), toPrivateKey());
    }

    /** {@code SHA-256(pkcs8())}: the secret {@code derive_dh_secret} returns for this key. */
    public SecretBytes dhSecret() {
        return SecretBytes.of(Hashes.sha256(pkcs8()));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof P256PrivateKey && MessageDigest.isEqual(scalar, ((P256PrivateKey) o).scalar);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(publicKey);
    }

    @Override
    public String toString() {
        return "P256PrivateKey[public=" + Bytes.HEX.formatHex(publicKey) + ", private=redacted]";
    }
}
