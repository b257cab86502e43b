package dev.atlas.dstack.gateway.certbot.internal;

import java.io.IOException;
import java.math.BigInteger;
import java.security.AlgorithmParameters;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.security.spec.ECPoint;
import java.security.spec.ECPrivateKeySpec;
import java.security.spec.ECPublicKeySpec;
import java.util.Arrays;
import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.DERBitString;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.sec.SECObjectIdentifiers;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.asn1.x9.ECNamedCurveTable;
import org.bouncycastle.asn1.x9.X9ECParameters;
import org.bouncycastle.asn1.x9.X9ObjectIdentifiers;

/** P-256 keys: generation, and PKCS#8 with the public key embedded (the form ring / instant-acme read and write). */
public final class P256 {
    private static final X9ECParameters X9 = ECNamedCurveTable.getByName("secp256r1");
    private static final ECParameterSpec SPEC;

    static {
        try {
            AlgorithmParameters p = AlgorithmParameters.getInstance("EC");
            p.init(new ECGenParameterSpec("secp256r1"));
            SPEC = p.getParameterSpec(ECParameterSpec.class);
        } catch (GeneralSecurityException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private P256() {
    }

    /** A fresh key pair. */
    public static KeyPair generate() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("no P-256 in this JDK", e);
        }
    }

    /** PKCS#8 v1 DER: id-ecPublicKey + prime256v1, ECPrivateKey with the public key [1]. */
    public static byte[] pkcs8(KeyPair kp) {
        ECPrivateKey priv = (ECPrivateKey) kp.getPrivate();
        ECPublicKey pub = (ECPublicKey) kp.getPublic();
        byte[] point = encodePoint(pub.getW());
        try {
            org.bouncycastle.asn1.sec.ECPrivateKey ec = new org.bouncycastle.asn1.sec.ECPrivateKey(256, priv.getS(),
                    new DERBitString(point), null);
            return new PrivateKeyInfo(new AlgorithmIdentifier(X9ObjectIdentifiers.id_ecPublicKey,
                    SECObjectIdentifiers.secp256r1), ec).getEncoded("DER");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Reads a P-256 PKCS#8 DER; the public key is taken from the encoding and checked against the private key, or
     * derived when absent. Returns null with {@code why[0]} set when it is not one.
     */
    public static KeyPair fromPkcs8(byte[] der, String[] why) {
        try {
            PrivateKeyInfo info = PrivateKeyInfo.getInstance(der);
            if (!Arrays.equals(info.getEncoded("DER"), der)) {
                why[0] = "not DER (trailing or non-canonical bytes)";
                return null;
            }
            AlgorithmIdentifier alg = info.getPrivateKeyAlgorithm();
            ASN1Encodable params = alg.getParameters();
            if (!X9ObjectIdentifiers.id_ecPublicKey.equals(alg.getAlgorithm())
                    || !(params instanceof ASN1ObjectIdentifier oid) || !SECObjectIdentifiers.secp256r1.equals(oid)) {
                why[0] = "not a P-256 EC key";
                return null;
            }
            org.bouncycastle.asn1.sec.ECPrivateKey ec = org.bouncycastle.asn1.sec.ECPrivateKey.getInstance(
                    info.parsePrivateKey());
            BigInteger d = ec.getKey();
            if (d.signum() <= 0 || d.compareTo(X9.getN()) >= 0) {
                why[0] = "private scalar out of range";
                return null;
            }
            org.bouncycastle.math.ec.ECPoint q = X9.getG().multiply(d).normalize();
            byte[] derived = q.getEncoded(false);
            org.bouncycastle.asn1.ASN1BitString embedded = ec.getPublicKey();
            if (embedded != null && !Arrays.equals(embedded.getOctets(), derived)) {
                why[0] = "the embedded public key does not match the private key";
                return null;
            }
            KeyFactory kf = KeyFactory.getInstance("EC");
            ECPoint w = new ECPoint(q.getAffineXCoord().toBigInteger(), q.getAffineYCoord().toBigInteger());
            return new KeyPair(kf.generatePublic(new ECPublicKeySpec(w, SPEC)),
                    kf.generatePrivate(new ECPrivateKeySpec(d, SPEC)));
        } catch (IOException | GeneralSecurityException | RuntimeException e) {
            why[0] = "not a PKCS#8 EC private key (" + e.getClass().getSimpleName() + ")";
            return null;
        }
    }

    /** True when {@code kp} is a P-256 pair. */
    public static boolean isP256(KeyPair kp) {
        return kp.getPublic() instanceof ECPublicKey p && p.getParams().getCurve().equals(SPEC.getCurve())
                && kp.getPrivate() instanceof ECPrivateKey;
    }

    private static byte[] encodePoint(ECPoint w) {
        byte[] out = new byte[65];
        out[0] = 4;
        copy(w.getAffineX(), out, 1);
        copy(w.getAffineY(), out, 33);
        return out;
    }

    private static void copy(BigInteger v, byte[] out, int off) {
        byte[] b = v.toByteArray();
        int n = Math.min(b.length, 32);
        System.arraycopy(b, b.length - n, out, off + 32 - n, n);
    }
}
