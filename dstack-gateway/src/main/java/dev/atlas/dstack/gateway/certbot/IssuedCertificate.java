package dev.atlas.dstack.gateway.certbot;

import dev.atlas.dstack.ra.RaException;
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

    /** Parses a chain + key (checks the key matches the leaf); CERTBOT_STATE_INVALID when they do not parse. */
    public static IssuedCertificate of(String chainPem, String keyPem) throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }

    /** DER SubjectPublicKeyInfo of the leaf's key. */
    public byte[] publicKeySpki() {
        throw new UnsupportedOperationException("skeleton");
    }

    @Override
    public String toString() {
        return "IssuedCertificate[domains=" + domains + ", notBefore=" + notBefore + ", notAfter=" + notAfter
                + ", key=<redacted>]";
    }
}
