package dev.atlas.dstack.ra;

import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.internal.Bytes;
import dev.atlas.dstack.ra.internal.Curves;
import dev.atlas.dstack.ra.internal.Hashes;
import java.math.BigInteger;
import java.security.MessageDigest;
import org.bouncycastle.math.ec.ECAlgorithms;
import org.bouncycastle.math.ec.ECPoint;

/**
 * Recovery and verification of secp256k1 signatures over Keccak-256 hashes (§2.5). Recovery is written
 * here on Bouncy Castle's point arithmetic: {@code R = lift(r + j·n, parity)},
 * {@code Q = r⁻¹·(s·R − e·G)}.
 */
public final class Secp256k1 {
    private Secp256k1() {}

    /** Keccak-256 (the pre-standard padding Ethereum uses, not SHA3-256) of the concatenated parts. */
    public static byte[] keccak256(byte[]... parts) {
        return Hashes.keccak256(parts);
    }

    /** The compressed (33-byte) public key that signed {@code hash}. */
    public static byte[] recover(byte[] hash, RecoverableSignature sig) throws RaException {
        Bytes.requireLength(hash, 32, "hash");
        BigInteger n = Curves.K256.getN();
        BigInteger r = sig.r();
        BigInteger s = sig.s();
        int recid = sig.recoveryId();
        BigInteger x = r.add(n.multiply(BigInteger.valueOf(recid >> 1)));
        BigInteger p = Curves.K256.getCurve().getField().getCharacteristic();
        if (x.compareTo(p) >= 0) {
            throw new RaException(Reason.SIGNATURE_RECOVERY_FAILED, "signature", "r + j·n is not below p");
        }
        ECPoint bigR;
        try {
            byte[] enc = new byte[33];
            enc[0] = (byte) ((recid & 1) == 0 ? 0x02 : 0x03);
            System.arraycopy(Bytes.fixed(x, 32), 0, enc, 1, 32);
            bigR = Curves.K256.getCurve().decodePoint(enc);
        } catch (IllegalArgumentException e) {
            throw new RaException(Reason.SIGNATURE_RECOVERY_FAILED, "signature", "r is not the x coordinate of a point");
        }
        BigInteger e = new BigInteger(1, hash);
        BigInteger rInv = r.modInverse(n);
        BigInteger u1 = e.negate().mod(n).multiply(rInv).mod(n);
        BigInteger u2 = s.multiply(rInv).mod(n);
        ECPoint q = ECAlgorithms.sumOfTwoMultiplies(Curves.K256.getG(), u1, bigR, u2).normalize();
        if (q.isInfinity()) {
            throw new RaException(Reason.SIGNATURE_RECOVERY_FAILED, "signature", "recovers to the point at infinity");
        }
        return q.getEncoded(true);
    }

    /** Keccak-256 of {@code message}, then {@link #recover(byte[], RecoverableSignature)}. */
    public static byte[] recoverMessage(byte[] message, RecoverableSignature sig) throws RaException {
        return recover(keccak256(message), sig);
    }

    /**
     * Checks that {@code sig} over {@code hash} recovers to {@code expectedPublicKey} (compressed or
     * uncompressed SEC1; compared in compressed form as dstack's verifiers do).
     */
    public static void verify(byte[] hash, RecoverableSignature sig, byte[] expectedPublicKey) throws RaException {
        byte[] expected = compress(expectedPublicKey);
        byte[] got = recover(hash, sig);
        if (!MessageDigest.isEqual(expected, got)) {
            throw new RaException(Reason.SIGNER_MISMATCH, "signature",
                    "recovers to " + Bytes.HEX.formatHex(got) + ", expected " + Bytes.HEX.formatHex(expected));
        }
    }

    /** The compressed form of a SEC1 secp256k1 public key (33 or 65 bytes); rejects points off the curve. */
    public static byte[] compress(byte[] publicKey) throws RaException {
        try {
            ECPoint q = Curves.K256.getCurve().decodePoint(publicKey);
            if (q.isInfinity()) {
                throw new IllegalArgumentException("infinity");
            }
            return q.getEncoded(true);
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new RaException(Reason.INVALID_ARGUMENT, "public key", "not a secp256k1 point");
        }
    }
}
