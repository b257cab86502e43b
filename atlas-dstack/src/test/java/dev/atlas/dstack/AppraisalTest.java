package dev.atlas.dstack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.atlas.dstack.DstackTdxVerifierTest.Case;
import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.AttestationException.Reason;
import dev.atlas.tdx.TcbStatus;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Integrity apart from appraisal: evidence that passes every integrity check is rejected by
 * {@link DstackTdxPolicy#appraise} for each policy field, with the reason the one-step verifier gave.
 */
class AppraisalTest {
    static final String WRONG48 = "ee".repeat(48);
    static final String WRONG32 = "ee".repeat(32);

    /** Integrity passes for {@code c}; appraising with the changed policy fails with the returned exception. */
    static AttestationException appraisalRejects(Case c, UnaryOperator<DstackTdxPolicy.Builder> change, Instant at)
            throws Exception {
        AttestationReport integrity = c.verifier(at).verify(c.evidence());
        assertThat(integrity.appraised()).isFalse();
        DstackTdxPolicy p = change.apply(c.policy()).build();
        AttestationException direct = assertThrows(AttestationException.class, () -> p.appraise(integrity, at));
        AttestationException combined = assertThrows(AttestationException.class,
                () -> c.verifier(at).verify(c.evidence(), p));
        assertThat(combined.reason()).isEqualTo(direct.reason());
        assertThat(combined.getMessage()).isEqualTo(direct.getMessage());
        return direct;
    }

    static AttestationException appraisalRejects(Case c, UnaryOperator<DstackTdxPolicy.Builder> change)
            throws Exception {
        return appraisalRejects(c, change, c.ev.verificationTime());
    }

    @Test
    void integrityOnly_reportIsNotAppraised() throws Exception {
        Case c = DstackTdxVerifierTest.honest();
        AttestationReport r = c.verifier(c.ev.verificationTime()).verify(c.evidence());
        assertThat(r.appraised()).isFalse();
        assertThat(r.runtimeVerified()).isFalse();
        assertThat(r.policySummary()).isNull();
        assertThat(r.policyWarnings()).isEmpty();
        assertThat(r.collateralFromCache()).isFalse();
        assertThat(r.toJson()).contains("\"policy\":null", "\"runtime_verified\":false");

        AttestationReport a = c.verifier(c.ev.verificationTime()).verify(c.evidence(), c.policy().build());
        assertThat(a.appraised()).isTrue();
        assertThat(a.runtimeVerified()).isTrue();
        assertThat(a.policySummary()).startsWith("dstack_tdx; allowed [UpToDate]");
    }

    @Test
    void tcbStatusNotAllowed() throws Exception {
        Case c = DstackTdxVerifierTest.outOfDate("2025-06-01T00:00:00Z");
        AttestationException e = appraisalRejects(c, p -> p);
        assertThat(e.reason()).isEqualTo(Reason.TCB_STATUS_NOT_ALLOWED);
        assertThat(e.actual()).contains("OutOfDate");
        assertThat(e.detail()).startsWith("TCB status OutOfDate not allowed (allowed: [UpToDate], advisories ");
    }

    @Test
    void gracePeriodExpired_andNotApplicable() throws Exception {
        Case c = DstackTdxVerifierTest.outOfDate("2025-06-01T00:00:00Z");
        AttestationException e = appraisalRejects(c, p -> p.allowedTcbStatus(List.of("UpToDate", "OutOfDate"))
                .gracePeriodSeconds(14L * 86400 - 1), DstackTdxVerifierTest.AT);
        assertThat(e.reason()).isEqualTo(Reason.GRACE_PERIOD_EXPIRED);
        assertThat(e.detail()).contains("tcb_date: 2025-06-01T00:00:00Z", "grace_period_secs: 1209599");

        Case qe = DstackTdxVerifierTest.quote(b -> b.qeIsvSvn(3));
        assertThat(appraisalRejects(qe, p -> p.allowedTcbStatus(List.of("UpToDate", "OutOfDate"))
                .gracePeriodSeconds(3600L)).reason()).isEqualTo(Reason.GRACE_PERIOD_NOT_APPLICABLE);
    }

    @ParameterizedTest
    @CsvSource({"mrtd", "rtmr0", "rtmr1", "rtmr2"})
    void bootchain(String field) throws Exception {
        Case c = DstackTdxVerifierTest.honest();
        AttestationException e = appraisalRejects(c, p -> p.expectedBootchain(Bootchain.of(
                field.equals("mrtd") ? WRONG48 : DstackTdxVerifierTest.MRTD,
                field.equals("rtmr0") ? WRONG48 : c.log.rtmr(0),
                field.equals("rtmr1") ? WRONG48 : c.log.rtmr(1),
                field.equals("rtmr2") ? WRONG48 : c.log.rtmr(2))));
        assertThat(e.reason()).isEqualTo(Reason.BOOTCHAIN_MISMATCH);
        assertThat(e.subject()).contains(field);
        assertThat(e.detail()).isEqualTo("bootchain mismatch: " + field + " expected " + WRONG48 + ", got "
                + e.actual().orElseThrow());
    }

    @Test
    void composeHash() throws Exception {
        AttestationException e = appraisalRejects(DstackTdxVerifierTest.honest(),
                p -> p.appComposeRaw(null).expectedComposeHash(WRONG32));
        assertThat(e.reason()).isEqualTo(Reason.APP_COMPOSE_MISMATCH);
        assertThat(e.detail()).startsWith("app compose hash mismatch: expected " + WRONG32 + ", got ");
    }

    @Test
    void osImageHash() throws Exception {
        AttestationException e = appraisalRejects(DstackTdxVerifierTest.honest(), p -> p.osImageHash(WRONG32));
        assertThat(e.reason()).isEqualTo(Reason.OS_IMAGE_HASH_MISMATCH);
        assertThat(e.detail()).isEqualTo("OS image hash mismatch: expected " + WRONG32 + ", got "
                + DstackTdxVerifierTest.OS_IMAGE);
    }

    @Test
    void integrityRunsFullyBeforeAppraisal() throws Exception {
        // Wrong session binding and a disallowed TCB status: integrity (report data) is reported, not the status.
        Case c = DstackTdxVerifierTest.quote(b -> b.reportData("00".repeat(64)).tcbInfo(ti -> {
            var first = (com.fasterxml.jackson.databind.node.ObjectNode)
                    ((com.fasterxml.jackson.databind.node.ArrayNode) ti.get("tcbLevels")).get(0);
            first.put("tcbStatus", "OutOfDate");
        }));
        AtomicReference<AttestationReport> seen = new AtomicReference<>();
        AttestationException e = assertThrows(AttestationException.class,
                () -> c.verifier(c.ev.verificationTime()).verify(c.evidence(), (r, now) -> seen.set(r)));
        assertThat(e.reason()).isEqualTo(Reason.REPORT_DATA_MISMATCH);
        assertThat(seen.get()).isNull();
    }

    @Test
    void anotherAppraiser_seesTheIntegrityReport_andIsNamedInIt() throws Exception {
        Case c = DstackTdxVerifierTest.honest();
        Instant at = c.ev.verificationTime();
        AtomicReference<Instant> when = new AtomicReference<>();
        Appraiser webhook = new Appraiser() {
            @Override
            public void appraise(AttestationReport report, Instant now) throws AttestationException {
                when.set(now);
                if (!report.composeHash().orElse("").equals(ComposeHash.ofRawBytes(DstackTdxVerifierTest.COMPOSE))) {
                    throw new AttestationException(Reason.APP_COMPOSE_MISMATCH, "not the app the webhook allows");
                }
            }

            @Override
            public String summary() {
                return "auth webhook";
            }
        };
        AttestationReport r = c.verifier(at).verify(c.evidence(), webhook);
        assertThat(when.get()).isEqualTo(at);
        assertThat(r.appraised()).isTrue();
        assertThat(r.policySummary()).isEqualTo("auth webhook");
        assertThat(r.runtimeVerified()).isFalse(); // the default claims nothing
    }

    @Test
    void allowedStatusesAreValues() throws Exception {
        DstackTdxPolicy p = DstackTdxPolicy.builder().disableRuntimeVerification(true)
                .allowedTcbStatus(List.of("UpToDate", "OutOfDate", "TDRelaunchAdvised")).build();
        assertThat(p.allowedStatuses()).isEqualTo(Set.of(TcbStatus.UP_TO_DATE, TcbStatus.OUT_OF_DATE));
        assertThat(p.allowedTcbStatus()).containsExactly("UpToDate", "OutOfDate", "TDRelaunchAdvised");
        assertThat(DstackTdxPolicy.dev().allowedStatuses())
                .containsExactlyInAnyOrder(TcbStatus.UP_TO_DATE, TcbStatus.SW_HARDENING_NEEDED, TcbStatus.OUT_OF_DATE);
        assertThat(p.toBuilder().build()).isEqualTo(p);
        assertThat(PolicyJson.parse(PolicyJson.write(p).getBytes(java.nio.charset.StandardCharsets.UTF_8))).isEqualTo(p);
    }
}
