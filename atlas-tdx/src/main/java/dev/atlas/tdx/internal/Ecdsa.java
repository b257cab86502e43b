package dev.atlas.tdx.internal;

import java.math.BigInteger;
import java.security.AlgorithmParameters;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.Signature;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.security.spec.ECPoint;
import java.security.spec.ECPublicKeySpec;

/** ECDSA P-256 / SHA-256 over raw {@code r||s} signatures; any exception counts as "invalid". */
public final class Ecdsa {
    private static final ECParameterSpec P256;

    static {
        try {
            AlgorithmParameters p = AlgorithmParameters.getInstance("EC");
            p.init(new ECGenParameterSpec("secp256r1"));
            P256 = p.getParameterSpec(ECParameterSpec.class);
        } catch (GeneralSecurityException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private Ecdsa() {}

    /** Builds a P-256 public key from raw {@code x||y} (64 bytes); null when it is not a valid point. */
    public static ECPublicKey p256Key(byte[] xy) {
        if (xy.length != 64) {
            return null;
        }
        try {
            BigInteger x = new BigInteger(1, Bytes.slice(xy, 0, 32));
            BigInteger y = new BigInteger(1, Bytes.slice(xy, 32, 32));
            if (!onCurve(x, y)) {
                return null;
            }
            return (ECPublicKey) KeyFactory.getInstance("EC").generatePublic(new ECPublicKeySpec(new ECPoint(x, y), P256));
        } catch (GeneralSecurityException | RuntimeException e) {
            return null;
        }
    }

    private static boolean onCurve(BigInteger x, BigInteger y) {
        BigInteger p = ((java.security.spec.ECFieldFp) P256.getCurve().getField()).getP();
        if (x.compareTo(p) >= 0 || y.compareTo(p) >= 0) {
            return false;
        }
        BigInteger lhs = y.multiply(y).mod(p);
        BigInteger rhs = x.pow(3).add(P256.getCurve().getA().multiply(x)).add(P256.getCurve().getB()).mod(p);
        return lhs.equals(rhs);
    }

    /** Verifies a raw {@code r||s} ECDSA-P256-SHA256 signature. Never throws. */
    public static boolean verifyP1363(PublicKey key, byte[] data, int off, int len, byte[] rs) {
        if (key == null || rs == null || rs.length != 64) {
            return false;
        }
        try {
            Signature s = Signature.getInstance("SHA256withECDSAinP1363Format");
            s.initVerify(key);
            s.update(data, off, len);
            return s.verify(rs);
        } catch (GeneralSecurityException | RuntimeException e) {
            return false;
        }
    }

    /** Same as {@link #verifyP1363(PublicKey, byte[], int, int, byte[])}, remembering successes in {@code memo}. */
    public static boolean verifyP1363(SignatureMemo memo, PublicKey key, byte[] data, int off, int len, byte[] rs) {
        if (key == null || rs == null) {
            return false;
        }
        byte[] d = (off == 0 && len == data.length) ? data : Bytes.slice(data, off, len);
        SignatureMemo.Key k = SignatureMemo.key("p1363", key, d, rs);
        if (memo.contains(k)) {
            return true;
        }
        boolean ok = verifyP1363(key, d, 0, d.length, rs);
        if (ok) {
            memo.remember(k);
        }
        return ok;
    }
}
