package dev.atlas.dstack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.AttestationException.Reason;
import dev.atlas.tdx.Quote;
import dev.atlas.tdx.internal.Hex;
import dev.atlas.testing.DstackEventLog;
import dev.atlas.testing.SharedTestData;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class EventLogTest {
    static final ObjectMapper M = new ObjectMapper();

    // ---------------------------------------------------------------- real fixture (dstack 0.6, lite)

    @Test
    void liteFixture_emptyRuntimeDigests_replayRecomputesAndMatchesAllFourRtmrs() throws Exception {
        QuoteResponse r = QuoteResponse.parse(SharedTestData.text("dstack/tdx-lite-getquote.json"));
        Quote q = Quote.parse(r.quote());
        assertThat(r.eventLog().entries()).hasSize(29);
        DstackEvents events = r.eventLog().verify();
        List<byte[]> replayed = r.eventLog().replay();
        for (int i = 0; i < 4; i++) {
            assertThat(Hex.encode(replayed.get(i))).as("RTMR%d", i).isEqualTo(q.tdReport().rtmr(i));
        }
        assertThat(q.tdReport().rtmr(3)).startsWith("6f24c170");
        assertThat(events.all()).hasSize(9);
        assertThat(events.composeHash()).contains("86b0e55f2fa8e4fb69d890f14f54d5612707646e2573d54e0d2ddaaade77caa9");
        assertThat(events.appId()).contains("86b0e55f2fa8e4fb69d890f14f54d5612707646e");
        assertThat(events.instanceId()).contains("050bf89570575fe8fab4cb8f0a62a9e64efe8ead");
        assertThat(events.osImageHash()).contains("07a2388c7a6a1b6a646d443f1517990a4ec294471d63146cda9d56972765051d");
        assertThat(events.keyProvider().orElseThrow().name()).isEqualTo("kms");
        assertThat(events.first("storage-fs").orElseThrow().payloadText()).contains("zfs");
        assertThat(events.bootMrDone()).isTrue();
        assertThat(events.systemReady()).isTrue();
        assertThat(events.tlsCertificate()).isEmpty();
    }

    @Test
    void liteFixture_atlasStyleReplayOfSentDigests_wouldMissRtmr3() throws Exception {
        QuoteResponse r = QuoteResponse.parse(SharedTestData.text("dstack/tdx-lite-getquote.json"));
        byte[] mr = new byte[48];
        for (EventLogEntry e : r.eventLog().entries()) {
            if (e.imr() == 3) {
                mr = sha384(mr, Arrays.copyOf(e.digest(), 48));
            }
        }
        assertThat(Hex.encode(mr)).isNotEqualTo(Quote.parse(r.quote()).tdReport().rtmr(3));
    }

    // ---------------------------------------------------------------- Atlas vectors

    @ParameterizedTest
    @CsvSource({
        "system-preparing, f9974020ef507068183313d0ca808e0d1ca9b2d1ad0c61f5784e7157c362c06536f5ddacdad4451693f48fcc72fff624",
        "boot-mr-done, 98bd7e6bd3952720b65027fd494834045d06b4a714bf737a06b874638b3ea00ff402f7f583e3e3b05e921c8570433ac6",
        "system-ready, 1a76b2a80a0be71eae59f80945d876351a7a3fb8e9fd1ff1cede5734aa84ea11fd72b4edfbb6f04e5a85edd114c751bd",
    })
    void runtimeDigest_emptyPayloadVectors(String name, String digest) {
        assertThat(Hex.encode(EventLogEntry.runtimeDigest(name, new byte[0]))).isEqualTo(digest);
    }

    @Test
    void runtimeDigest_appIdVector() {
        assertThat(Hex.encode(EventLogEntry.runtimeDigest("app-id", Hex.decode("3763bc34552cf3a27ff71ad5f7a90471562a1a2d"))))
                .isEqualTo("837c2dd72f8a4c740159e5e042ed79b7eaaa5ab3a151a45e27bc366bb8b27e6c3faec87aab1e95197d3e6d23308d448c");
    }

    @Test
    void sharedProtocolVectors_certificateEventAndEmptyEvents() throws Exception {
        JsonNode v = M.readTree(SharedTestData.text("atlas/protocol-vectors.json"));
        JsonNode cert = v.get("new_tls_certificate_event");
        byte[] payload = Hex.decode(cert.get("event_payload_hex").asText());
        assertThat(new String(payload, StandardCharsets.US_ASCII)).isEqualTo(cert.get("cert_der_sha256_hex").asText());
        assertThat(Hex.encode(EventLogEntry.runtimeDigest(cert.get("event").asText(), payload)))
                .isEqualTo(cert.get("digest").asText());
        for (var e : v.get("empty_payload_events").properties()) {
            assertThat(Hex.encode(EventLogEntry.runtimeDigest(e.getKey(), new byte[0]))).isEqualTo(e.getValue().asText());
        }
    }

    // ---------------------------------------------------------------- structure

    @Test
    void parse_acceptsArrayAndDoubleEncodedString_sameEntries() throws Exception {
        DstackEventLog log = DstackEventLog.dstackBoot("{}".getBytes(), "00".repeat(32)).build();
        EventLog a = EventLog.parse(log.json());
        EventLog b = EventLog.parse(M.writeValueAsString(log.json()));
        assertThat(a.entries()).isEqualTo(b.entries());
        assertThat(EventLog.parse(a.toJson()).entries()).isEqualTo(a.entries());
    }

    @Test
    void replay_matchesIndependentImplementation_withAndWithoutSentDigests() throws Exception {
        for (boolean empty : new boolean[] {false, true}) {
            DstackEventLog.Builder b = DstackEventLog.dstackBoot("{\"a\":1}".getBytes(), "11".repeat(32))
                    .tlsCertificate(new byte[] {1, 2, 3});
            DstackEventLog log = (empty ? b.emptyRuntimeDigests() : b).build();
            EventLog parsed = EventLog.parse(log.json());
            parsed.verify();
            List<byte[]> mr = parsed.replay();
            for (int i = 0; i < 4; i++) {
                assertThat(Hex.encode(mr.get(i))).isEqualTo(log.rtmr(i));
            }
        }
    }

    @Test
    void replay_shortBootDigestIsZeroPadded_asTheReference() throws Exception {
        String json = "[{\"imr\":0,\"event_type\":1,\"digest\":\"ab\",\"event\":\"\",\"event_payload\":\"\"}]";
        byte[] padded = new byte[48];
        padded[0] = (byte) 0xab;
        assertThat(EventLog.parse(json).replay().get(0)).isEqualTo(sha384(new byte[48], padded));
        assertThat(EventLog.parse("[]").replay().get(2)).isEqualTo(new byte[48]);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "object at top level|{\"imr\":0}|MALFORMED_EVENT_LOG",
        "string holding an object|\"{}\"|MALFORMED_EVENT_LOG",
        "number|42|MALFORMED_EVENT_LOG",
        "not JSON|[{|MALFORMED_EVENT_LOG",
        "trailing garbage|[] x|MALFORMED_EVENT_LOG",
        "entry not an object|[1]|MALFORMED_EVENT_LOG",
        "missing field|[{\"imr\":0,\"event_type\":1,\"digest\":\"\",\"event\":\"\"}]|MALFORMED_EVENT_LOG",
        "imr as string|[{\"imr\":\"0\",\"event_type\":1,\"digest\":\"\",\"event\":\"\",\"event_payload\":\"\"}]|MALFORMED_EVENT_LOG",
        "imr 4|[{\"imr\":4,\"event_type\":1,\"digest\":\"\",\"event\":\"\",\"event_payload\":\"\"}]|MALFORMED_EVENT_LOG",
        "imr negative|[{\"imr\":-1,\"event_type\":1,\"digest\":\"\",\"event\":\"\",\"event_payload\":\"\"}]|MALFORMED_EVENT_LOG",
        "event_type float|[{\"imr\":0,\"event_type\":1.0,\"digest\":\"\",\"event\":\"\",\"event_payload\":\"\"}]|MALFORMED_EVENT_LOG",
        "event_type above u32|[{\"imr\":0,\"event_type\":4294967296,\"digest\":\"\",\"event\":\"\",\"event_payload\":\"\"}]|MALFORMED_EVENT_LOG",
        "digest odd hex|[{\"imr\":0,\"event_type\":1,\"digest\":\"abc\",\"event\":\"\",\"event_payload\":\"\"}]|MALFORMED_EVENT_LOG",
        "payload not hex|[{\"imr\":0,\"event_type\":1,\"digest\":\"\",\"event\":\"\",\"event_payload\":\"zz\"}]|MALFORMED_EVENT_LOG",
        "event name number|[{\"imr\":0,\"event_type\":1,\"digest\":\"\",\"event\":5,\"event_payload\":\"\"}]|MALFORMED_EVENT_LOG",
        "unknown field|[{\"imr\":0,\"event_type\":1,\"digest\":\"\",\"event\":\"\",\"event_payload\":\"\",\"x\":1}]|MALFORMED_EVENT_LOG",
        "duplicate key|[{\"imr\":0,\"imr\":1,\"event_type\":1,\"digest\":\"\",\"event\":\"\",\"event_payload\":\"\"}]|MALFORMED_EVENT_LOG",
        "V2 event|[{\"imr\":3,\"event_type\":134217729,\"digest\":\"\",\"event\":\"a\",\"event_payload\":\"\",\"version\":2}]|UNSUPPORTED_EVENT_LOG_VERSION",
        "V2 preimage|[{\"imr\":3,\"event_type\":134217729,\"digest\":\"\",\"event\":\"a\",\"event_payload\":\"\",\"preimage\":\"00\"}]|UNSUPPORTED_EVENT_LOG_VERSION",
    })
    void parse_rejects(String name, String json, Reason reason) {
        assertThat(assertThrows(AttestationException.class, () -> EventLog.parse(json)).reason()).isEqualTo(reason);
    }

    @Test
    void parse_acceptsExplicitVersion1() throws Exception {
        EventLog.parse("[{\"imr\":3,\"event_type\":134217729,\"digest\":\"\",\"event\":\"a\",\"event_payload\":\"\",\"version\":1}]");
    }

    @Test
    void parse_rejectsDigestLongerThan48Bytes_andTooManyEntries() {
        String d = "00".repeat(49);
        assertThat(assertThrows(AttestationException.class, () -> EventLog.parse(
                "[{\"imr\":0,\"event_type\":1,\"digest\":\"" + d + "\",\"event\":\"\",\"event_payload\":\"\"}]")).reason())
                .isEqualTo(Reason.MALFORMED_EVENT_LOG);
        String e = "{\"imr\":0,\"event_type\":1,\"digest\":\"\",\"event\":\"\",\"event_payload\":\"\"}";
        String many = "[" + String.join(",", java.util.Collections.nCopies(EventLog.MAX_ENTRIES + 1, e)) + "]";
        assertThat(assertThrows(AttestationException.class, () -> EventLog.parse(many)).getMessage()).contains("limit");
    }

    // ---------------------------------------------------------------- consistency

    static AttestationException inconsistent(DstackEventLog.Builder b) {
        return assertThrows(AttestationException.class, () -> EventLog.parse(b.build().json()).verify());
    }

    static DstackEventLog.Builder boot() {
        return DstackEventLog.dstackBoot("{\"runner\":\"docker-compose\"}".getBytes(), "22".repeat(32))
                .tlsCertificate(new byte[] {9});
    }

    @Test
    void verify_runtimeEventMovedToAnotherImr() {
        AttestationException e = inconsistent(boot().tamperImr("compose-hash", 2));
        assertThat(e.reason()).isEqualTo(Reason.EVENT_IMR_MISMATCH);
        assertThat(e.subject()).contains("compose-hash");
    }

    @Test
    void verify_bootEventOnRtmr3() {
        assertThat(inconsistent(boot().tamperBootImr(0, 3)).reason()).isEqualTo(Reason.EVENT_IMR_MISMATCH);
    }

    @Test
    void verify_payloadRewrittenWithDigestKept() {
        AttestationException e = inconsistent(boot().tamperPayload("compose-hash", new byte[32]));
        assertThat(e.reason()).isEqualTo(Reason.EVENT_DIGEST_MISMATCH);
        assertThat(e.subject()).contains("compose-hash");
    }

    @Test
    void verify_digestChanged() {
        AttestationException e = inconsistent(boot().tamperDigest("os-image-hash"));
        assertThat(e.reason()).isEqualTo(Reason.EVENT_DIGEST_MISMATCH);
        assertThat(e.subject()).contains("os-image-hash");
    }

    @Test
    void verify_payloadRewrittenWithEmptyDigest_passesHereButChangesRtmr3() throws Exception {
        // dstack >= 0.5.6 sends runtime digests empty; the rewrite is then caught by the RTMR3 replay.
        DstackEventLog log = boot().emptyRuntimeDigests().tamperPayload("compose-hash", new byte[32]).build();
        EventLog parsed = EventLog.parse(log.json());
        parsed.verify();
        assertThat(Hex.encode(parsed.replay().get(3))).isNotEqualTo(log.rtmr(3));
        assertThat(Hex.encode(parsed.replay().get(2))).isEqualTo(log.rtmr(2));
    }

    @ParameterizedTest
    @CsvSource({"compose-hash", "os-image-hash", "app-id", "instance-id"})
    void verify_duplicateIdentityEvent(String name) {
        AttestationException e = inconsistent(boot().tamper(l -> {
            var out = new java.util.ArrayList<>(l);
            int i = indexOf(out, name);
            out.add(i + 1, out.get(i));
            return out;
        }));
        assertThat(e.reason()).isEqualTo(Reason.DUPLICATE_EVENT);
        assertThat(e.subject()).contains(name);
    }

    @Test
    void verify_systemEventAfterSystemReady() {
        // an application (EmitEvent) could try to supply the os-image-hash of a CVM that has none
        AttestationException e = inconsistent(boot().omit("os-image-hash").runtime("os-image-hash", new byte[32]));
        assertThat(e.reason()).isEqualTo(Reason.EVENT_ORDER_INVALID);
        assertThat(e.subject()).contains("os-image-hash");
    }

    @Test
    void verify_certificateEventIsTheLastOne() throws Exception {
        DstackEvents ev = EventLog.parse(boot().tlsCertificate(new byte[] {7}).build().json()).verify();
        assertThat(ev.named(DstackEvents.TLS_CERTIFICATE)).hasSize(2);
        assertThat(ev.tlsCertificate().orElseThrow().payloadText())
                .contains(DstackEventLog.certificateHashHex(new byte[] {7}));
        assertThat(ev.applicationEvents()).hasSize(2);
    }

    static int indexOf(List<DstackEventLog.Entry> l, String name) {
        for (int i = 0; i < l.size(); i++) {
            if (l.get(i).event().equals(name)) {
                return i;
            }
        }
        throw new AssertionError(name);
    }

    static byte[] sha384(byte[] a, byte[] b) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-384");
            md.update(a);
            md.update(b);
            return md.digest();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
