package dev.atlas.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The simulator's own contract, checked without atlas-tdx (the verifier-side checks live in atlas-server). */
class SimulatedCvmTest {
    static final ObjectMapper M = new ObjectMapper();
    static final HexFormat HEX = HexFormat.of();

    /** A given instance id is the one measured (issue 20: the VMM's simulated guests measure the host share's). */
    @Test
    void givenInstanceIdIsMeasured() {
        byte[] id = new byte[20];
        java.util.Arrays.fill(id, (byte) 0x5a);
        SimulatedCvm cvm = SimulatedCvm.builder().seed(3).instanceId(id).build();
        String log = cvm.getQuote(new byte[64]).eventLog();
        org.assertj.core.api.Assertions.assertThat(log).contains("\"event\":\"instance-id\"")
                .contains("5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a");
    }

    @Test
    void sameSeedSameRootAndBootchain() {
        SimulatedCvm a = SimulatedCvm.builder().seed(4).build();
        SimulatedCvm b = SimulatedCvm.builder().seed(4).build();
        assertThat(a.rootCertificatePem()).isEqualTo(b.rootCertificatePem());
        for (int i = 0; i < 4; i++) {
            assertThat(a.rtmr(i)).isEqualTo(b.rtmr(i));
        }
        assertThat(SimulatedCvm.builder().seed(5).build().rtmr(0)).isNotEqualTo(a.rtmr(0));
    }

    @Test
    void getQuoteHasTheGuestAgentShapeAndTheLogReplaysToRtmr3() throws Exception {
        SimulatedCvm cvm = SimulatedCvm.builder().build();
        cvm.measureTlsCertificate(new byte[] {1, 2, 3});
        JsonNode r = M.readTree(cvm.getQuote(new byte[] {7}).json());
        List<String> names = new ArrayList<>();
        r.fieldNames().forEachRemaining(names::add);
        assertThat(names).containsExactly("quote", "event_log", "report_data", "vm_config");
        assertThat(r.get("event_log").isTextual()).isTrue();
        assertThat(r.get("vm_config").isTextual()).isTrue();
        byte[] quote = HEX.parseHex(r.get("quote").textValue());
        assertThat(quote[0]).isEqualTo((byte) 4); // v4
        assertThat(quote[48 + 520]).isEqualTo((byte) 7); // report data, zero-padded
        assertThat(r.get("report_data").textValue()).isEqualTo("07" + "00".repeat(63));
        // Independent replay of RTMR3 from the sent log (digests recomputed from name and payload).
        byte[] mr = new byte[48];
        List<String> events = new ArrayList<>();
        for (JsonNode e : M.readTree(r.get("event_log").textValue())) {
            if (e.get("imr").intValue() == 3) {
                byte[] d = DstackEventLog.runtimeDigest(e.get("event").textValue(),
                        HEX.parseHex(e.get("event_payload").textValue()));
                assertThat(e.get("digest").textValue()).isEqualTo(HEX.formatHex(d));
                MessageDigest md = MessageDigest.getInstance("SHA-384");
                md.update(mr);
                md.update(d);
                mr = md.digest();
                events.add(e.get("event").textValue());
            }
        }
        assertThat(events).containsExactly("system-preparing", "app-id", "compose-hash", "instance-id", "boot-mr-done",
                "os-image-hash", "key-provider", "system-ready", "New TLS Certificate");
        assertThat(HEX.formatHex(mr)).isEqualTo(cvm.rtmr(3));
        assertThat(HEX.formatHex(quote, 48 + 472, 48 + 520)).isEqualTo(cvm.rtmr(3));
    }

    @Test
    void keyProviderDecidesOsImageHashAndStrippedDigestsAreEmpty() throws Exception {
        SimulatedCvm local = SimulatedCvm.builder().keyProvider(SimulatedCvm.KeyProvider.LOCAL_SGX)
                .stripRuntimeDigests().build();
        String log = local.getQuote(new byte[0]).eventLog();
        assertThat(log).doesNotContain("os-image-hash").contains("\"digest\":\"\",\"event\":\"system-ready\"");
        assertThat(new String(HEX.parseHex(field(log, "key-provider")))).startsWith("{\"name\":\"local-sgx\"");
    }

    @Test
    void inputLimits() {
        SimulatedCvm cvm = SimulatedCvm.builder().build();
        assertThat(assertThrows(IllegalArgumentException.class, () -> cvm.getQuote(new byte[65])).getMessage())
                .isEqualTo("Report data is too long");
        assertThrows(IllegalArgumentException.class, () -> cvm.emitEvent("", new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> cvm.emitEvent("x", new byte[(1 << 20) + 1]));
        assertThrows(IllegalArgumentException.class, () -> SimulatedCvm.builder().mrTd("AB".repeat(48)));
        for (int i = cvm.runtimeEventCount(); i < SimulatedCvm.MAX_RUNTIME_EVENTS; i++) {
            cvm.emitEvent("e", new byte[0]);
        }
        assertThrows(IllegalArgumentException.class, () -> cvm.emitEvent("one-too-many", new byte[0]));
    }

    @Test
    void mockPccsServesThePccsPathsAndRefusesOthers() throws Exception {
        SimulatedCvm cvm = SimulatedCvm.builder().build();
        try (MockPccs pccs = MockPccs.start(cvm)) {
            String fmspc = M.readTree(M.readTree(cvm.collateralJson()).get("tcb_info").textValue()).get("fmspc").textValue();
            HttpURLConnection tcb = get(pccs.tdxUrl() + "/tcb?fmspc=" + fmspc, "GET");
            assertThat(tcb.getResponseCode()).isEqualTo(200);
            assertThat(tcb.getHeaderField("TCB-Info-Issuer-Chain")).startsWith("-----BEGIN%20CERTIFICATE");
            assertThat(new String(tcb.getInputStream().readAllBytes(), StandardCharsets.UTF_8))
                    .startsWith("{\"tcbInfo\":{").contains("\"signature\":\"");
            assertThat(get(pccs.tdxUrl() + "/tcb?fmspc=FFFFFFFFFFFF", "GET").getResponseCode()).isEqualTo(404);
            assertThat(get(pccs.baseUrl() + "/sgx/certification/v4/pckcrl?ca=other", "GET").getResponseCode()).isEqualTo(400);
            assertThat(get(pccs.baseUrl() + "/nothing", "GET").getResponseCode()).isEqualTo(404);
            assertThat(new String(get(pccs.baseUrl() + "/sgx/certification/v4/rootcacrl", "GET").getInputStream()
                    .readAllBytes(), StandardCharsets.US_ASCII)).matches("[0-9a-f]+");
            assertThat(get(pccs.tdxUrl() + "/qe/identity", "POST").getResponseCode()).isEqualTo(405);
            assertThat(pccs.requestCount("/tdx/certification/v4/tcb")).isEqualTo(2);
        }
    }

    private static HttpURLConnection get(String url, String method) throws Exception {
        HttpURLConnection c = (HttpURLConnection) URI.create(url).toURL().openConnection();
        c.setRequestMethod(method);
        return c;
    }

    private static String field(String log, String event) throws Exception {
        for (JsonNode e : M.readTree(log)) {
            if (e.get("event").textValue().equals(event)) {
                return e.get("event_payload").textValue();
            }
        }
        throw new AssertionError("no " + event);
    }

    @Test
    void misbehavioursAndPolicyJson() throws Exception {
        SimulatedCvm honest = SimulatedCvm.builder().seed(3).build();
        assertThat(honest.misbehaviours()).isEmpty();
        assertThat(SimulatedCvm.builder().seed(3).debugTd().misbehaveReplayQuote().build().misbehaviours())
                .containsExactlyInAnyOrder(SimulatedCvm.Misbehaviour.DEBUG_TD, SimulatedCvm.Misbehaviour.REPLAY_QUOTE);
        JsonNode p = new ObjectMapper().readTree(honest.policyJson("http://127.0.0.1:1/tdx/certification/v4"));
        assertThat(p.get("type").textValue()).isEqualTo("dstack_tdx");
        assertThat(p.get("expected_bootchain").get("mrtd").textValue()).isEqualTo(honest.mrTd());
        assertThat(p.get("expected_bootchain").get("rtmr2").textValue()).isEqualTo(honest.rtmr(2));
        assertThat(p.get("app_compose_raw").textValue()).isEqualTo(new String(honest.appCompose(), StandardCharsets.UTF_8));
        assertThat(p.get("os_image_hash").textValue()).isEqualTo(honest.osImageHash());
        assertThat(p.get("pccs_url").textValue()).isEqualTo("http://127.0.0.1:1/tdx/certification/v4");
        assertThat(p.get("cache_collateral").booleanValue()).isTrue();
    }
}
