package dev.atlas.dstack.kms.internal;

import dev.atlas.dstack.ra.K256PrivateKey;
import dev.atlas.dstack.ra.P256PrivateKey;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;

import java.io.ByteArrayInputStream;
import java.security.SecureRandom;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;

/** Key generation and PEM certificate parsing for the KMS's keys and certificates. */
public final class KmsKeys {
    private KmsKeys() {
    }

    /** A fresh P-256 key (rejection sampling of 32 random bytes into {@code [1, n-1]}). */
    public static P256PrivateKey newP256(SecureRandom random) {
        byte[] s = new byte[32];
        try {
            while (true) {
                random.nextBytes(s);
                try {
                    return P256PrivateKey.fromScalar(s);
                } catch (RaException e) {
                    // out of range: draw again (probability about 2^-32)
                }
            }
        } finally {
            Arrays.fill(s, (byte) 0);
        }
    }

    /** A fresh secp256k1 key. */
    public static K256PrivateKey newK256(SecureRandom random) {
        byte[] s = new byte[32];
        try {
            while (true) {
                random.nextBytes(s);
                try {
                    return K256PrivateKey.fromScalar(s);
                } catch (RaException e) {
                    // out of range: draw again
                }
            }
        } finally {
            Arrays.fill(s, (byte) 0);
        }
    }

    /**
     * Every certificate of a PEM text, in order.
     *
     * @throws RaException {@code CERT_MALFORMED} when there is none or one does not parse
     */
    public static List<X509Certificate> parseCertsPem(String pem, String field) throws RaException {
        List<X509Certificate> out = new ArrayList<>();
        String begin = "-----BEGIN CERTIFICATE-----";
        String end = "-----END CERTIFICATE-----";
        int at = 0;
        try {
            CertificateFactory cf = CertificateFactory.getInstance("X.509");
            while (true) {
                int b = pem.indexOf(begin, at);
                if (b < 0) {
                    break;
                }
                int e = pem.indexOf(end, b);
                if (e < 0) {
                    throw new RaException(Reason.CERT_MALFORMED, field, "PEM certificate without its END line");
                }
                byte[] der;
                try {
                    der = Base64.getMimeDecoder().decode(pem.substring(b + begin.length(), e));
                } catch (IllegalArgumentException x) {
                    throw new RaException(Reason.CERT_MALFORMED, field, "PEM certificate is not base64");
                }
                out.add((X509Certificate) cf.generateCertificate(new ByteArrayInputStream(der)));
                at = e + end.length();
            }
        } catch (CertificateException e) {
            throw new RaException(Reason.CERT_MALFORMED, field, "not an X.509 certificate");
        }
        if (out.isEmpty()) {
            throw new RaException(Reason.CERT_MALFORMED, field, "no PEM certificate");
        }
        return out;
    }
}
