package dev.atlas.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.dstack.simulator.GuestAgentSimulator;
import dev.atlas.testing.MockPccs;
import dev.atlas.testing.SharedTestData;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * End to end: {@code atlas guest ...} against dstack-simulator's {@link GuestAgentSimulator} loaded with dstack's
 * own simulator files ({@code ../shared/testdata/dstack/simulator}), then {@code atlas ratls inspect} and
 * {@code atlas attestation verify} on what it handed out. Skipped when {@code ../shared/testdata} is absent.
 */
@Timeout(180)
class GuestSimulatorCliTest {
    static final ObjectMapper M = new ObjectMapper();
    static final HexFormat HEX = HexFormat.of();
    /** The app id of dstack's simulator attestation.bin ({@code app-id} event). */
    static final String SIM_APP_ID = "5bb4ff9a3837357f19dc176407a5709c62eb6c56";
    /** The KMS key dstack's simulator files imply (sdk/go/dstack/client_web3_test.go; dstack-guest's SignatureChainTest). */
    static final String SIM_KMS = "0321529e458424ab1f710a3a57ec4dad2fb195ddca572f7469242ba6c7563085b6";

    @TempDir
    static Path dir;
    static GuestAgentSimulator sim;
    static MockPccs pccs;
    static String ep;
    static Path policy;
    static Path root;

    @BeforeAll
    static void start() throws Exception {
        Path files = SharedTestData.dir().resolve("dstack/simulator");
        sim = GuestAgentSimulator.builder()
                .keys(files.resolve("appkeys.json"))
                .compose(files.resolve("app-compose.json"))
                .sysConfig(files.resolve("sys-config.json"))
                .appId(HEX.parseHex(SIM_APP_ID))
                .internalSocket(dir.resolve("dstack.sock"))
                .start();
        pccs = MockPccs.start(sim::collateralJson, 0);
        ep = sim.internalSocket().orElseThrow().toString();
        policy = Files.writeString(dir.resolve("policy.json"), sim.policyJson(pccs.tdxUrl()));
        root = Files.writeString(dir.resolve("mock-root.pem"), sim.mockRootCaPem());
    }

    @AfterAll
    static void stop() throws Exception {
        if (pccs != null) {
            pccs.close();
        }
        if (sim != null) {
            sim.close();
        }
    }

    static CliRun ok(String... args) {
        CliRun r = CliRun.of(args);
        assertThat(r.code()).as("exit of %s\nstdout: %s\nstderr: %s", Arrays.toString(args), r.out(), r.err()).isZero();
        CliErrorMessagesTest.assertClean(r, args);
        return r;
    }

    /** The "done when": the key's signature chain verifies to the KMS key of dstack's simulator files. */
    @Test
    void guestKeyChainVerifiesToTheSimulatorsKmsKey() throws Exception {
        JsonNode j = M.readTree(ok("guest", "key", "/test/path", "--purpose", "test-purpose", "--json",
                "--endpoint", ep).out());
        assertThat(j.get("verified").asBoolean()).isFalse();
        assertThat(j.get("app_id").asText()).isEqualTo(SIM_APP_ID);
        assertThat(j.get("kms_public_key").asText()).isEqualTo(SIM_KMS);
        assertThat(j.get("app_public_key").asText())
                .isEqualTo("02818494263695e8839122dbd88e281d7380622999df4e60a14befa0f2d096fc7c");
        JsonNode v = M.readTree(ok("guest", "key", "/test/path", "--purpose", "test-purpose", "--json",
                "--kms-pubkey", SIM_KMS, "--endpoint", ep).out());
        assertThat(v.get("verified").asBoolean()).isTrue();
        assertThat(v.get("public_key").asText()).isEqualTo(j.get("public_key").asText());
        JsonNode ed = M.readTree(ok("guest", "key", "/test/path", "--purpose", "test-purpose", "--algorithm",
                "ed25519", "--json", "--kms-pubkey", SIM_KMS, "--endpoint", ep).out());
        assertThat(ed.get("verified").asBoolean()).isTrue();
    }

    @Test
    void infoVersionSignVerify() throws Exception {
        assertThat(M.readTree(ok("guest", "info", "--json", "--endpoint", ep).out()).get("app_id").asText())
                .isEqualTo(SIM_APP_ID);
        assertThat(ok("guest", "version", "--endpoint", ep).out()).contains("version");
        JsonNode s = M.readTree(ok("guest", "sign", "--algorithm", "ed25519", "--data", "68656c6c6f", "--json",
                "--endpoint", ep).out());
        ok("guest", "verify", "--algorithm", "ed25519", "--data", "68656c6c6f", "--signature",
                s.get("signature").asText(), "--public-key", s.get("public_key").asText(), "--endpoint", ep);
        CliRun bad = CliRun.of("guest", "verify", "--algorithm", "ed25519", "--data", "68656c6c6f", "--signature",
                s.get("signature").asText(), "--public-key", s.get("public_key").asText(), "--endpoint", ep, "--data",
                "00");
        assertThat(bad.code()).isEqualTo(2); // --data twice
    }

    /** GetTlsKey's RA-TLS certificate, saved by the CLI and verified by the CLI with the simulator's policy. */
    @Test
    void tlsKeyThenRatlsInspectVerifies() throws Exception {
        Path key = dir.resolve("tls.key");
        Path chain = dir.resolve("chain.pem");
        ok("guest", "tls-key", "--subject", "app.example", "--alt-name", "app.example", "--ra-tls", "--app-info",
                "--out-key", key.toString(), "--out-chain", chain.toString(), "--endpoint", ep);
        assertThat(Files.readString(key)).startsWith("-----BEGIN PRIVATE KEY-----");
        Path ca = Files.writeString(dir.resolve("ca.pem"), sim.appKeys().caCert());
        CliRun printed = ok("ratls", "inspect", chain.toString());
        assertThat(printed.out()).contains("app:custom", "matches the certificate key", SIM_APP_ID);
        CliRun r = ok("ratls", "inspect", chain.toString(), "--chain", "--ca", ca.toString(), "--policy",
                policy.toString(), "--root-ca", root.toString(), "--usage", "app:custom");
        assertThat(r.out()).contains("VERIFIED");
    }

    /** {@code guest quote --json} is a GetQuote response that {@code attestation verify} accepts. */
    @Test
    void quoteJsonFeedsAttestationVerify() throws Exception {
        byte[] nonce = "atlas-cli".getBytes(StandardCharsets.UTF_8);
        Path q = Files.writeString(dir.resolve("quote.json"), ok("guest", "quote", "--nonce-text", "atlas-cli", "--json",
                "--endpoint", ep).out());
        CliRun r = ok("attestation", "verify", q.toString(), "--policy", policy.toString(), "--root-ca",
                root.toString(), "--report-data", HEX.formatHex(Arrays.copyOf(nonce, 64)));
        assertThat(r.out()).contains("verified");
    }
}
