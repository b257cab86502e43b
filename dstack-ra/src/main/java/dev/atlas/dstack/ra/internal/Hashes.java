package dev.atlas.dstack.ra.internal;

import org.bouncycastle.crypto.Digest;
import org.bouncycastle.crypto.digests.KeccakDigest;
import org.bouncycastle.crypto.digests.SHA256Digest;
import org.bouncycastle.crypto.digests.SHA384Digest;
import org.bouncycastle.crypto.digests.SHA512Digest;
import org.bouncycastle.crypto.generators.HKDFBytesGenerator;
import org.bouncycastle.crypto.params.HKDFParameters;

/** Digests used by dstack (Bouncy Castle's lightweight API: Keccak-256 is not in the JDK). */
public final class Hashes {
    private Hashes() {}

    private static final byte[] RATLS_SALT = {'R', 'A', 'T', 'L', 'S'};

    public static byte[] keccak256(byte[]... parts) {
        return digest(new KeccakDigest(256), parts);
    }

    public static byte[] sha256(byte[]... parts) {
        return digest(new SHA256Digest(), parts);
    }

    public static byte[] sha384(byte[]... parts) {
        return digest(new SHA384Digest(), parts);
    }

    public static byte[] sha512(byte[]... parts) {
        return digest(new SHA512Digest(), parts);
    }

    private static byte[] digest(Digest d, byte[]... parts) {
        for (byte[] p : parts) {
            d.update(p, 0, p.length);
        }
        byte[] out = new byte[d.getDigestSize()];
        d.doFinal(out, 0);
        return out;
    }

    /** HKDF-SHA256, salt {@code "RATLS"}, info = the concatenation of {@code context}. */
    public static byte[] hkdfRatls(byte[] ikm, int length, byte[]... context) {
        HKDFBytesGenerator g = new HKDFBytesGenerator(new SHA256Digest());
        g.init(new HKDFParameters(ikm, RATLS_SALT, Bytes.concat(context)));
        byte[] out = new byte[length];
        g.generateBytes(out, 0, length);
        return out;
    }
}
