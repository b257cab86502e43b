package dev.atlas.dstack;

import dev.atlas.dstack.internal.Digests;
import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.AttestationException.Reason;
import dev.atlas.tdx.Collateral;
import dev.atlas.tdx.CollateralCache;
import dev.atlas.tdx.CollateralClient;
import dev.atlas.tdx.Quote;
import dev.atlas.tdx.QuoteVerifier;
import dev.atlas.tdx.TcbStatus;
import dev.atlas.tdx.TdReport;
import dev.atlas.tdx.VerifiedReport;
import dev.atlas.tdx.internal.Dates;
import dev.atlas.tdx.internal.Hex;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Verifies a dstack TDX quote and event log against a {@link DstackTdxPolicy}: Atlas's checks in Atlas's
 * order (spec atls-protocol §1.9) plus the runtime-event digest checks Atlas lacks. Thread-safe; build once
 * and share.
 *
 * <p>Order (it decides which failure is reported): event log consistency (placement, runtime digests,
 * duplicates, order) → certificate binding → quote decoding → collateral → DCAP → grace period → allowed
 * TCB status → report data → RTMR0-3 replay → (unless runtime verification is disabled) MRTD, RTMR0, RTMR1,
 * RTMR2 → compose hash → OS image hash.
 */
public final class DstackTdxVerifier {
    /** Atlas's collateral cache lifetime. */
    public static final Duration COLLATERAL_CACHE_TTL = Duration.ofHours(8);

    private final DstackTdxPolicy policy;
    private final QuoteVerifier quoteVerifier;
    private final CollateralSource collateral;
    private final Clock clock;

    private DstackTdxVerifier(Builder b) {
        this.policy = b.policy;
        this.clock = b.clock;
        this.quoteVerifier = b.quoteVerifier != null ? b.quoteVerifier : QuoteVerifier.builder().clock(b.clock).build();
        if (b.collateral != null) {
            this.collateral = b.collateral;
        } else {
            CollateralClient client = CollateralClient.builder().baseUrl(policy.collateralUrl()).build();
            this.collateral = policy.cacheCollateral()
                    ? CollateralSource.cached(client, CollateralCache.inMemory(COLLATERAL_CACHE_TTL, b.clock))
                    : CollateralSource.fetching(client);
        }
    }

    public static Builder builder(DstackTdxPolicy policy) {
        return new Builder(policy);
    }

    public DstackTdxPolicy policy() {
        return policy;
    }

    /**
     * Runs every check at the clock's current instant (read once).
     *
     * @throws AttestationException naming the first failed check, with expected and actual values where
     *     there are two
     */
    public AttestationReport verify(Evidence evidence) throws AttestationException {
        Objects.requireNonNull(evidence, "evidence");
        final Instant now = clock.instant();
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

        // Quote decoding and TEE type.
        Quote quote = Quote.parse(response.quoteUnsafe());
        TdReport td = quote.tdReport();
        if (td == null) {
            throw new AttestationException(Reason.TEE_TYPE_MISMATCH, "TEE type mismatch: the quote carries an SGX"
                    + " enclave report, not a TD report");
        }

        // Collateral and DCAP.
        // A caching source calls the check on a miss before storing; that verification is the one we keep,
        // so a miss does not verify twice.
        VerifiedReport[] checked = new VerifiedReport[1];
        Collateral[] checkedWith = new Collateral[1];
        Collateral coll = collateral.collateralFor(quote, c -> {
            checked[0] = quoteVerifier.verify(response.quoteUnsafe(), c, now);
            checkedWith[0] = c;
        });
        VerifiedReport dcap = checkedWith[0] == coll ? checked[0]
                : quoteVerifier.verify(response.quoteUnsafe(), coll, now);

        // Grace period (only for exactly OutOfDate), then the allow list.
        TcbStatus status = dcap.status();
        if (policy.gracePeriodSeconds() != null && status == TcbStatus.OUT_OF_DATE) {
            checkGracePeriod(dcap, policy.gracePeriodSeconds(), now);
        }
        if (!policy.allowedTcbStatus().contains(status.jsonName())) {
            throw new AttestationException(Reason.TCB_STATUS_NOT_ALLOWED, "tcb_status",
                    String.valueOf(policy.allowedTcbStatus()), status.jsonName(), "TCB status " + status.jsonName()
                    + " not allowed (allowed: " + policy.allowedTcbStatus() + ", advisories " + dcap.advisoryIds()
                    + ")");
        }

        // Session binding.
        if (evidence.expectedReportData != null) {
            byte[] actual = td.reportDataBytes();
            if (!MessageDigest.isEqual(actual, evidence.expectedReportData)) {
                // Binding values (derived from the session's EKM) are never printed.
                throw new AttestationException(Reason.REPORT_DATA_MISMATCH, "report data mismatch: the quote's"
                        + " report_data is not SHA-512(nonce || EKM) of this session. Possible replay/relay attack.");
            }
        }

        // RTMR replay.
        List<byte[]> replayed = response.eventLog().replay();
        for (int i = 0; i < 4; i++) {
            byte[] quoted = td.rtmrBytes(i);
            if (!MessageDigest.isEqual(quoted, replayed.get(i))) {
                throw new AttestationException(Reason.RTMR_MISMATCH, "rtmr" + i, Hex.encode(quoted),
                        Hex.encode(replayed.get(i)), "RTMR" + i + " mismatch: expected " + Hex.encode(quoted)
                        + " (quote), got " + Hex.encode(replayed.get(i)) + " (event log replay)");
            }
        }

        if (!policy.disableRuntimeVerification()) {
            Bootchain bc = policy.expectedBootchain();
            String[][] fields = {{"mrtd", td.mrTd()}, {"rtmr0", td.rtmr(0)}, {"rtmr1", td.rtmr(1)},
                {"rtmr2", td.rtmr(2)}};
            for (String[] f : fields) {
                String expected = bc.field(f[0]);
                if (!expected.equals(f[1])) {
                    throw new AttestationException(Reason.BOOTCHAIN_MISMATCH, f[0], expected, f[1],
                            "bootchain mismatch: " + f[0] + " expected " + expected + ", got " + f[1]);
                }
            }
            String expectedCompose = policy.composeHash();
            String actualCompose = events.composeHash().orElse("<not found in event log>");
            if (!expectedCompose.equals(actualCompose)) {
                throw new AttestationException(Reason.APP_COMPOSE_MISMATCH, DstackEvents.COMPOSE_HASH, expectedCompose,
                        actualCompose, "app compose hash mismatch: expected " + expectedCompose + ", got "
                        + actualCompose);
            }
            String actualOs = events.osImageHash().orElse("<not found in event log>");
            if (!policy.osImageHash().equals(actualOs)) {
                throw new AttestationException(Reason.OS_IMAGE_HASH_MISMATCH, DstackEvents.OS_IMAGE_HASH,
                        policy.osImageHash(), actualOs, "OS image hash mismatch: expected " + policy.osImageHash()
                        + ", got " + actualOs);
            }
        }
        return new AttestationReport(dcap, events, certHash, evidence.peerCertificate != null,
                evidence.expectedReportData != null, policy);
    }

    /**
     * Atlas's grace period (spec §5.7): the matched platform TCB level must itself be OutOfDate, and
     * {@code tcbDate + grace} must not lie before {@code now}.
     */
    static void checkGracePeriod(VerifiedReport dcap, long graceSeconds, Instant now) throws AttestationException {
        if (dcap.tcbLevelStatus() != TcbStatus.OUT_OF_DATE) {
            throw new AttestationException(Reason.GRACE_PERIOD_NOT_APPLICABLE, "tcb_level_status", "OutOfDate",
                    String.valueOf(dcap.tcbLevelStatus()), "matched TCB level has status '" + dcap.tcbLevelStatus()
                    + "', expected 'OutOfDate' (OutOfDate comes from the QE identity or the TDX module, which a"
                    + " grace period does not cover)");
        }
        long tcbDate = Dates.epochSeconds(dcap.tcbDate(), "tcbDate of the matched TCB level is not an RFC 3339 date");
        long expiration;
        try {
            expiration = Math.addExact(tcbDate, graceSeconds);
        } catch (ArithmeticException e) {
            throw new AttestationException(Reason.INVALID_POLICY, "grace_period causes timestamp overflow");
        }
        if (expiration < now.getEpochSecond()) {
            throw new AttestationException(Reason.GRACE_PERIOD_EXPIRED, "grace_period",
                    Instant.ofEpochSecond(expiration).toString(), now.toString(), "grace period expired for status"
                    + " OutOfDate (tcb_date: " + dcap.tcbDate() + ", grace_period_secs: " + graceSeconds
                    + ", expired at " + Instant.ofEpochSecond(expiration) + ")");
        }
    }

    /** What one verification looks at. Build with {@link #builder(QuoteResponse)}. Immutable. */
    public static final class Evidence {
        private final QuoteResponse response;
        private final byte[] expectedReportData;
        private final byte[] peerCertificate;

        private Evidence(EvidenceBuilder b) {
            this.response = b.response;
            this.expectedReportData = b.expectedReportData;
            this.peerCertificate = b.peerCertificate;
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
        private final DstackTdxPolicy policy;
        private QuoteVerifier quoteVerifier;
        private CollateralSource collateral;
        private Clock clock = Clock.systemUTC();

        private Builder(DstackTdxPolicy policy) {
            this.policy = Objects.requireNonNull(policy, "policy");
        }

        /** The DCAP verifier (default: production anchor, this builder's clock). */
        public Builder quoteVerifier(QuoteVerifier v) {
            this.quoteVerifier = v;
            return this;
        }

        /** Collateral (default: from the policy's {@code pccs_url}, cached for 8 h if {@code cache_collateral}). */
        public Builder collateralSource(CollateralSource s) {
            this.collateral = s;
            return this;
        }

        public Builder clock(Clock c) {
            this.clock = Objects.requireNonNull(c, "clock");
            return this;
        }

        public DstackTdxVerifier build() {
            return new DstackTdxVerifier(this);
        }
    }

}
