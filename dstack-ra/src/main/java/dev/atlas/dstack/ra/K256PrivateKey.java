package dev.atlas.dstack.ra;

import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.internal.Bytes;
import dev.atlas.dstack.ra.internal.Curves;
import java.math.BigInteger;
import java.security.MessageDigest;
import java.util.Arrays;
import org.bouncycastle.crypto.digests.SHA256Digest;
import org.bouncycastle.crypto.params.ECPrivateKeyParameters;
import org.bouncycastle.crypto.signers.ECDSASigner;
import org.bouncycastle.crypto.signers.HMacDSAKCalculator;

/**
 * A secp256k1 private key (the KMS root k256 key, an app k256 key, a {@code GetKey} key). Signs like
 * k256's {@code sign_prehash_recoverable}: RFC 6979 nonces with HMAC-SHA256, then low-S. {@link #toString()}
 * shows only the public key.
 */
public final class K256PrivateKey {
    private final byte[] scalar;
    private final byte[] publicKey;

    private K256PrivateKey(byte[] scalar) {
        this.scalar = scalar;
        this.publicKey = Curves.K256.getG().multiply(new BigInteger(1, scalar)).normalize().getEncoded(true);
    }

    /** From the 32-byte big-endian scalar; it must satisfy {@code 0 < d < n}. */
    public static K256PrivateKey fromScalar(byte[] scalar) throws RaException {
        Bytes.requireLength(scalar, 32, "k256 scalar");
        if (!Curves.inRange(new BigInteger(1, scalar), Curves.K256.getN())) {
            throw new RaException(Reason.KEY_OUT_OF_RANGE, "secp256k1 scalar is not in [1, n-1]");
        }
        return new K256PrivateKey(scalar.clone());
    }

    public byte[] scalar() {
        return scalar.clone();
    }

    /** The compressed SEC1 public key (33 bytes). */
    public byte[] publicKey() {
        return publicKey.clone();
    }

    /** The uncompressed SEC1 public key (65 bytes). */
    public byte[] publicKeyUncompressed() {
        return Curves.K256.getCurve().decodePoint(publicKey).getEncoded(false);
    }

    /** Signs a 32-byte prehash (deterministic, low-S) with the recovery id that recovers to this key. */
    public RecoverableSignature signHash(byte[] hash) throws RaException {
        Bytes.requireLength(hash, 32, "hash");
        ECDSASigner signer = new ECDSASigner(new HMacDSAKCalculator(new SHA256Digest()));
        BigInteger d = new BigInteger(1, scalar);
        signer.init(true, new ECPrivateKeyParameters(d, Curves.K256));
        BigInteger[] rs = signer.generateSignature(hash);
        BigInteger r = rs[0];
        BigInteger s = rs[1];
        if (s.compareTo(Curves.K256_HALF_N) > 0) {
            s = Curves.K256.getN().subtract(s);
        }
        for (int recid = 0; recid < 4; recid++) {
            RecoverableSignature sig = RecoverableSignature.of(r, s, recid);
            try {
                if (MessageDigest.isEqual(Secp256k1.recover(hash, sig), publicKey)) {
                    return sig;
                }
            } catch (RaException tryNext) {
                // this recovery id lifts to no point; try the next
            }
        }
        throw new IllegalStateException("no recovery id recovers the signing key");
    }

    /** Keccak-256 of {@code message}, then {@link #signHash(byte[])}. */
    public RecoverableSignature signMessage(byte[] message) throws RaException {
        return signHash(Secp256k1.keccak256(message));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof K256PrivateKey && MessageDigest.isEqual(scalar, ((K256PrivateKey) o).scalar);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(publicKey);
    }

    @Override
    public String toString() {
        return "K256PrivateKey[public=" + Bytes.HEX.formatHex(publicKey) + ", private=redacted]";
    }
}
