package dev.atlas.dstack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.AttestationException.Reason;
import dev.atlas.tdx.Collateral;
import dev.atlas.tdx.CollateralSource;
import dev.atlas.tdx.QuoteVerifier;
import dev.atlas.tdx.TcbStatus;
import dev.atlas.tdx.internal.Hex;
import dev.atlas.testing.DcapEvidence;
import dev.atlas.testing.DstackEventLog;
import dev.atlas.testing.SharedTestData;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * End-to-end verification of simulated dstack evidence: one honest baseline, then one change per test, each
 * asserting the reason (and, for mismatches, which value differed).
 */
class DstackTdxVerifierTest {
    static final byte[] COMPOSE = "{\"runner\":\"docker-compose\",\"docker_compose_file\":\"services: {}\"}"
            .getBytes(StandardCharsets.UTF_8);
    static final String OS_IMAGE = "07a2388c7a6a1b6a646d443f1517990a4ec294471d63146cda9d56972765051d";
    static final String MRTD = "b24d3b24e9e3c16012376b52362ca09856c4adecb709d5fac33addf1c47e193da075b125b6c364115771390a5461e217";
    static final byte[] CERT = "not really DER, only hashed".getBytes(StandardCharsets.US_ASCII);
    static final byte[] NONCE = Hex.decode("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    static final byte[] EKM = Hex.decode("202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f");

    /** Honest evidence plus hooks to change one thing. */
    static final class Case {
        final DstackEventLog log;
        final DcapEvidence ev;

        Case(UnaryOperator<DstackEventLog.Builder> logChange, UnaryOperator<DcapEvidence.Builder> evChange) {
            DstackEventLog honest = logChange.apply(DstackEventLog.dstackBoot(COMPOSE, OS_IMAGE).tlsCertificate(CERT))
                    .build();
            this.log = honest;
            DcapEvidence.Builder b = DcapEvidence.tdx().mrTd(MRTD)
                    .reportData(ReportData.sessionBindingHex(NONCE, EKM));
            for (int i = 0; i < 4; i++) {
                b.rtmr(i, honest.rtmr(i));
            }
            this.ev = evChange.apply(b).build();
        }

        String response() {
            var o = new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode();
            o.put("quote", Hex.encode(ev.quote()));
            o.put("event_log", log.json());
            o.put("report_data", ReportData.sessionBindingHex(NONCE, EKM));
            o.put("vm_config", "{}");
            return o.toString();
        }

        DstackTdxPolicy.Builder policy() {
            return DstackTdxPolicy.builder()
                    .expectedBootchain(Bootchain.of(MRTD, log.rtmr(0), log.rtmr(1), log.rtmr(2)))
                    .appComposeRaw(new String(COMPOSE, StandardCharsets.UTF_8))
                    .osImageHash(OS_IMAGE);
        }

        AttestationReport verify(DstackTdxPolicy policy) throws AttestationException {
            return verify(policy, ev.verificationTime());
        }

        AttestationReport verify(DstackTdxPolicy policy, Instant at) throws AttestationException {
            return verifier(at).verify(evidence(), policy);
        }

        /** The verifier for this case's evidence, its clock fixed at {@code at}. */
        DstackTdxVerifier verifier(Instant at) throws AttestationException {
            return DstackTdxVerifier.builder()
                    .quoteVerifier(QuoteVerifier.builder().insecureTrustAnchorForTesting(ev.rootCertificate()).build())
                    .collateralSource(CollateralSource.fixed(Collateral.fromJson(ev.collateralJson())))
                    .clock(Clock.fixed(at, ZoneOffset.UTC))
                    .build();
        }

        /** The evidence with both bindings on. */
        DstackTdxVerifier.Evidence evidence() throws AttestationException {
            return DstackTdxVerifier.Evidence.builder(QuoteResponse.parse(response()))
                    .sessionBinding(NONCE, EKM).peerCertificate(CERT).build();
        }

        AttestationReport verify() throws Exception {
            return verify(policy().build());
        }

        AttestationException rejected() throws Exception {
            DstackTdxPolicy p = policy().build();
            return assertThrows(AttestationException.class, () -> verify(p));
        }

        AttestationException rejected(UnaryOperator<DstackTdxPolicy.Builder> change) throws Exception {
            DstackTdxPolicy p = change.apply(policy()).build();
            return assertThrows(AttestationException.class, () -> verify(p));
        }
    }

    static Case honest() {
        return new Case(l -> l, e -> e);
    }

    static Case log(UnaryOperator<DstackEventLog.Builder> change) {
        return new Case(change, e -> e);
    }

    static Case quote(UnaryOperator<DcapEvidence.Builder> change) {
        return new Case(l -> l, change);
    }

    // ---------------------------------------------------------------- baseline

    @Test
    void honestEvidence_verifiesWithEverythingInTheReport() throws Exception {
        AttestationReport r = honest().verify();
        assertThat(r.tcbStatus()).isEqualTo(TcbStatus.UP_TO_DATE);
        assertThat(r.mrTd()).isEqualTo(MRTD);
        assertThat(r.composeHash()).contains(ComposeHash.ofRawBytes(COMPOSE));
        assertThat(r.osImageHash()).contains(OS_IMAGE);
        assertThat(r.keyProvider().orElseThrow().name()).isEqualTo("kms");
        assertThat(r.certificateHash()).contains(DstackEventLog.certificateHashHex(CERT));
        assertThat(r.appId()).isPresent();
        assertThat(r.instanceId()).isPresent();
        assertThat(r.certificateChecked()).isTrue();
        assertThat(r.reportDataChecked()).isTrue();
        assertThat(r.runtimeVerified()).isTrue();
        assertThat(r.reportData()).isEqualTo(ReportData.sessionBindingHex(NONCE, EKM));
        assertThat(r.toJson()).contains("\"tcb_status\":\"UpToDate\"", "\"runtime_verified\":true")
                .doesNotContain(ReportData.sessionBindingHex(NONCE, EKM));
    }

    @Test
    void dstack056EmptyRuntimeDigests_verify() throws Exception {
        assertThat(log(DstackEventLog.Builder::emptyRuntimeDigests).verify().tcbStatus()).isEqualTo(TcbStatus.UP_TO_DATE);
    }

    @Test
    void atlasStyleComposeObject_andExpectedHash_bothWork() throws Exception {
        Case c = honest();
        c.verify(c.policy().appComposeRaw(null).appCompose(ComposeHash.parseJson(new String(COMPOSE, StandardCharsets.UTF_8)))
                .build());
        c.verify(c.policy().appComposeRaw(null).expectedComposeHash(ComposeHash.ofRawBytes(COMPOSE)).build());
    }

    @Test
    void devPolicy_skipsRuntimeChecksOnly() throws Exception {
        Case c = log(l -> l.seed(99)); // another bootchain than any policy expects
        AttestationReport r = c.verify(DstackTdxPolicy.dev());
        assertThat(r.runtimeVerified()).isFalse();
        assertThat(r.policyWarnings().get(0)).startsWith("runtime verification disabled");
        // still enforced: session binding, certificate, replay
        Case bad = quote(e -> e.reportData("00".repeat(64)));
        assertThat(assertThrows(AttestationException.class, () -> bad.verify(DstackTdxPolicy.dev())).reason())
                .isEqualTo(Reason.REPORT_DATA_MISMATCH);
    }

    // ---------------------------------------------------------------- event log attacks

    @Test
    void payloadRewrittenDigestKept() throws Exception {
        AttestationException e = log(l -> l.tamperPayload("compose-hash", new byte[32])).rejected();
        assertThat(e.reason()).isEqualTo(Reason.EVENT_DIGEST_MISMATCH);
        assertThat(e.subject()).contains("compose-hash");
    }

    @Test
    void payloadRewrittenDigestOmitted_caughtByRtmr3Replay() throws Exception {
        AttestationException e = log(l -> l.emptyRuntimeDigests().tamperPayload("compose-hash", new byte[32])).rejected();
        assertThat(e.reason()).isEqualTo(Reason.RTMR_MISMATCH);
        assertThat(e.subject()).contains("rtmr3");
    }

    @Test
    void payloadAndDigestRewritten_caughtByRtmr3Replay() throws Exception {
        AttestationException e = log(l -> l.tamperPayloadAndDigest("os-image-hash", new byte[32])).rejected();
        assertThat(e.reason()).isEqualTo(Reason.RTMR_MISMATCH);
        assertThat(e.subject()).contains("rtmr3");
    }

    @Test
    void digestChanged() throws Exception {
        assertThat(log(l -> l.tamperDigest("instance-id")).rejected().reason()).isEqualTo(Reason.EVENT_DIGEST_MISMATCH);
    }

    @Test
    void runtimeEntryMovedToAnotherImr() throws Exception {
        assertThat(log(l -> l.tamperImr("app-id", 1)).rejected().reason()).isEqualTo(Reason.EVENT_IMR_MISMATCH);
    }

    @Test
    void bootEntryMovedToAnotherImr() throws Exception {
        AttestationException e = log(l -> l.tamperBootImr(0, 1)).rejected();
        assertThat(e.reason()).isEqualTo(Reason.RTMR_MISMATCH);
        assertThat(e.subject()).contains("rtmr0");
    }

    @Test
    void duplicateComposeHash() throws Exception {
        AttestationException e = log(l -> l.tamper(list -> {
            var out = new java.util.ArrayList<>(list);
            int i = EventLogTest.indexOf(out, "compose-hash");
            out.add(i, out.get(i));
            return out;
        })).rejected();
        assertThat(e.reason()).isEqualTo(Reason.DUPLICATE_EVENT);
    }

    @Test
    void missingCertificateEvent() throws Exception {
        AttestationException e = log(l -> l.omit(DstackEvents.TLS_CERTIFICATE)).rejected();
        assertThat(e.reason()).isEqualTo(Reason.CERTIFICATE_NOT_IN_EVENT_LOG);
        assertThat(e.actual()).contains("<not found in event log>");
    }

    @Test
    void certificateEventForAnotherCertificate() throws Exception {
        // the server rotated to another certificate after the one the client sees
        AttestationException e = log(l -> l.tlsCertificate("other".getBytes(StandardCharsets.US_ASCII))).rejected();
        assertThat(e.reason()).isEqualTo(Reason.CERTIFICATE_NOT_IN_EVENT_LOG);
        assertThat(e.expected()).contains(DstackEventLog.certificateHashHex(CERT));
    }

    // ---------------------------------------------------------------- binding

    @Test
    void reportDataOfAnotherSession() throws Exception {
        byte[] otherEkm = EKM.clone();
        otherEkm[0] ^= 1;
        AttestationException e = quote(b -> b.reportData(ReportData.sessionBindingHex(NONCE, otherEkm))).rejected();
        assertThat(e.reason()).isEqualTo(Reason.REPORT_DATA_MISMATCH);
        // binding values are never printed
        assertThat(e.getMessage()).doesNotContain(ReportData.sessionBindingHex(NONCE, EKM))
                .doesNotContain(ReportData.sessionBindingHex(NONCE, otherEkm)).doesNotContain(Hex.encode(EKM));
        assertThat(e.expected()).isEmpty();
    }

    @Test
    void quoteRtmrDiffersFromLog() throws Exception {
        AttestationException e = quote(b -> b.rtmr(2, "00".repeat(48))).rejected();
        assertThat(e.reason()).isEqualTo(Reason.RTMR_MISMATCH);
        assertThat(e.subject()).contains("rtmr2");
        assertThat(e.expected()).contains("00".repeat(48));
    }

    // ---------------------------------------------------------------- policy checks

    @ParameterizedTest
    @CsvSource({"mrtd", "rtmr0", "rtmr1", "rtmr2"})
    void eachBootchainFieldWrong(String field) throws Exception {
        Case c = honest();
        String wrong = "ee".repeat(48);
        AttestationException e = c.rejected(p -> p.expectedBootchain(Bootchain.of(
                field.equals("mrtd") ? wrong : MRTD,
                field.equals("rtmr0") ? wrong : c.log.rtmr(0),
                field.equals("rtmr1") ? wrong : c.log.rtmr(1),
                field.equals("rtmr2") ? wrong : c.log.rtmr(2))));
        assertThat(e.reason()).isEqualTo(Reason.BOOTCHAIN_MISMATCH);
        assertThat(e.subject()).contains(field);
        assertThat(e.expected()).contains(wrong);
    }

    @Test
    void wrongCompose() throws Exception {
        AttestationException e = honest().rejected(p -> p.appComposeRaw("{\"runner\":\"docker-compose\"}"));
        assertThat(e.reason()).isEqualTo(Reason.APP_COMPOSE_MISMATCH);
        assertThat(e.actual()).contains(ComposeHash.ofRawBytes(COMPOSE));
    }

    @Test
    void composeEventMissing() throws Exception {
        AttestationException e = log(l -> l.withoutRuntime("compose-hash")).rejected();
        assertThat(e.reason()).isEqualTo(Reason.APP_COMPOSE_MISMATCH);
        assertThat(e.actual()).contains("<not found in event log>");
    }

    @Test
    void wrongOsImage() throws Exception {
        AttestationException e = honest().rejected(p -> p.osImageHash("aa".repeat(32)));
        assertThat(e.reason()).isEqualTo(Reason.OS_IMAGE_HASH_MISMATCH);
        assertThat(e.actual()).contains(OS_IMAGE);
    }

    @Test
    void hiddenEvent_isCaughtByTheReplay() throws Exception {
        AttestationException e = log(l -> l.omit("os-image-hash")).rejected();
        assertThat(e.reason()).isEqualTo(Reason.RTMR_MISMATCH);
        assertThat(e.subject()).contains("rtmr3");
    }

    @Test
    void osImageEventMissing_localKeyProvider() throws Exception {
        AttestationException e = log(l -> l.withoutRuntime("os-image-hash")).rejected();
        assertThat(e.reason()).isEqualTo(Reason.OS_IMAGE_HASH_MISMATCH);
        assertThat(e.actual()).contains("<not found in event log>");
    }

    // ---------------------------------------------------------------- TCB status and grace period

    static final Instant AT = Instant.parse("2025-06-15T00:00:00Z");

    /** The matching platform level becomes OutOfDate with the given tcbDate. */
    static Case outOfDate(String tcbDate) {
        return quote(b -> b.tcbInfo(ti -> {
            ObjectNode first = (ObjectNode) ((ArrayNode) ti.get("tcbLevels")).get(0);
            first.put("tcbStatus", "OutOfDate");
            first.put("tcbDate", tcbDate);
        }));
    }

    @Test
    void statusNotAllowed() throws Exception {
        AttestationException e = outOfDate("2025-06-01T00:00:00Z").rejected();
        assertThat(e.reason()).isEqualTo(Reason.TCB_STATUS_NOT_ALLOWED);
        assertThat(e.actual()).contains("OutOfDate");
    }

    @Test
    void statusAllowed() throws Exception {
        Case c = outOfDate("2025-06-01T00:00:00Z");
        assertThat(c.verify(c.policy().allowedTcbStatus(List.of("UpToDate", "OutOfDate")).build()).tcbStatus())
                .isEqualTo(TcbStatus.OUT_OF_DATE);
    }

    @Test
    void gracePeriodNotExpired() throws Exception {
        Case c = outOfDate("2025-06-01T00:00:00Z");
        DstackTdxPolicy p = c.policy().allowedTcbStatus(List.of("UpToDate", "OutOfDate"))
                .gracePeriodSeconds(14L * 86400).build(); // until 2025-06-15T00:00:00Z, inclusive
        assertThat(c.verify(p, AT).tcbStatus()).isEqualTo(TcbStatus.OUT_OF_DATE);
    }

    @Test
    void gracePeriodExpired() throws Exception {
        Case c = outOfDate("2025-06-01T00:00:00Z");
        DstackTdxPolicy p = c.policy().allowedTcbStatus(List.of("UpToDate", "OutOfDate"))
                .gracePeriodSeconds(14L * 86400 - 1).build();
        AttestationException e = assertThrows(AttestationException.class, () -> c.verify(p, AT));
        assertThat(e.reason()).isEqualTo(Reason.GRACE_PERIOD_EXPIRED);
        assertThat(e.detail()).contains("tcb_date: 2025-06-01T00:00:00Z", "grace_period_secs: 1209599");
    }

    @Test
    void gracePeriodZero_rejectsAnyPastTcbDate() throws Exception {
        Case c = outOfDate("2025-06-01T00:00:00Z");
        DstackTdxPolicy p = c.policy().allowedTcbStatus(List.of("OutOfDate")).gracePeriodSeconds(0L).build();
        assertThat(assertThrows(AttestationException.class, () -> c.verify(p, AT)).reason())
                .isEqualTo(Reason.GRACE_PERIOD_EXPIRED);
    }

    @Test
    void gracePeriod_outOfDateFromQeOnly_isNotCovered() throws Exception {
        Case c = quote(b -> b.qeIsvSvn(3)); // QE identity level isvsvn 2: OutOfDate; platform UpToDate
        DstackTdxPolicy p = c.policy().allowedTcbStatus(List.of("UpToDate", "OutOfDate"))
                .gracePeriodSeconds(DstackTdxPolicy.MAX_GRACE_PERIOD_SECONDS).build();
        AttestationException e = assertThrows(AttestationException.class, () -> c.verify(p));
        assertThat(e.reason()).isEqualTo(Reason.GRACE_PERIOD_NOT_APPLICABLE);
    }

    // ---------------------------------------------------------------- DCAP failures surface with their reason

    @Test
    void debugTd_rejectedByDcap() throws Exception {
        assertThat(quote(b -> b.tdAttributes("0100001000000000")).rejected().reason()).isEqualTo(Reason.DEBUG_ENABLED);
    }

    @Test
    void replayedQuoteWithForgedSignature_rejectedByDcap() throws Exception {
        assertThat(quote(DcapEvidence.Builder::corruptQuoteSignature).rejected().reason())
                .isEqualTo(Reason.QUOTE_SIGNATURE_INVALID);
    }

    @Test
    void sgxQuote_isNotATdQuote() throws Exception {
        Case c = honest();
        DcapEvidence sgx = DcapEvidence.sgx().build();
        String resp = "{\"quote\":\"" + Hex.encode(sgx.quote()) + "\",\"event_log\":\"[]\"}";
        DstackTdxPolicy p = c.policy().build();
        DstackTdxVerifier v = DstackTdxVerifier.builder()
                .quoteVerifier(QuoteVerifier.builder().insecureTrustAnchorForTesting(sgx.rootCertificate()).build())
                .collateralSource(CollateralSource.fixed(Collateral.fromJson(sgx.collateralJson())))
                .clock(Clock.fixed(sgx.verificationTime(), ZoneOffset.UTC)).build();
        AttestationException e = assertThrows(AttestationException.class, () -> v.verify(DstackTdxVerifier.Evidence
                .builder(QuoteResponse.parse(resp)).skipReportDataCheck().skipCertificateCheck().build(), p));
        assertThat(e.reason()).isEqualTo(Reason.TEE_TYPE_MISMATCH);
    }

    // ---------------------------------------------------------------- collateral sources

    /** A source that behaves like a cache miss: it verifies with the collateral before handing the result out. */
    static AttestationReport verifyThroughCheckingSource(Case c) throws Exception {
        Collateral coll = Collateral.fromJson(c.ev.collateralJson());
        java.util.concurrent.atomic.AtomicInteger checks = new java.util.concurrent.atomic.AtomicInteger();
        DstackTdxPolicy p = c.policy().build();
        DstackTdxVerifier v = DstackTdxVerifier.builder()
                .quoteVerifier(QuoteVerifier.builder().insecureTrustAnchorForTesting(c.ev.rootCertificate()).build())
                .collateralSource((quote, verifier, now) -> {
                    checks.incrementAndGet();
                    return new CollateralSource.Verified(verifier.verify(quote, coll, now), false);
                })
                .clock(Clock.fixed(c.ev.verificationTime(), ZoneOffset.UTC)).build();
        AttestationReport r = v.verify(DstackTdxVerifier.Evidence.builder(QuoteResponse.parse(c.response()))
                .sessionBinding(NONCE, EKM).peerCertificate(CERT).build(), p);
        assertThat(checks).hasValue(1);
        return r;
    }

    @Test
    void checkingSource_resultOfTheCheckIsUsed() throws Exception {
        assertThat(verifyThroughCheckingSource(honest()).tcbStatus()).isEqualTo(TcbStatus.UP_TO_DATE);
    }

    @Test
    void checkingSource_rejectionInTheCheckKeepsItsReason() throws Exception {
        Case debug = quote(b -> b.tdAttributes("0100001000000000"));
        assertThat(assertThrows(AttestationException.class, () -> verifyThroughCheckingSource(debug)).reason())
                .isEqualTo(Reason.DEBUG_ENABLED);
    }

    // ---------------------------------------------------------------- dstack's stripped log (RA-TLS certificates)

    /** The evidence with only the RTMR3 entries of the log (what an RA-TLS certificate's attestation keeps). */
    static DstackTdxVerifier.EvidenceBuilder strippedEvidence(Case c) throws AttestationException {
        List<EventLogEntry> rtmr3 = QuoteResponse.parse(c.response()).eventLog().entries().stream()
                .filter(e -> e.imr() == 3).toList();
        return DstackTdxVerifier.Evidence.builder(QuoteResponse.of(c.ev.quote(), EventLog.of(rtmr3)))
                .sessionBinding(NONCE, EKM).skipCertificateCheck();
    }

    @Test
    void strippedLog_verifiesRtmr3Only() throws Exception {
        Case c = honest();
        AttestationReport r = c.verifier(c.ev.verificationTime()).verify(strippedEvidence(c).strippedEventLog().build(),
                c.ev.verificationTime());
        assertThat(r.composeHash()).isPresent();
    }

    @Test
    void strippedLog_withoutTheOption_failsTheRtmr0Replay() throws Exception {
        Case c = honest();
        AttestationException e = assertThrows(AttestationException.class,
                () -> c.verifier(c.ev.verificationTime()).verify(strippedEvidence(c).build(), c.ev.verificationTime()));
        assertThat(e.reason()).isEqualTo(Reason.RTMR_MISMATCH);
        assertThat(e.subject()).contains("rtmr0");
    }

    @Test
    void strippedLog_stillReplaysRtmr3() throws Exception {
        Case c = log(l -> l.runtime("extra-app-event", new byte[] {1}));
        // quote RTMR3 includes the extra event; drop it from the stripped log
        List<EventLogEntry> rtmr3 = QuoteResponse.parse(c.response()).eventLog().entries().stream()
                .filter(e -> e.imr() == 3 && !e.event().equals("extra-app-event")).toList();
        DstackTdxVerifier.Evidence ev = DstackTdxVerifier.Evidence.builder(QuoteResponse.of(c.ev.quote(),
                EventLog.of(rtmr3))).sessionBinding(NONCE, EKM).skipCertificateCheck().strippedEventLog().build();
        AttestationException e = assertThrows(AttestationException.class,
                () -> c.verifier(c.ev.verificationTime()).verify(ev, c.ev.verificationTime()));
        assertThat(e.reason()).isEqualTo(Reason.RTMR_MISMATCH);
        assertThat(e.subject()).contains("rtmr3");
    }

    // ---------------------------------------------------------------- input shapes and API guards

    @Test
    void tdxQuoteEnvelope_isAccepted() throws Exception {
        Case c = honest();
        String envelope = "{\"success\":true,\"quote\":" + c.response() + ",\"tcb_info\":null,\"quote_type\":\"tdx\"}";
        QuoteResponse r = QuoteResponse.parse(envelope);
        assertThat(r.quote()).isEqualTo(c.ev.quote());
        assertThat(QuoteResponse.parse(r.toJson()).eventLog().entries()).isEqualTo(r.eventLog().entries());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "[]", "{}", "{\"quote\":1,\"event_log\":\"[]\"}", "{\"quote\":\"zz\",\"event_log\":\"[]\"}",
        "{\"quote\":\"00\"}", "{\"quote\":{\"event_log\":\"[]\"}}", "{\"detail\":\"Server not ready\"}",
    })
    void malformedResponses(String json) {
        assertThat(assertThrows(AttestationException.class, () -> QuoteResponse.parse(json)).reason())
                .isEqualTo(Reason.MALFORMED_RESPONSE);
    }

    @Test
    void evidenceBuilder_requiresAnExplicitChoiceForEachBinding() throws Exception {
        QuoteResponse r = QuoteResponse.parse(honest().response());
        assertThrows(IllegalStateException.class, () -> DstackTdxVerifier.Evidence.builder(r).peerCertificate(CERT).build());
        assertThrows(IllegalStateException.class, () -> DstackTdxVerifier.Evidence.builder(r).sessionBinding(NONCE, EKM).build());
        assertThrows(IllegalArgumentException.class, () -> DstackTdxVerifier.Evidence.builder(r).sessionBinding(NONCE, new byte[31]));
    }

    @Test
    void sharedReportDataVectors() throws Exception {
        var v = new com.fasterxml.jackson.databind.ObjectMapper().readTree(SharedTestData.text("atlas/protocol-vectors.json"));
        for (String k : new String[] {"report_data", "report_data_2"}) {
            var x = v.get(k);
            assertThat(ReportData.sessionBindingHex(Hex.decode(x.get("nonce_hex").asText()), Hex.decode(x.get("ekm_hex").asText())))
                    .isEqualTo(x.get("report_data_hex").asText());
        }
    }
}
