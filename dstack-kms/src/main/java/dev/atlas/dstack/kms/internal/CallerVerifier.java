package dev.atlas.dstack.kms.internal;

import dev.atlas.dstack.AttestationReport;
import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.kms.KmsConfig;
import dev.atlas.dstack.ra.AppInfo;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaTlsCertificate;
import dev.atlas.dstack.ra.RaTlsVerifier;
import dev.atlas.dstack.ra.VersionedAttestation;
import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.CollateralSource;
import dev.atlas.tdx.QuoteVerifier;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.time.Clock;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * §2.8, KMS side, steps 1 and 3: who is calling. The RA-TLS client certificate must chain to the temp CA (by key and
 * DN, {@link RaTlsVerifier}); when it carries an attestation ({@code .8}, or legacy {@code .1}+{@code .2}), that
 * attestation is verified by {@link DstackTdxVerifier} (quote, collateral, RTMR3 replay of the runtime events) and
 * its {@code report_data} must be {@code SHA-512("ratls-cert:" ‖ client SPKI)}; then the {@link AppInfo} is decoded
 * with the {@code vm_config} of the request (full replay for {@code GetAppKey}/{@code GetKmsKey}, boot-time for
 * {@code SignCert}). {@code SignCert}'s CSR attestation takes {@link #verifyAttestation} (bound to the CSR key).
 *
 * <p>As upstream ({@code ra-rpc/src/rocket_helper.rs}), the transport step ({@link #verifyTransport}) only verifies
 * what is presented; a missing certificate or attestation is reported by the route that needs one
 * ({@value #NO_ATTESTATION}). Thread-safe.
 */
public final class CallerVerifier {
    /** dstack's text for a call without a client certificate or without an attestation in it. */
    public static final String NO_ATTESTATION = "No attestation provided";

    private final DstackTdxVerifier verifier;

    public CallerVerifier(DstackTdxVerifier verifier) {
        this.verifier = Objects.requireNonNull(verifier, "verifier");
    }

    /** The verifier of quotes, collateral and RTMR3. */
    public DstackTdxVerifier dstackVerifier() {
        return verifier;
    }

    /** An attestation whose evidence verified, before its app info is decoded. */
    public record Verified(VersionedAttestation attestation, AttestationReport report) {
        public Verified {
            Objects.requireNonNull(attestation, "attestation");
            Objects.requireNonNull(report, "report");
        }

        /** {@code decode_app_info_ex(bootTime, vmConfig)} with the verified device id. */
        public VerifiedAttestation decode(boolean bootTime, String vmConfig) throws RaException {
            Objects.requireNonNull(vmConfig, "vmConfig");
            AppInfo info = BootInfos.appInfo(attestation, report, bootTime, vmConfig);
            return new VerifiedAttestation(attestation, report, info, vmConfig);
        }

        @Override
        public String toString() {
            return "CallerVerifier.Verified[tcb=" + report.tcbStatus() + "]";
        }
    }

    /**
     * The transport step: no chain, or a leaf without attestation, is {@link Optional#empty()}; a chain that does
     * not lead to {@code tempCa}, or an attestation that does not verify or is bound to another key, throws.
     *
     * @throws AttestationException {@code CERT_*} reasons for the chain, {@code RATLS_BINDING_MISMATCH} for a relayed
     *     attestation, the verifier's reasons for the evidence
     */
    public Optional<Verified> verifyTransport(Optional<List<X509Certificate>> chain, X509Certificate tempCa,
            Instant now) throws AttestationException {
        Objects.requireNonNull(tempCa, "tempCa");
        Objects.requireNonNull(now, "now");
        if (chain.isEmpty() || chain.get().isEmpty()) {
            return Optional.empty();
        }
        RaTlsVerifier rv = RaTlsVerifier.builder().trustedCa(tempCa).dstackVerifier(verifier).anyUsage()
                .attestationRequired(false).build();
        RaTlsVerifier.Result r = rv.verify(chain.get(), now);
        if (r.report().isEmpty()) {
            return Optional.empty();
        }
        VersionedAttestation att = r.leaf().versionedAttestation().orElseThrow();
        return Optional.of(new Verified(att, r.report().get()));
    }

    /**
     * Steps 1 and 3 at once: the client chain (leaf first) to {@code tempCa}, its attestation, and the app info.
     *
     * @throws RaException {@code ATTESTATION_MISSING} ({@value #NO_ATTESTATION}) without certificate or attestation
     */
    public VerifiedAttestation verifyClientCertificate(List<X509Certificate> chain, X509Certificate tempCa,
            String vmConfig, boolean bootTime, Instant now) throws RaException, AttestationException {
        Optional<Verified> v = verifyTransport(Optional.ofNullable(chain), tempCa, now);
        if (v.isEmpty()) {
            throw new RaException(RaException.Reason.ATTESTATION_MISSING, NO_ATTESTATION);
        }
        return v.get().decode(bootTime, vmConfig);
    }

    /**
     * {@code verify_with_ra_pubkey}: {@code versionedAttestation} (a CSR's) must be bound to {@code boundSpki}
     * ({@code SHA-512("ratls-cert:" ‖ SPKI)}) and verify; then its app info is decoded.
     */
    public VerifiedAttestation verifyAttestation(byte[] versionedAttestation, byte[] boundSpki, String vmConfig,
            boolean bootTime, Instant now) throws RaException, AttestationException {
        byte[] expected = RaTlsCertificate.reportData(RaTlsCertificate.RATLS_CERT_TAG, boundSpki);
        return verifyEvidence(VersionedAttestation.decode(versionedAttestation), expected, now)
                .decode(bootTime, vmConfig);
    }

    /**
     * Verifies an attestation whose {@code report_data} must be exactly {@code expectedReportData} (64 bytes): the
     * KMS's own, taken with zero report data. Only RTMR3 is replayed (the attestation is stripped first, as in a
     * certificate): RTMR0-2 are the quote's signed values, which the OS-image check compares.
     */
    public Verified verifyEvidence(VersionedAttestation a, byte[] expectedReportData, Instant now)
            throws AttestationException {
        Objects.requireNonNull(a, "attestation");
        if (expectedReportData.length != 64) {
            throw new IllegalArgumentException("report data is 64 bytes");
        }
        if (!MessageDigest.isEqual(expectedReportData, a.reportData())) {
            throw new RaException(RaException.Reason.RATLS_BINDING_MISMATCH, "attestation.report_data",
                    "is not bound to the expected key or value: the attestation belongs to another key");
        }
        AttestationReport report = verifier.verify(a.stripped().evidence(expectedReportData), now);
        return new Verified(a, report);
    }

    /** {@link #verifierFrom(KmsConfig, Clock)} with the system clock. */
    public static DstackTdxVerifier verifierFrom(KmsConfig c) throws RaException {
        return verifierFrom(c, Clock.systemUTC());
    }

    /**
     * The verifier of {@code [core.attestation]}: the pinned Intel SGX root CA, unless
     * {@code insecure_allow_external_trust_anchors = true} and {@code root_ca.tdx} names a file (PEM or DER), whose
     * certificate then replaces it (a WARNING naming the setting, at every start); collateral from
     * {@code urls.pccs} through the caching source ({@link CollateralSource#forUrl}, 8 h, only verified collateral
     * is stored).
     *
     * @throws RaException {@code CONFIG_INVALID} for {@code root_ca.tdx} without the insecure flag or a PCCS URL
     *     that is not http(s), {@code CONFIG_FILE_UNREADABLE} for a root CA file that cannot be read or parsed
     */
    public static DstackTdxVerifier verifierFrom(KmsConfig c, Clock clock) throws RaException {
        QuoteVerifier.Builder qv = QuoteVerifier.builder().clock(clock);
        if (c.tdxRootCa().isPresent()) {
            Path p = c.tdxRootCa().get();
            if (!c.insecureAllowExternalTrustAnchors()) {
                throw new RaException(RaException.Reason.CONFIG_INVALID, "core.attestation.root_ca.tdx",
                        "external attestation trust anchors are configured but"
                        + " core.attestation.insecure_allow_external_trust_anchors is false");
            }
            X509Certificate root;
            try (InputStream in = Files.newInputStream(p)) {
                root = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
            } catch (IOException | CertificateException | ClassCastException e) {
                throw new RaException(RaException.Reason.CONFIG_FILE_UNREADABLE, "core.attestation.root_ca.tdx",
                        p + " is not a readable PEM or DER certificate (" + e.getClass().getSimpleName() + ")");
            }
            System.getLogger("dev.atlas.dstack.kms").log(System.Logger.Level.WARNING,
                    "core.attestation.insecure_allow_external_trust_anchors = true: the TDX root CA is " + p
                    + " (" + root.getSubjectX500Principal().getName() + "), not Intel's pinned SGX root CA;"
                    + " attestations prove nothing about genuine Intel hardware. Development and tests only.");
            qv.insecureTrustAnchorForTesting(root);
        }
        CollateralSource collateral;
        try {
            collateral = CollateralSource.forUrl(c.pccsUrl(), true, clock);
        } catch (IllegalArgumentException e) {
            throw new RaException(RaException.Reason.CONFIG_INVALID, "core.attestation.urls.pccs", e.getMessage());
        }
        return DstackTdxVerifier.builder().clock(clock).quoteVerifier(qv.build()).collateralSource(collateral).build();
    }
}
