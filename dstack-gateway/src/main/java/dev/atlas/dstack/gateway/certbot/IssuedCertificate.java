package dev.atlas.dstack.gateway.certbot;

import dev.atlas.dstack.gateway.certbot.internal.P256;
import dev.atlas.dstack.gateway.certbot.internal.Pem;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.io.ByteArrayInputStream;
import java.security.KeyPair;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * A certificate chain from the ACME server and its private key. {@code keyPem} is secret: not in
 * {@link #toString()}.
 *
 * @param chainPem  leaf first, then the intermediates (PEM)
 * @param keyPem    the leaf's private key (PKCS#8 PEM)
 * @param notBefore the leaf's notBefore
 * @param notAfter  the leaf's notAfter
 * @param domains   the leaf's DNS subject alternative names
 */
public record IssuedCertificate(String chainPem, String keyPem, Instant notBefore, Instant notAfter,
        List<String> domains) {
    public IssuedCertificate {
        Objects.requireNonNull(chainPem, "chainPem");
        Objects.requireNonNull(keyPem, "keyPem");
        Objects.requireNonNull(notBefore, "notBefore");
        Objects.requireNonNull(notAfter, "notAfter");
        domains = List.copyOf(domains);
    }

    /** Bound on a chain or key PEM. */
    public static final int MAX_PEM_CHARS = 256 * 1024;

    /**
     * Parses a chain + key: the chain is one or more X.509 certificates (leaf first), the key a P-256 PKCS#8
     * {@code PRIVATE KEY} whose public key is the leaf's. CERTBOT_STATE_INVALID naming which part is wrong.
     */
    public static IssuedCertificate of(String chainPem, String keyPem) throws RaException {
        List<X509Certificate> chain = chain(chainPem);
        X509Certificate leaf = chain.get(0);
        KeyPair kp = key(keyPem);
        if (!Arrays.equals(kp.getPublic().getEncoded(), leaf.getPublicKey().getEncoded())) {
            throw new RaException(Reason.CERTBOT_STATE_INVALID, "key", "the private key is not the certificate's");
        }
        return new IssuedCertificate(chainPem, keyPem, leaf.getNotBefore().toInstant(), leaf.getNotAfter().toInstant(),
                dnsNames(leaf));
    }

    /** The certificates of {@link #chainPem()}, leaf first. */
    public List<X509Certificate> chain() {
        try {
            return chain(chainPem);
        } catch (RaException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    /** DER SubjectPublicKeyInfo of the leaf's key. */
    public byte[] publicKeySpki() {
        return chain().get(0).getPublicKey().getEncoded();
    }

    /** Parses a PEM chain (leaf first): CERTBOT_STATE_INVALID when empty, oversized or not X.509. */
    public static List<X509Certificate> chain(String pem) throws RaException {
        if (pem == null || pem.length() > MAX_PEM_CHARS) {
            throw new RaException(Reason.CERTBOT_STATE_INVALID, "cert", pem == null ? "missing"
                    : "PEM longer than " + MAX_PEM_CHARS + " characters");
        }
        List<byte[]> ders = Pem.blocks(pem, "CERTIFICATE");
        if (ders == null || ders.isEmpty()) {
            throw new RaException(Reason.CERTBOT_STATE_INVALID, "cert", "no PEM CERTIFICATE block, or a malformed one");
        }
        List<X509Certificate> out = new ArrayList<>();
        try {
            CertificateFactory cf = CertificateFactory.getInstance("X.509");
            for (int i = 0; i < ders.size(); i++) {
                out.add((X509Certificate) cf.generateCertificate(new ByteArrayInputStream(ders.get(i))));
            }
        } catch (CertificateException | RuntimeException e) {
            throw new RaException(Reason.CERTBOT_STATE_INVALID, "cert", "a PEM block is not an X.509 certificate");
        }
        return out;
    }

    private static KeyPair key(String pem) throws RaException {
        if (pem == null || pem.length() > MAX_PEM_CHARS) {
            throw new RaException(Reason.CERTBOT_STATE_INVALID, "key", pem == null ? "missing" : "PEM too long");
        }
        List<byte[]> ders = Pem.blocks(pem, "PRIVATE KEY");
        if (ders == null || ders.size() != 1) {
            throw new RaException(Reason.CERTBOT_STATE_INVALID, "key", "not exactly one PEM PRIVATE KEY (PKCS#8) block");
        }
        String[] why = new String[1];
        KeyPair kp = P256.fromPkcs8(ders.get(0), why);
        if (kp == null) {
            throw new RaException(Reason.CERTBOT_STATE_INVALID, "key", why[0]);
        }
        return kp;
    }

    static List<String> dnsNames(X509Certificate c) throws RaException {
        List<String> out = new ArrayList<>();
        try {
            Collection<List<?>> sans = c.getSubjectAlternativeNames();
            if (sans != null) {
                for (List<?> san : sans) {
                    if (san.size() >= 2 && Integer.valueOf(2).equals(san.get(0)) && san.get(1) instanceof String s) {
                        out.add(s);
                    }
                }
            }
        } catch (CertificateParsingException e) {
            throw new RaException(Reason.CERTBOT_STATE_INVALID, "cert", "unreadable subjectAltName");
        }
        return out;
    }

    @Override
    public String toString() {
        return "IssuedCertificate[domains=" + domains + ", notBefore=" + notBefore + ", notAfter=" + notAfter
                + ", key=<redacted>]";
    }
}
