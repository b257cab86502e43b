package dev.atlas.dstack.ra;

import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.internal.Bytes;
import dev.atlas.dstack.ra.internal.Curves;
import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.util.Arrays;

/** P-256 public keys in their one canonical SPKI form (named curve, uncompressed point, 91 bytes). */
final class P256Keys {
    static final BigInteger ORDER = Curves.P256.getN();
    private static final byte[] SPKI_PREFIX = Bytes.HEX.parseHex(
            "3059301306072a8648ce3d020106082a8648ce3d030107034200");
    static final int SPKI_LENGTH = SPKI_PREFIX.length + 65;

    private P256Keys() {}

    /** The JDK key of a canonical P-256 SPKI; rejects other curves, compressed or off-curve points. */
    static PublicKey publicKeyFromSpki(byte[] spki, String field) throws RaException {
        if (spki.length != SPKI_LENGTH || !Arrays.equals(spki, 0, SPKI_PREFIX.length, SPKI_PREFIX, 0,
                SPKI_PREFIX.length) || spki[SPKI_PREFIX.length] != 0x04) {
            throw new RaException(Reason.CSR_PUBLIC_KEY_INVALID, field, "not the DER SubjectPublicKeyInfo of a P-256"
                    + " key with an uncompressed point (" + spki.length + " bytes)");
        }
        try {
            Curves.P256.getCurve().decodePoint(Arrays.copyOfRange(spki, SPKI_PREFIX.length, spki.length));
            return KeyFactory.getInstance("EC").generatePublic(new X509EncodedKeySpec(spki));
        } catch (IllegalArgumentException | GeneralSecurityException e) {
            throw new RaException(Reason.CSR_PUBLIC_KEY_INVALID, field, "the point is not on P-256");
        }
    }

    /** Whether {@code key} is a P-256 key (its encoding is a canonical P-256 SPKI). */
    static boolean isP256(PublicKey key) {
        try {
            publicKeyFromSpki(key.getEncoded(), "key");
            return true;
        } catch (RaException | RuntimeException e) {
            return false;
        }
    }
}
