package dev.atlas.dstack;

import dev.atlas.dstack.internal.Digests;
import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.AttestationException.Reason;
import dev.atlas.tdx.CollateralSource;
import dev.atlas.tdx.Quote;
import dev.atlas.tdx.QuoteVerifier;
import dev.atlas.tdx.TdReport;
import dev.atlas.tdx.VerifiedReport;
import dev.atlas.tdx.internal.Hex;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Integrity of dstack TDX evidence: is this quote and event log genuine, consistent, and bound to this session
 * and this certificate key? It produces the {@link AttestationReport}; whether the workload is the one wanted is
 * a separate question for an {@link Appraiser} (Atlas's is {@link DstackTdxPolicy}), as JOSE separates verifying
 * a signature from checking the claims. Thread-safe; build once and share.
 *
 * <p>Order (it decides which failure is reported): event log consistency (placement, runtime digests,
 * duplicates, order) → certificate binding → quote decoding (once) → TEE type → collateral and DCAP (through the
 * {@link CollateralSource}, verifying once) → report data → RTMR0-3 replay. {@link #verify(Evidence, Appraiser)}
 * then appraises: for a {@link DstackTdxPolicy}, grace period → allowed TCB status → (unless runtime
 * verification is disabled) MRTD, RTMR0, RTMR1, RTMR2 → compose hash → OS image hash.
 */
public final class DstackTdxVerifier {
    private final QuoteVerifier quoteVerifier;
    private final CollateralSource collateral;
    private final Clock clock;

    private DstackTdxVerifier(Builder b) {
        this.clock = b.clock;
        this.quoteVerifier = b.quoteVerifier != null ? b.quoteVerifier : QuoteVerifier.builder().clock(b.clock).build();
        this.collateral = b.collateral;
    }

    /** A builder; {@link Builder#collateralSource} is required (e.g. {@link CollateralSource#forUrl}). */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Integrity checks at the clock's current instant (read once). The report is not appraised.
     *
     * @throws AttestationException naming the first failed check, with expected and actual values where
     *     there are two
     */
    public AttestationReport verify(Evidence evidence) throws AttestationException {
        return verify(evidence, clock.instant());
    }

    /** Integrity, then {@code appraiser}, both at the clock's current instant (read once). */
    public AttestationReport verify(Evidence evidence, Appraiser appraiser) throws AttestationException {
        return verify(evidence, appraiser, clock.instant());
    }

    /**
     * Integrity, then {@code appraiser}, both at {@code now}.
     *
     * @return the report, marked {@link AttestationReport#appraised() appraised}
     * @throws AttestationException the first failed integrity check, else the appraiser's rejection
     */
    public AttestationReport verify(Evidence evidence, Appraiser appraiser, Instant now) throws AttestationException {
        Objects.requireNonNull(appraiser, "appraiser");
        AttestationReport report = verify(evidence, now);
        appraiser.appraise(report, now);
        return report.appraisedBy(appraiser);
    }

    /**
     * Integrity checks at {@code now}: event log, certificate binding, quote and TEE type, DCAP with the
     * collateral source, report data, RTMR replay. The report is not appraised.
     *
     * @throws AttestationException naming the first failed check, with expected and actual values where
     *     there are two
     */
    public AttestationReport verify(Evidence evidence, Instant now) throws AttestationException {
        Objects.requireNonNull(evidence, "evidence");
        Objects.requireNonNull(now, "now");
        QuoteResponse response = evidence.response;

        // Event log consistency: runtime events on RTMR3 only, sent digests equal to recomputed ones,
        // identity events unique and before system-ready.
        DstackEvents events = response.eventLog().verify();

        // Certificate binding: the last certificate event must name the peer's certificate.
        String certHash = null;
        Optional<RuntimeEvent> certEvent = events.tlsCertificate();
        if (certEvent.isPresent()) {
            certHash = certEvent.get().payloadText().orElse(null);
        }
        if (evidence.peerCertificate != null) {
            String actual = Hex.encode(Digests.sha256(evidence.peerCertificate));
            if (certEvent.isEmpty()) {
                throw new AttestationException(Reason.CERTIFICATE_NOT_IN_EVENT_LOG, DstackEvents.TLS_CERTIFICATE,
                        actual, "<not found in event log>", "certificate not in event log: no `New TLS Certificate`"
                        + " runtime event (peer certificate sha256 " + actual + ")");
            }
            if (certHash == null) {
                throw new AttestationException(Reason.CERTIFICATE_NOT_IN_EVENT_LOG, DstackEvents.TLS_CERTIFICATE,
                        actual, certEvent.get().payloadHex(), "certificate not in event log: the certificate"
                        + " event's payload is not valid UTF-8");
            }
            if (!certHash.equals(actual)) {
                throw new AttestationException(Reason.CERTIFICATE_NOT_IN_EVENT_LOG, DstackEvents.TLS_CERTIFICATE,
                        actual, certHash, "certificate not in event log: peer certificate sha256 " + actual
                        + ", last certificate event " + certHash);
            }
        }

        // Quote decoding (the only parse of this verification) and TEE type.
        Quote quote = Quote.parse(response.quoteUnsafe());
        TdReport td = quote.tdReport();
        if (td == null) {
            throw new AttestationException(Reason.TEE_TYPE_MISMATCH, "TEE type mismatch: the quote carries an SGX"
                    + " enclave report, not a TD report");
        }

        // Collateral and DCAP: the source verifies exactly once and says whether its collateral was cached.
        CollateralSource.Verified verified = collateral.verify(quote, quoteVerifier, now);
        VerifiedReport dcap = verified.report();

        // Session binding.
        if (evidence.expectedReportData != null) {
            byte[] actual = td.reportDataBytes();
            if (!MessageDigest.isEqual(actual, evidence.expectedReportData)) {
                // Binding values (derived from the session's EKM) are never printed.
                throw new AttestationException(Reason.REPORT_DATA_MISMATCH, "report data mismatch: the quote's"
                        + " report_data is not SHA-512(nonce || EKM) of this session. Possible replay/relay attack.");
            }
        }

        // RTMR replay (RTMR3 only for dstack's stripped log, which has no RTMR0-2 boot entries to replay).
        List<byte[]> replayed = response.eventLog().replay();
        for (int i = evidence.strippedEventLog ? 3 : 0; i < 4; i++) {
            byte[] quoted = td.rtmrBytes(i);
            if (!MessageDigest.isEqual(quoted, replayed.get(i))) {
                throw new AttestationException(Reason.RTMR_MISMATCH, "rtmr" + i, Hex.encode(quoted),
                        Hex.encode(replayed.get(i)), "RTMR" + i + " mismatch: expected " + Hex.encode(quoted)
                        + " (quote), got " + Hex.encode(replayed.get(i)) + " (event log replay)");
            }
        }
        return new AttestationReport(dcap, events, certHash, evidence.peerCertificate != null,
                evidence.expectedReportData != null, verified.fromCache());
    }

    /** What one verification looks at. Build with {@link #builder(QuoteResponse)}. Immutable. */
    public static final class Evidence {
        private final QuoteResponse response;
        private final byte[] expectedReportData;
        private final byte[] peerCertificate;
        private final boolean strippedEventLog;

        private Evidence(EvidenceBuilder b) {
            this.response = b.response;
            this.expectedReportData = b.expectedReportData;
            this.peerCertificate = b.peerCertificate;
            this.strippedEventLog = b.strippedEventLog;
        }

        public static EvidenceBuilder builder(QuoteResponse response) {
            return new EvidenceBuilder(response);
        }
    }

    /**
     * Choose exactly one report-data option and exactly one certificate option; there are no defaults, so a
     * skipped check is always visible in the calling code (and in the report).
     */
    public static final class EvidenceBuilder {
        private final QuoteResponse response;
        private byte[] expectedReportData;
        private boolean reportDataChosen;
        private byte[] peerCertificate;
        private boolean certificateChosen;
        private boolean strippedEventLog;

        private EvidenceBuilder(QuoteResponse response) {
            this.response = Objects.requireNonNull(response, "response");
        }

        /** The aTLS binding: report data must be {@code SHA-512(nonce ‖ ekm)} (both 32 bytes). */
        public EvidenceBuilder sessionBinding(byte[] nonce, byte[] ekm) {
            return expectedReportData(ReportData.sessionBinding(nonce, ekm));
        }

        /** Report data must equal these 64 bytes. */
        public EvidenceBuilder expectedReportData(byte[] reportData) {
            if (reportData.length != 64) {
                throw new IllegalArgumentException("report data must be 64 bytes, got " + reportData.length);
            }
            this.expectedReportData = reportData.clone();
            this.reportDataChosen = true;
            return this;
        }

        /** Offline inspection only: report data is not compared; the report says so. */
        public EvidenceBuilder skipReportDataCheck() {
            this.expectedReportData = null;
            this.reportDataChosen = true;
            return this;
        }

        /** DER of the peer's TLS leaf certificate; the last certificate event must carry its SHA-256. */
        public EvidenceBuilder peerCertificate(byte[] der) {
            this.peerCertificate = der.clone();
            this.certificateChosen = true;
            return this;
        }

        /** Offline inspection only: no certificate is compared; the report says so. */
        public EvidenceBuilder skipCertificateCheck() {
            this.peerCertificate = null;
            this.certificateChosen = true;
            return this;
        }

        /**
         * The event log is dstack's stripped form ({@code into_stripped}, as embedded in RA-TLS certificates): it
         * keeps only the RTMR3 runtime events and the RTMR0 ACPI entries, so only RTMR3 is replayed against the
         * quote. RTMR0-2 are still the quote's signed values, which an appraiser checks against the expected
         * measurements (as dstack's own verifier does; it never replays RTMR0-2 from a log). The log's RTMR0-2
         * entries are then unverified; the report exposes only the runtime events.
         */
        public EvidenceBuilder strippedEventLog() {
            this.strippedEventLog = true;
            return this;
        }

        public Evidence build() {
            if (!reportDataChosen) {
                throw new IllegalStateException("choose sessionBinding, expectedReportData or skipReportDataCheck");
            }
            if (!certificateChosen) {
                throw new IllegalStateException("choose peerCertificate or skipCertificateCheck");
            }
            return new Evidence(this);
        }
    }

    /** Builder for {@link DstackTdxVerifier}. */
    public static final class Builder {
        private QuoteVerifier quoteVerifier;
        private CollateralSource collateral;
        private Clock clock = Clock.systemUTC();

        private Builder() {}

        /** The DCAP verifier (default: production anchor, this builder's clock). */
        public Builder quoteVerifier(QuoteVerifier v) {
            this.quoteVerifier = v;
            return this;
        }

        /** Where collateral comes from (required), e.g. {@link CollateralSource#forUrl(String, boolean, Clock)}. */
        public Builder collateralSource(CollateralSource s) {
            this.collateral = Objects.requireNonNull(s, "collateral source");
            return this;
        }

        public Builder clock(Clock c) {
            this.clock = Objects.requireNonNull(c, "clock");
            return this;
        }

        /** @throws IllegalStateException without a collateral source */
        public DstackTdxVerifier build() {
            if (collateral == null) {
                throw new IllegalStateException("choose a collateral source (CollateralSource.forUrl, fixed, ...)");
            }
            return new DstackTdxVerifier(this);
        }
    }
}
