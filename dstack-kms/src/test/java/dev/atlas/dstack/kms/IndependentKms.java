package dev.atlas.dstack.kms;

import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Arrays;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.bouncycastle.asn1.x9.X9ECParameters;
import org.bouncycastle.crypto.digests.KeccakDigest;
import org.bouncycastle.crypto.ec.CustomNamedCurves;
import org.bouncycastle.math.ec.ECPoint;

/**
 * A test-only, independent implementation of the KMS key derivations of spec §2.4/§2.5, written from the spec
 * with raw primitives (JDK HMAC-SHA256 for HKDF and RFC 6979, JDK SHA-256, Bouncy Castle only for curve points
 * and Keccak-256). It does not call dstack-ra's {@code KeyDerivation}, {@code KmsSignatures} or key classes, so
 * that a bug there cannot hide behind the same bug here. Scalars are {@link BigInteger}s.
 */
public final class IndependentKms {
    public static final X9ECParameters P256 = CustomNamedCurves.getByName("secp256r1");
    public static final X9ECParameters K256 = CustomNamedCurves.getByName("secp256k1");
    private static final byte[] SALT = "RATLS".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    private IndependentKms() {}

    /** HKDF-SHA256 (RFC 5869), salt "RATLS", info = the concatenated contexts. */
    public static byte[] hkdf(byte[] ikm, int length, byte[]... context) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(SALT, "HmacSHA256"));
            byte[] prk = mac.doFinal(ikm);
            mac.init(new SecretKeySpec(prk, "HmacSHA256"));
            byte[] out = new byte[length];
            byte[] t = new byte[0];
            int pos = 0;
            for (int i = 1; pos < length; i++) {
                mac.update(t);
                for (byte[] c : context) {
                    mac.update(c);
                }
                mac.update((byte) i);
                t = mac.doFinal();
                int n = Math.min(t.length, length - pos);
                System.arraycopy(t, 0, out, pos, n);
                pos += n;
            }
            return out;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    static byte[] be32(BigInteger x) {
        byte[] b = x.toByteArray();
        if (b.length == 32) {
            return b;
        }
        byte[] out = new byte[32];
        if (b.length > 32) {
            System.arraycopy(b, b.length - 32, out, 0, 32);
        } else {
            System.arraycopy(b, 0, out, 32 - b.length, b.length);
        }
        return out;
    }

    static BigInteger scalar(byte[] d, X9ECParameters curve) {
        BigInteger x = new BigInteger(1, d);
        if (x.signum() == 0 || x.compareTo(curve.getN()) >= 0) {
            throw new IllegalArgumentException("derived scalar out of range");
        }
        return x;
    }

    /** deriveP256: HKDF of the parent's 32-byte big-endian scalar; 0 &lt; d &lt; n or failure. */
    public static BigInteger deriveP256(BigInteger parent, byte[]... context) {
        return scalar(hkdf(be32(parent), 32, context), P256);
    }

    /** The 138-byte PKCS#8 DER of §2.4, built byte by byte. */
    public static byte[] pkcs8(BigInteger d) {
        ECPoint q = P256.getG().multiply(d).normalize();
        byte[] head = java.util.HexFormat.of().parseHex(
                "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420");
        byte[] mid = java.util.HexFormat.of().parseHex("a144034200");
        byte[] out = new byte[138];
        int p = 0;
        System.arraycopy(head, 0, out, p, head.length);
        p += head.length;
        System.arraycopy(be32(d), 0, out, p, 32);
        p += 32;
        System.arraycopy(mid, 0, out, p, mid.length);
        p += mid.length;
        out[p++] = 0x04;
        System.arraycopy(be32(q.getAffineXCoord().toBigInteger()), 0, out, p, 32);
        p += 32;
        System.arraycopy(be32(q.getAffineYCoord().toBigInteger()), 0, out, p, 32);
        p += 32;
        if (p != 138) {
            throw new IllegalStateException("template length " + p);
        }
        return out;
    }

    /** deriveDhSecret: SHA-256 of the PKCS#8 DER of deriveP256. */
    public static byte[] deriveDhSecret(BigInteger parent, byte[]... context) {
        return sha256(pkcs8(deriveP256(parent, context)));
    }

    public static byte[] diskKey(BigInteger rootCa, byte[] appId, byte[] instanceId) {
        return deriveDhSecret(rootCa, appId, instanceId, ascii("app-disk-crypt-key"));
    }

    public static byte[] envKey(BigInteger rootCa, byte[] appId) {
        return deriveDhSecret(rootCa, appId, ascii("env-encrypt-key"));
    }

    public static BigInteger appCaKey(BigInteger rootCa, byte[] appId) {
        return deriveP256(rootCa, appId, ascii("app-ca"));
    }

    public static BigInteger appK256(BigInteger rootK256, byte[] appId) {
        return scalar(hkdf(be32(rootK256), 32, appId, ascii("app-key")), K256);
    }

    /** Compressed SEC1 public key of a secp256k1 scalar. */
    public static byte[] k256Public(BigInteger d) {
        return K256.getG().multiply(d).normalize().getEncoded(true);
    }

    /** Uncompressed SEC1 public key of a P-256 scalar. */
    public static byte[] p256Public(BigInteger d) {
        return P256.getG().multiply(d).normalize().getEncoded(false);
    }

    /** k256_signature: the root key's recoverable signature over Keccak256("dstack-kms-issued:" ‖ app_id ‖ pub33). */
    public static byte[] k256Signature(BigInteger rootK256, byte[] appId) {
        byte[] pub = k256Public(appK256(rootK256, appId));
        return sign(rootK256, keccak(ascii("dstack-kms-issued"), ascii(":"), appId, pub));
    }

    public static byte[] keccak(byte[]... parts) {
        KeccakDigest k = new KeccakDigest(256);
        for (byte[] p : parts) {
            k.update(p, 0, p.length);
        }
        byte[] out = new byte[32];
        k.doFinal(out, 0);
        return out;
    }

    /** ECDSA secp256k1 over a 32-byte hash, RFC 6979 nonce (HMAC-SHA256), low-S, r ‖ s ‖ recid. */
    public static byte[] sign(BigInteger d, byte[] hash) {
        BigInteger n = K256.getN();
        BigInteger z = new BigInteger(1, hash).mod(n);
        for (byte[] kb : rfc6979(d, be32(z))) {
            BigInteger k = new BigInteger(1, kb);
            if (k.signum() == 0 || k.compareTo(n) >= 0) {
                continue;
            }
            ECPoint r = K256.getG().multiply(k).normalize();
            BigInteger rx = r.getAffineXCoord().toBigInteger();
            BigInteger rr = rx.mod(n);
            if (rr.signum() == 0) {
                continue;
            }
            BigInteger s = k.modInverse(n).multiply(z.add(rr.multiply(d))).mod(n);
            if (s.signum() == 0) {
                continue;
            }
            int recid = r.getAffineYCoord().toBigInteger().testBit(0) ? 1 : 0;
            if (rx.compareTo(n) >= 0) {
                recid |= 2;
            }
            if (s.compareTo(n.shiftRight(1)) > 0) {
                s = n.subtract(s);
                recid ^= 1;
            }
            byte[] out = new byte[65];
            System.arraycopy(be32(rr), 0, out, 0, 32);
            System.arraycopy(be32(s), 0, out, 32, 32);
            out[64] = (byte) recid;
            return out;
        }
        throw new IllegalStateException("no nonce");
    }

    /** RFC 6979 §3.2 candidates (first few) for qlen = 256 with HMAC-SHA256. */
    private static Iterable<byte[]> rfc6979(BigInteger d, byte[] h1) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            byte[] x = be32(d);
            byte[] v = new byte[32];
            Arrays.fill(v, (byte) 1);
            byte[] k = new byte[32];
            k = hmac(mac, k, v, new byte[] {0}, x, h1);
            v = hmac(mac, k, v);
            k = hmac(mac, k, v, new byte[] {1}, x, h1);
            v = hmac(mac, k, v);
            java.util.List<byte[]> out = new java.util.ArrayList<>();
            for (int i = 0; i < 4; i++) {
                v = hmac(mac, k, v);
                out.add(v.clone());
                k = hmac(mac, k, v, new byte[] {0});
                v = hmac(mac, k, v);
            }
            return out;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] hmac(Mac mac, byte[] key, byte[]... parts) throws GeneralSecurityException {
        mac.init(new SecretKeySpec(key, "HmacSHA256"));
        for (byte[] p : parts) {
            mac.update(p);
        }
        return mac.doFinal();
    }

    /** Recovers the compressed public key from r ‖ s ‖ recid over hash (SEC 1 §4.1.6). */
    public static byte[] recover(byte[] sig, byte[] hash) {
        BigInteger n = K256.getN();
        BigInteger r = new BigInteger(1, Arrays.copyOfRange(sig, 0, 32));
        BigInteger s = new BigInteger(1, Arrays.copyOfRange(sig, 32, 64));
        int recid = sig[64];
        BigInteger x = (recid & 2) != 0 ? r.add(n) : r;
        byte[] enc = new byte[33];
        enc[0] = (byte) ((recid & 1) != 0 ? 3 : 2);
        System.arraycopy(be32(x), 0, enc, 1, 32);
        ECPoint rp = K256.getCurve().decodePoint(enc);
        BigInteger z = new BigInteger(1, hash).mod(n);
        BigInteger rInv = r.modInverse(n);
        ECPoint q = rp.multiply(s).subtract(K256.getG().multiply(z)).multiply(rInv).normalize();
        return q.getEncoded(true);
    }

    /** X25519 public key of the env key (clamped on use, as x25519-dalek does). */
    public static byte[] x25519Public(byte[] envKey) {
        byte[] pub = new byte[32];
        org.bouncycastle.math.ec.rfc7748.X25519.scalarMultBase(envKey, 0, pub, 0);
        return pub;
    }

    static byte[] sha256(byte[] b) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(b);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    static byte[] ascii(String s) {
        return s.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    }
}
