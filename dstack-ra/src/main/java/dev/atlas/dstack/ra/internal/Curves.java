package dev.atlas.dstack.ra.internal;

import java.math.BigInteger;
import org.bouncycastle.asn1.x9.X9ECParameters;
import org.bouncycastle.crypto.ec.CustomNamedCurves;
import org.bouncycastle.crypto.params.ECDomainParameters;

/** Bouncy Castle's curve parameters for secp256k1 and P-256. */
public final class Curves {
    private Curves() {}

    public static final X9ECParameters K256_X9 = CustomNamedCurves.getByName("secp256k1");
    public static final ECDomainParameters K256 = new ECDomainParameters(
            K256_X9.getCurve(), K256_X9.getG(), K256_X9.getN(), K256_X9.getH());
    public static final BigInteger K256_HALF_N = K256.getN().shiftRight(1);

    public static final X9ECParameters P256_X9 = CustomNamedCurves.getByName("secp256r1");
    public static final ECDomainParameters P256 = new ECDomainParameters(
            P256_X9.getCurve(), P256_X9.getG(), P256_X9.getN(), P256_X9.getH());

    /** True when {@code 0 < d < n}. */
    public static boolean inRange(BigInteger d, BigInteger n) {
        return d.signum() > 0 && d.compareTo(n) < 0;
    }
}
