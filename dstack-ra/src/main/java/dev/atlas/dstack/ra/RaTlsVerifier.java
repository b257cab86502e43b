package dev.atlas.dstack.ra;

import dev.atlas.dstack.Appraiser;
import dev.atlas.dstack.AttestationReport;
import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.tdx.AttestationException;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import javax.security.auth.x500.X500Principal;

/**
 * Verifies a dstack RA-TLS certificate chain: the chain up to a trusted CA (identified by its key and subject DN,
 * never by a pinned certificate: a KMS replica re-creates its CA certificates with the same key and DN), the
 * validity of every certificate at the given instant, the special usage, and the attestation of the leaf through
 * a {@link DstackTdxVerifier}, bound to the leaf key ({@code report_data = SHA-512("ratls-cert:" ‖ SPKI)}).
 * Thread-safe once built.
 *
 * <p>Order (it decides which failure is reported): chain shape → each link (issuer DN = next subject DN, signature
 * by the next key) → trust anchor → CA constraints of the issuers (CA flag, keyCertSign, path length) → validity
 * of each certificate → leaf extensions → usage → attestation present → binding → attestation runtime events
 * equal to the log's RTMR3 entries → {@link DstackTdxVerifier} (integrity; then the appraiser when given). The
 * attestation in a certificate is dstack's stripped form, so only RTMR3 is replayed against the quote; the
 * appraiser checks MRTD and RTMR0-2 from the quote.
 *
 * <p>Failures are {@link RaException}s ({@code CERT_CHAIN_INVALID}, {@code CERT_UNTRUSTED_ISSUER},
 * {@code CERT_NOT_A_CA}, {@code CERT_EXPIRED}, {@code CERT_NOT_YET_VALID}, {@code CERT_USAGE_MISMATCH},
 * {@code CERT_EXTENSION_MISSING}, {@code CERT_EXTENSION_MALFORMED}, {@code RATLS_BINDING_MISMATCH}), or the
 * {@link AttestationException} of {@link DstackTdxVerifier} and the appraiser with their own reasons.
 */
public final class RaTlsVerifier {
    /** Longest chain accepted (ours: dstack's is leaf, app CA, root CA). */
    public static final int MAX_CHAIN_LENGTH = 8;

    private final PublicKey caKey;
    private final X500Principal caName;
    private final DstackTdxVerifier dstackVerifier;
    private final Appraiser appraiser;
    private final String usage;
    private final boolean attestationRequired;
    private final boolean skipAttestation;

    private RaTlsVerifier(Builder b) {
        this.caKey = b.caKey;
        this.caName = b.caName;
        this.dstackVerifier = b.dstackVerifier;
        this.appraiser = b.appraiser;
        this.usage = b.usage;
        this.attestationRequired = b.attestationRequired;
        this.skipAttestation = b.skipAttestation;
    }

    /** Whether this verifier was built with {@link Builder#insecureSkipAttestation()}. */
    public boolean skipsAttestation() {
        return skipAttestation;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** What a successful verification found. */
    public static final class Result {
        private final RaTlsCertificate leaf;
        private final AttestationReport report;

        private Result(RaTlsCertificate leaf, AttestationReport report) {
            this.leaf = leaf;
            this.report = report;
        }

        /** The parsed leaf certificate. */
        public RaTlsCertificate leaf() {
            return leaf;
        }

        /** The leaf's special usage. */
        public Optional<String> usage() {
            return leaf.usage();
        }

        /** The leaf's app id extension: an issuer claim, authenticated by the chain. */
        public Optional<byte[]> appId() {
            return leaf.appId();
        }

        /** The leaf's app info extension: an issuer claim, authenticated by the chain. */
        public Optional<AppInfo> appInfo() {
            return leaf.appInfo();
        }

        /** The verified (and, with an appraiser, appraised) attestation; empty only when it was optional. */
        public Optional<AttestationReport> report() {
            return Optional.ofNullable(report);
        }

        @Override
        public String toString() {
            return "RaTlsVerifier.Result[" + leaf + ", report=" + (report != null) + "]";
        }
    }

    /**
     * Verifies {@code chain} (leaf first, each certificate issued by the next; the last is issued by the trusted
     * CA, or is a certificate of the trusted CA itself) at {@code now}.
     *
     * @throws AttestationException the first failed check (see the class comment)
     */
    public Result verify(List<X509Certificate> chain, Instant now) throws AttestationException {
        Objects.requireNonNull(chain, "chain");
        Objects.requireNonNull(now, "now");
        if (chain.isEmpty() || chain.size() > MAX_CHAIN_LENGTH) {
            throw new RaException(Reason.CERT_CHAIN_INVALID, "chain", "has " + chain.size()
                    + " certificates; expected 1.." + MAX_CHAIN_LENGTH);
        }
        for (X509Certificate c : chain) {
            Objects.requireNonNull(c, "chain element");
        }
        // Links: chain[i] is issued by chain[i+1].
        for (int i = 0; i + 1 < chain.size(); i++) {
            X509Certificate c = chain.get(i);
            X509Certificate issuer = chain.get(i + 1);
            if (!c.getIssuerX500Principal().equals(issuer.getSubjectX500Principal())) {
                throw new RaException(Reason.CERT_CHAIN_INVALID, "chain[" + i + "].issuer", "is "
                        + c.getIssuerX500Principal().getName() + ", but chain[" + (i + 1) + "].subject is "
                        + issuer.getSubjectX500Principal().getName() + " (chain out of order?)");
            }
            if (!signedBy(c, issuer.getPublicKey())) {
                throw new RaException(Reason.CERT_CHAIN_INVALID, "chain[" + i + "].signature",
                        "does not verify with the key of chain[" + (i + 1) + "] (" + issuer.getSubjectX500Principal()
                        .getName() + ")");
            }
        }
        // Anchor: by key and DN, never by certificate.
        int last = chain.size() - 1;
        X509Certificate top = chain.get(last);
        boolean topIsCa = top.getSubjectX500Principal().equals(caName)
                && Arrays.equals(top.getPublicKey().getEncoded(), caKey.getEncoded());
        if (!topIsCa) {
            if (!top.getIssuerX500Principal().equals(caName)) {
                throw new RaException(Reason.CERT_UNTRUSTED_ISSUER, "chain[" + last + "].issuer", "is "
                        + top.getIssuerX500Principal().getName() + ", expected the trusted CA " + caName.getName());
            }
            if (!signedBy(top, caKey)) {
                throw new RaException(Reason.CERT_UNTRUSTED_ISSUER, "chain[" + last + "].signature",
                        "does not verify with the trusted CA key (same DN " + caName.getName() + ", another key)");
            }
        } else if (last == 0) {
            throw new RaException(Reason.CERT_CHAIN_INVALID, "chain[0]", "is the trusted CA itself, not a leaf");
        } else if (!signedBy(top, caKey)) {
            // A certificate of the trusted CA (any serial and dates) must at least be signed by the CA key, so
            // that its constraints are the CA's own.
            throw new RaException(Reason.CERT_UNTRUSTED_ISSUER, "chain[" + last + "].signature",
                    "the certificate with the trusted CA's key and DN is not self-signed by that key");
        }
        // CA constraints of the issuers in the chain.
        for (int j = 1; j < chain.size(); j++) {
            X509Certificate ca = chain.get(j);
            int pathLen = ca.getBasicConstraints();
            if (pathLen < 0) {
                throw new RaException(Reason.CERT_NOT_A_CA, "chain[" + j + "].basicConstraints",
                        "issues chain[" + (j - 1) + "] but is not a CA");
            }
            boolean[] ku = ca.getKeyUsage();
            if (ku != null && (ku.length < 6 || !ku[5])) {
                throw new RaException(Reason.CERT_NOT_A_CA, "chain[" + j + "].keyUsage",
                        "issues chain[" + (j - 1) + "] without keyCertSign");
            }
            if (j - 1 > pathLen) {
                throw new RaException(Reason.CERT_NOT_A_CA, "chain[" + j + "].basicConstraints.pathLen",
                        "is " + pathLen + ", but " + (j - 1) + " CA certificates follow it");
            }
        }
        // Validity at now.
        for (int i = 0; i < chain.size(); i++) {
            X509Certificate c = chain.get(i);
            Instant nb = c.getNotBefore().toInstant();
            Instant na = c.getNotAfter().toInstant();
            if (now.isBefore(nb)) {
                throw new RaException(Reason.CERT_NOT_YET_VALID, "chain[" + i + "].notBefore",
                        nb + " is after now " + now);
            }
            if (now.isAfter(na)) {
                throw new RaException(Reason.CERT_EXPIRED, "chain[" + i + "].notAfter", na + " is before now " + now);
            }
        }
        RaTlsCertificate leaf = RaTlsCertificate.parse(chain.get(0));
        if (usage != null) {
            String actual = leaf.usage().orElse(null);
            if (!usage.equals(actual)) {
                throw new RaException(Reason.CERT_USAGE_MISMATCH, "extension " + RaTlsCertificate.OID_CERT_USAGE
                        + " (usage)", "expected " + usage + ", got " + (actual == null ? "none" : actual));
            }
        }
        if (skipAttestation) {
            return new Result(leaf, null);
        }
        Optional<VersionedAttestation> att = leaf.versionedAttestation();
        if (att.isEmpty()) {
            if (attestationRequired) {
                throw new RaException(Reason.CERT_EXTENSION_MISSING, "extension " + RaTlsCertificate.OID_ATTESTATION
                        + " (attestation)", "the leaf carries no attestation (neither .8 nor legacy .1/.2)");
            }
            return new Result(leaf, null);
        }
        return new Result(leaf, verifyAttestation(att.get(), chain.get(0).getPublicKey(), now));
    }

    private AttestationReport verifyAttestation(VersionedAttestation a, PublicKey key, Instant now)
            throws AttestationException {
        byte[] expected = RaTlsCertificate.reportData(key);
        if (!MessageDigest.isEqual(expected, a.reportData())) {
            // Binding values are not printed.
            throw new RaException(Reason.RATLS_BINDING_MISMATCH, "attestation.report_data",
                    "is not SHA-512(\"ratls-cert:\" || SPKI) of the certificate key: the attestation belongs to"
                    + " another key");
        }
        DstackTdxVerifier.Evidence evidence = a.evidence(expected);
        return appraiser != null ? dstackVerifier.verify(evidence, appraiser, now) : dstackVerifier.verify(evidence,
                now);
    }

    private static boolean signedBy(X509Certificate c, PublicKey key) {
        try {
            c.verify(key);
            return true;
        } catch (GeneralSecurityException | RuntimeException e) {
            return false;
        }
    }

    /** Builder: a trusted CA, a {@link DstackTdxVerifier} and a usage choice are required. */
    public static final class Builder {
        private PublicKey caKey;
        private X500Principal caName;
        private DstackTdxVerifier dstackVerifier;
        private Appraiser appraiser;
        private String usage;
        private boolean usageChosen;
        private boolean attestationRequired = true;
        private boolean skipAttestation;

        private Builder() {}

        /** Trust the CA of this certificate: its key and subject DN (the certificate itself is not pinned). */
        public Builder trustedCa(X509Certificate ca) {
            return trustedCa(ca.getPublicKey(), ca.getSubjectX500Principal());
        }

        /** Trust the CA with this key and subject DN. */
        public Builder trustedCa(PublicKey key, X500Principal subject) {
            this.caKey = Objects.requireNonNull(key, "key");
            this.caName = Objects.requireNonNull(subject, "subject");
            return this;
        }

        /** Verifies the leaf's attestation (integrity: DCAP, report data, RTMR3). */
        public Builder dstackVerifier(DstackTdxVerifier v) {
            this.dstackVerifier = Objects.requireNonNull(v, "dstackVerifier");
            return this;
        }

        /** Also appraise the attestation (for example a {@code DstackTdxPolicy}); none by default. */
        public Builder appraiser(Appraiser a) {
            this.appraiser = a;
            return this;
        }

        /** The leaf's special usage must be this (e.g. {@value RaTlsCertificate#USAGE_KMS_RPC}). */
        public Builder usage(String expected) {
            this.usage = Objects.requireNonNull(expected, "usage");
            this.usageChosen = true;
            return this;
        }

        /** The leaf's special usage is not checked. */
        public Builder anyUsage() {
            this.usage = null;
            this.usageChosen = true;
            return this;
        }

        /**
         * Whether a leaf without attestation is rejected (default true). KMS-issued app certificates without
         * {@code ext_quote} carry none: their claims are the issuer's, authenticated by the chain alone.
         */
        public Builder attestationRequired(boolean required) {
            this.attestationRequired = required;
            return this;
        }

        /**
         * <b>Insecure</b>: the leaf's attestation is neither required nor verified (the chain, the validity and the
         * usage still are); no {@link DstackTdxVerifier} is needed. For peers that do not attest their certificate,
         * such as a KMS with {@code attest_rpc_cert = false}; the caller should say so at run time.
         */
        public Builder insecureSkipAttestation() {
            this.skipAttestation = true;
            return this;
        }

        /** @throws IllegalStateException without a trusted CA, a dstack verifier, or a usage choice */
        public RaTlsVerifier build() {
            if (caKey == null) {
                throw new IllegalStateException("choose a trusted CA (trustedCa)");
            }
            if (dstackVerifier == null && !skipAttestation) {
                throw new IllegalStateException("choose a DstackTdxVerifier (dstackVerifier)");
            }
            if (!usageChosen) {
                throw new IllegalStateException("choose usage(expected) or anyUsage()");
            }
            return new RaTlsVerifier(this);
        }
    }
}
