package dev.atlas.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.testing.DcapEvidence;
import dev.atlas.testing.DstackEventLog;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code eventlog verify}, {@code compose-hash}, {@code policy check}, {@code attestation verify}. */
class DstackCommandsTest {
    static final ObjectMapper M = new ObjectMapper();
    static final HexFormat HEX = HexFormat.of();

    @TempDir
    Path tmp;

    private static Path shared(String rel) {
        Path p = Path.of(System.getProperty("atlas.shared.dir", "../../shared"), "testdata", rel);
        assumeTrue(Files.exists(p), "../shared/testdata is absent: skipping CLI tests on real dstack fixtures");
        return p;
    }

    private static CliRun run(String... args) {
        return CliRun.of(args);
    }

    @Test
    void eventlogVerify_liteFixture_allFourMatch() throws Exception {
        CliRun r = run("eventlog", "verify", shared("dstack/tdx-lite-getquote.json").toString(), "--json");
        assertThat(r.code()).as(r.err()).isZero();
        var o = M.readTree(r.out());
        assertThat(o.get("ok").asBoolean()).isTrue();
        assertThat(o.get("rtmrs")).hasSize(4).allMatch(x -> x.get("match").asBoolean());
        assertThat(o.get("runtime_events")).hasSize(9).allMatch(x -> x.get("digest_sent").asText().equals("empty"));
        CliRun text = run("eventlog", "verify", shared("dstack/tdx-lite-getquote.json").toString());
        assertThat(text.out()).contains("RTMR3 match", "storage-fs = zfs", "OK: all four RTMRs match");
    }

    @Test
    void eventlogVerify_tamperedPayload_exit1_andTdxQuoteEnvelopeAccepted() throws Exception {
        ObjectNode resp = (ObjectNode) M.readTree(Files.readString(shared("dstack/tdx-lite-getquote.json")));
        String log = resp.get("event_log").asText().replace(
                "86b0e55f2fa8e4fb69d890f14f54d5612707646e2573d54e0d2ddaaade77caa9", "00".repeat(32));
        resp.put("event_log", log);
        ObjectNode envelope = M.createObjectNode().put("success", true);
        envelope.set("quote", resp);
        Path f = tmp.resolve("tampered.json");
        Files.writeString(f, envelope.toString());
        CliRun r = run("eventlog", "verify", f.toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.out()).contains("RTMR3 MISMATCH", "FAILED");
    }

    @Test
    void eventlogVerify_unreadable_exit2() throws Exception {
        Path f = tmp.resolve("bad.json");
        Files.writeString(f, "{\"quote\":\"00\",\"event_log\":{}}");
        assertThat(run("eventlog", "verify", f.toString()).code()).isEqualTo(2);
        assertThat(run("eventlog", "verify", tmp.resolve("missing.json").toString()).code()).isEqualTo(2);
    }

    @Test
    void composeHash_rawAndJsonValue() {
        CliRun raw = run("compose-hash", shared("atlas/dstack_simulator_app-compose.json").toString());
        assertThat(raw.out().trim()).isEqualTo("65b4e574f16973956908b6359920593c3b7d9f36f38e81a47f996a0c0d5435bb");
        CliRun atlas = run("compose-hash", "--json-value", shared("atlas/atlas_default_app_compose.json").toString());
        assertThat(atlas.out().trim()).isEqualTo("a372f45a6f60cacfdf6be794a0729e3fb79c43b190db2e38b91544d149d9f6b5");
    }

    @Test
    void policyCheck_validWithWarnings_invalidExit1() throws Exception {
        Path dev = tmp.resolve("dev.json");
        Files.writeString(dev, "{\"type\":\"dstack_tdx\",\"disable_runtime_verification\":true}");
        CliRun ok = run("policy", "check", dev.toString());
        assertThat(ok.code()).isZero();
        assertThat(ok.out()).contains("warning: runtime verification disabled", "valid");
        Path bad = tmp.resolve("bad.json");
        Files.writeString(bad, "{\"type\":\"dstack_tdx\",\"disable_runtime_verification\":true,\"foo\":1}");
        CliRun no = run("policy", "check", bad.toString());
        assertThat(no.code()).isEqualTo(1);
        assertThat(no.err()).contains("unknown policy field foo");
    }

    /** Writes simulated evidence (response, collateral, root, policy) and returns the common arguments. */
    private String[] simulated(boolean tamper) throws Exception {
        byte[] compose = "{\"runner\":\"docker-compose\"}".getBytes(StandardCharsets.UTF_8);
        String os = "11".repeat(32);
        byte[] cert = "certificate".getBytes(StandardCharsets.US_ASCII);
        DstackEventLog.Builder lb = DstackEventLog.dstackBoot(compose, os).tlsCertificate(cert).emptyRuntimeDigests();
        if (tamper) {
            lb.tamperPayload("compose-hash", new byte[32]);
        }
        DstackEventLog log = lb.build();
        String nonce = "00".repeat(32);
        String ekm = "ff".repeat(32);
        byte[] rd = MessageDigest.getInstance("SHA-512").digest(HEX.parseHex(nonce + ekm));
        DcapEvidence.Builder eb = DcapEvidence.tdx().mrTd("ab".repeat(48)).reportData(HEX.formatHex(rd));
        for (int i = 0; i < 4; i++) {
            eb.rtmr(i, log.rtmr(i));
        }
        DcapEvidence ev = eb.build();
        ObjectNode resp = M.createObjectNode().put("quote", HEX.formatHex(ev.quote())).put("event_log", log.json());
        Files.writeString(tmp.resolve("resp.json"), resp.toString());
        Files.writeString(tmp.resolve("coll.json"), ev.collateralJson());
        Files.write(tmp.resolve("root.der"), ev.rootCertificate().getEncoded());
        Files.write(tmp.resolve("cert.bin"), cert);
        ObjectNode policy = M.createObjectNode().put("type", "dstack_tdx");
        policy.putObject("expected_bootchain").put("mrtd", "ab".repeat(48)).put("rtmr0", log.rtmr(0))
                .put("rtmr1", log.rtmr(1)).put("rtmr2", log.rtmr(2));
        policy.put("app_compose_raw", new String(compose, StandardCharsets.UTF_8)).put("os_image_hash", os);
        Files.writeString(tmp.resolve("policy.json"), policy.toString());
        return new String[] {"attestation", "verify", tmp.resolve("resp.json").toString(), "--policy",
            tmp.resolve("policy.json").toString(), "--collateral", tmp.resolve("coll.json").toString(),
            "--root-ca", tmp.resolve("root.der").toString(), "--at", String.valueOf(ev.verificationTime().getEpochSecond()),
            "--nonce", nonce, "--ekm", ekm};
    }

    @Test
    void attestationVerify_simulatedEvidence_exit0() throws Exception {
        String[] args = simulated(false);
        String[] withJson = java.util.Arrays.copyOf(args, args.length + 1);
        withJson[args.length] = "--json";
        CliRun r = run(withJson);
        assertThat(r.code()).as(r.err()).isZero();
        var o = M.readTree(r.out());
        assertThat(o.get("tcb_status").asText()).isEqualTo("UpToDate");
        assertThat(o.get("report_data_checked").asBoolean()).isTrue();
        assertThat(o.get("certificate_checked").asBoolean()).isFalse();
        assertThat(r.err()).contains("--root-ca replaces", "no --cert");
        CliRun text = run(args);
        assertThat(text.out()).contains("verified", "compose_hash:", "runtime verification: on");
    }

    @Test
    void attestationVerify_rewrittenCompose_exit1_namesTheCheck() throws Exception {
        String[] args = simulated(true);
        String[] withJson = java.util.Arrays.copyOf(args, args.length + 1);
        withJson[args.length] = "--json";
        CliRun r = run(withJson);
        assertThat(r.code()).isEqualTo(1);
        assertThat(M.readTree(r.out()).get("error").asText()).isEqualTo("RTMR_MISMATCH");
        assertThat(M.readTree(r.out()).get("subject").asText()).isEqualTo("rtmr3");
    }

    @Test
    void attestationVerify_badPolicy_exit2() throws Exception {
        String[] args = simulated(false);
        Files.writeString(tmp.resolve("policy.json"), "{\"type\":\"dstack_tdx\"}");
        assertThat(run(args).code()).isEqualTo(2);
    }
}
