package dev.atlas.dstack.gateway.ct;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.bouncycastle.asn1.ASN1InputStream;
import org.bouncycastle.asn1.ASN1Primitive;
import org.bouncycastle.asn1.x509.Certificate;

/**
 * The key of a certificate crt.sh serves ({@code ?d=<id>}): exactly one PEM {@code CERTIFICATE} block (text around
 * it is allowed, as crt.sh sends only the block), strict base64, one complete DER X.509 certificate with no bytes
 * after it; the result is its DER {@code SubjectPublicKeyInfo} exactly as encoded in the certificate (dstack's
 * monitor compares {@code x509-parser}'s raw {@code public_key()} bytes the same way).
 */
final class CertificateKey {
    /** Largest PEM accepted (bytes). */
    static final int MAX_PEM_BYTES = 64 * 1024;
    private static final String BEGIN = "-----BEGIN CERTIFICATE-----";
    private static final String END = "-----END CERTIFICATE-----";

    private CertificateKey() {
    }

    /** The DER SPKI of the one certificate in {@code pem}; {@code where} names the source in messages. */
    static byte[] spkiFromPem(byte[] pem, String where) throws RaException {
        if (pem.length > MAX_PEM_BYTES) {
            throw bad(where, "exceeds " + MAX_PEM_BYTES + " bytes (" + pem.length + ")");
        }
        String text = new String(pem, StandardCharsets.US_ASCII);
        int b = text.indexOf(BEGIN);
        if (b < 0) {
            throw bad(where, "has no " + BEGIN + " line");
        }
        int e = text.indexOf(END, b);
        if (e < 0) {
            throw bad(where, "has no " + END + " line");
        }
        if (text.indexOf(BEGIN, b + 1) >= 0) {
            throw bad(where, "holds more than one certificate");
        }
        String body = text.substring(b + BEGIN.length(), e).replaceAll("[\\r\\n\\t ]", "");
        byte[] der;
        try {
            der = Base64.getDecoder().decode(body);
        } catch (IllegalArgumentException ex) {
            throw bad(where, "is not valid base64 (" + ex.getMessage() + ")");
        }
        return spkiFromDer(der, where);
    }

    /** The DER SPKI of one DER certificate (no trailing bytes). */
    static byte[] spkiFromDer(byte[] der, String where) throws RaException {
        try (ASN1InputStream in = new ASN1InputStream(der, true)) {
            ASN1Primitive obj = in.readObject();
            if (obj == null) {
                throw bad(where, "holds an empty certificate");
            }
            if (in.available() > 0 || in.readObject() != null) {
                throw bad(where, "has bytes after the certificate");
            }
            Certificate c = Certificate.getInstance(obj);
            return c.getSubjectPublicKeyInfo().getEncoded("DER");
        } catch (IOException | RuntimeException ex) {
            throw bad(where, "is not an X.509 certificate (" + ex.getClass().getSimpleName() + ")");
        }
    }

    private static RaException bad(String where, String what) {
        return new RaException(Reason.CT_SOURCE_MALFORMED, "certificate", "certificate from " + where + " " + what);
    }
}
