package dev.atlas.dstack.ra;

import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.internal.Bytes;
import dev.atlas.dstack.ra.internal.Curves;
import java.math.BigInteger;
import java.security.MessageDigest;
import java.util.Arrays;
import org.bouncycastle.crypto.digests.SHA256Digest;
import org.bouncycastle.math.ec.ECPoint;
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

    /**
     * Signs a 32-byte prehash (deterministic, low-S) with the recovery id that recovers to this key. The nonce is
     * RFC 6979's (HMAC-SHA256), so the signature is the one {@code ECDSASigner} with {@code HMacDSAKCalculator}
     * makes; the recovery id comes from the nonce point R itself (bit 0: R.y odd, bit 1: R.x ≥ n; flipped with
     * low-S normalisation) instead of trying public-key recovery for each candidate, which cost up to four
     * recoveries per signature (the KMS signs on every {@code GetAppKey}).
     */
    public RecoverableSignature signHash(byte[] hash) throws RaException {
        Bytes.requireLength(hash, 32, "hash");
        BigInteger n = Curves.K256.getN();
        BigInteger d = new BigInteger(1, scalar);
        BigInteger e = new BigInteger(1, hash);       // a 256-bit hash for a 256-bit order: no truncation
        HMacDSAKCalculator nonces = new HMacDSAKCalculator(new SHA256Digest());
        nonces.init(n, d, hash);
        while (true) {
            BigInteger k = nonces.nextK();
            ECPoint big = Curves.K256.getG().multiply(k).normalize();
            BigInteger x = big.getAffineXCoord().toBigInteger();
            BigInteger r = x.mod(n);
            if (r.signum() == 0) {
                continue;
            }
            BigInteger s = k.modInverse(n).multiply(e.add(d.multiply(r))).mod(n);
            if (s.signum() == 0) {
                continue;
            }
            int recid = (big.getAffineYCoord().toBigInteger().testBit(0) ? 1 : 0) | (x.compareTo(n) >= 0 ? 2 : 0);
            if (s.compareTo(Curves.K256_HALF_N) > 0) {
                s = n.subtract(s);
                recid ^= 1;
            }
            return RecoverableSignature.of(r, s, recid);
        }
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
