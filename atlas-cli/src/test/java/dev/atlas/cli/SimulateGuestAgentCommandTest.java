package dev.atlas.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.atlas.dstack.ra.KmsSignatures;
import dev.atlas.testing.NodePeer;
import dev.atlas.testing.SharedTestData;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code atlas simulate --keys appkeys.json --compose … --sys-config …}: dstack's guest agent, simulated from
 * dstack's own simulator files (dstack-simulator's {@code GuestAgentSimulator}), with the aTLS endpoint on top
 * of it; {@code atlas get} attests through that endpoint, the agent's GetKey chain verifies to the KMS key
 * implied by appkeys.json, and dstack's JS SDK (when installed) reads the same agent.
 */
class SimulateGuestAgentCommandTest {
    /** On its own thread: see SimulateAndServerCommandTest. */
    static final Executor OWN_THREAD = r -> Thread.ofPlatform().start(r);
    static final HexFormat HEX = HexFormat.of();
    static final ObjectMapper JSON = new ObjectMapper();
    /** What appkeys.json's k256_signature recovers to (dstack-guest's SignatureChainTest; dstack's Go SDK test). */
    static final String KMS_PUBLIC_KEY = "0321529e458424ab1f710a3a57ec4dad2fb195ddca572f7469242ba6c7563085b6";
    /** The app id of dstack's simulator files (their attestation.bin's), over which k256_signature was made. */
    static final String UPSTREAM_APP_ID = "5bb4ff9a3837357f19dc176407a5709c62eb6c56";

    @TempDir
    Path dir;

    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    static Path fixtures() {
        Path f = SharedTestData.dir().resolve("dstack/simulator");
        for (String n : List.of("appkeys.json", "app-compose.json", "sys-config.json")) {
            assumeTrue(Files.isRegularFile(f.resolve(n)), f.resolve(n) + " is absent: skipping");
        }
        return f;
    }

    /** The running simulator's simulation.json in {@code out}, once written (the simulator must still run). */
    static JsonNode simulationJson(Path out, CompletableFuture<CliRun> run) throws Exception {
        Path simJson = out.resolve("simulation.json");
        for (int i = 0; i < 400 && !Files.exists(simJson) && !run.isDone(); i++) {
            Thread.sleep(50);
        }
        assertThat(run.isDone()).as(() -> "simulate exited early: " + run.join()).isFalse();
        Thread.sleep(300);
        return JSON.readTree(Files.readString(simJson));
    }

    static JsonNode post(HttpClient http, String base, String method, String body) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/" + method))
                .timeout(Duration.ofSeconds(20)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(method + ": " + r.body()).isEqualTo(200);
        return JSON.readTree(r.body());
    }

    @Test
    void servesDstackFilesWithTheAtlsEndpointOnTop() throws Exception {
        Path f = fixtures();
        int port = freePort();
        Path out = dir.resolve("sim");
        Path sock = dir.resolve("dstack.sock");
        Path tappd = dir.resolve("tappd.sock");
        CompletableFuture<CliRun> run = CompletableFuture.supplyAsync(() -> CliRun.of("simulate",
                "--keys", f.resolve("appkeys.json").toString(), "--compose", f.resolve("app-compose.json").toString(),
                "--sys-config", f.resolve("sys-config.json").toString(), "--app-id", UPSTREAM_APP_ID,
                "--listen", "127.0.0.1:" + port,
                "--agent-socket", sock.toString(), "--tappd-socket", tappd.toString(), "--out", out.toString(),
                "--duration", "14"), OWN_THREAD);
        JsonNode s = simulationJson(out, run);
        assertThat(s.get("url").textValue()).isEqualTo("https://127.0.0.1:" + port);
        assertThat(s.get("agent_socket").textValue()).isEqualTo(sock.toString());
        assertThat(s.get("tappd_socket").textValue()).isEqualTo(tappd.toString());
        assertThat(s.get("app_id").textValue()).isEqualTo(UPSTREAM_APP_ID);
        assertThat(s.get("kms_public_key").textValue()).isEqualTo(KMS_PUBLIC_KEY);
        String agentUrl = s.get("agent_url").textValue();
        assertThat(agentUrl).startsWith("http://127.0.0.1:");

        // `atlas get` attests the aTLS endpoint, whose quotes come from the simulated guest agent
        String url = "https://127.0.0.1:" + port + "/hello";
        String policy = out.resolve("policy.json").toString();
        String root = out.resolve("root-ca.pem").toString();
        CliRun report = CliRun.of("get", url, "--policy", policy, "--root-ca", root, "--trust-attested-cert",
                "--report-only");
        assertThat(report.code()).as(report.err()).isZero();
        assertThat(report.err()).contains("attested 127.0.0.1:" + port).contains("UpToDate");
        CliRun get = CliRun.of("get", url, "--policy", policy, "--root-ca", root, "--trust-attested-cert");
        assertThat(get.code()).as(get.err()).isZero();
        assertThat(get.out()).contains("hello from the simulated dstack CVM");

        // the agent itself: GetKey's chain verifies to the KMS key implied by appkeys.json
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        byte[] appId = HEX.parseHex(post(http, agentUrl, "Info", "{}").get("app_id").asText());
        JsonNode k = post(http, agentUrl, "GetKey", "{\"path\":\"/test/path\",\"purpose\":\"test-purpose\"}");
        List<byte[]> chain = new ArrayList<>();
        k.get("signature_chain").forEach(x -> chain.add(HEX.parseHex(x.asText())));
        KmsSignatures.verifyGetKeyChain(HEX.parseHex(k.get("key").asText()), "test-purpose", chain, appId,
                HEX.parseHex(KMS_PUBLIC_KEY));

        // dstack's JS SDK on the Unix socket and the legacy tappd socket, when node and the SDK are installed
        if (NodePeer.findNode() != null && Files.isRegularFile(
                NodePeer.packagesDir().resolve("node_modules/@phala/dstack-sdk/package.json"))) {
            NodePeer peer = NodePeer.dstackSdk("the SDK part of " + getClass().getSimpleName());
            Path script = dir.resolve("sdk.cjs");
            Files.writeString(script, """
                    'use strict';
                    const fs = require('fs');
                    const { DstackClient, TappdClient } = require('@phala/dstack-sdk');
                    (async () => {
                      for (const r of JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))) {
                        try {
                          let a;
                          if (r.op === 'getKey') {
                            const k = await new DstackClient(r.endpoint).getKey(r.path, r.purpose);
                            a = { key: Buffer.from(k.key).toString('hex'),
                              chain: k.signature_chain.map((c) => Buffer.from(c).toString('hex')) };
                          } else if (r.op === 'info') {
                            a = { app_id: (await new DstackClient(r.endpoint).info()).app_id };
                          } else {
                            a = { reachable: await new TappdClient(r.endpoint).isReachable() };
                          }
                          process.stdout.write(JSON.stringify({ id: r.id, ...a }) + '\\n');
                        } catch (e) {
                          process.stdout.write(JSON.stringify({ id: r.id, error: String(e.message || e) }) + '\\n');
                        }
                      }
                    })();
                    """);
            ArrayNode rq = JSON.createArrayNode();
            rq.addObject().put("id", "info").put("op", "info").put("endpoint", sock.toString());
            rq.addObject().put("id", "key").put("op", "getKey").put("endpoint", sock.toString())
                    .put("path", "/test/path").put("purpose", "test-purpose");
            rq.addObject().put("id", "tappd").put("op", "tappd").put("endpoint", tappd.toString());
            Map<String, JsonNode> got = peer.run(script, dir, rq, Duration.ofSeconds(60), Map.of());
            assertThat(NodePeer.ok(got, "info").get("app_id").asText()).isEqualTo(HEX.formatHex(appId));
            assertThat(NodePeer.ok(got, "key").get("key").asText()).isEqualTo(k.get("key").asText());
            assertThat(NodePeer.ok(got, "tappd").get("reachable").asBoolean()).isTrue();
        }

        CliRun done = run.get();
        assertThat(done.code()).as(done.err()).isZero();
        assertThat(done.out()).contains("Simulated dstack guest agent")
                .contains("aTLS endpoint   https://127.0.0.1:" + port)
                .contains("guest agent     unix:" + sock)
                .contains("guest agent     " + agentUrl)
                .contains("tappd           unix:" + tappd)
                .contains("KMS public key  " + KMS_PUBLIC_KEY)
                .contains("DSTACK_SIMULATOR_ENDPOINT=" + sock);
        assertThat(done.err()).contains("quote served");
    }

    /**
     * {@code --attestation attestation.bin}: upstream's simulator mode, re-signed by the mock PKI; the app id is the
     * fixture's (no {@code --app-id} needed for the KMS key), and {@code atlas get} attests the endpoint under the
     * policy that pins the fixture's bootchain.
     */
    @Test
    void fixtureAttestationReSigned() throws Exception {
        Path f = fixtures();
        assumeTrue(Files.isRegularFile(f.resolve("attestation.bin")), "attestation.bin is absent: skipping");
        int port = freePort();
        Path out = dir.resolve("fixture");
        CompletableFuture<CliRun> run = CompletableFuture.supplyAsync(() -> CliRun.of("simulate",
                "--keys", f.resolve("appkeys.json").toString(), "--sys-config", f.resolve("sys-config.json").toString(),
                "--attestation", f.resolve("attestation.bin").toString(), "--listen", "127.0.0.1:" + port,
                "--out", out.toString(), "--duration", "8"), OWN_THREAD);
        JsonNode s = simulationJson(out, run);
        assertThat(s.get("app_id").textValue()).isEqualTo(UPSTREAM_APP_ID);
        assertThat(s.get("kms_public_key").textValue()).isEqualTo(KMS_PUBLIC_KEY);
        CliRun report = CliRun.of("get", "https://127.0.0.1:" + port + "/", "--policy",
                out.resolve("policy.json").toString(), "--root-ca", out.resolve("root-ca.pem").toString(),
                "--trust-attested-cert", "--report-only");
        assertThat(report.code()).as(report.err()).isZero();
        assertThat(report.err()).contains("UpToDate");
        CliRun done = run.get();
        assertThat(done.code()).as(done.err()).isZero();
        assertThat(done.out()).contains("attestation " + f.resolve("attestation.bin"));
    }

    @Test
    void seedAndWildcardHelpers() {
        byte[] seed = SimulateCommand.seed32(0x0102030405060708L);
        assertThat(seed).hasSize(32);
        assertThat(HEX.formatHex(seed)).isEqualTo("00".repeat(24) + "0102030405060708");
        assertThat(SimulateCommand.loopbackIfWildcard(URI.create("http://0.0.0.0:8090")))
                .isEqualTo(URI.create("http://127.0.0.1:8090"));
        assertThat(SimulateCommand.loopbackIfWildcard(URI.create("http://[::]:8090")))
                .isEqualTo(URI.create("http://127.0.0.1:8090"));
        assertThat(SimulateCommand.loopbackIfWildcard(URI.create("http://127.0.0.2:1")))
                .isEqualTo(URI.create("http://127.0.0.2:1"));
    }

    @Test
    void optionMistakesAreNamed() throws Exception {
        Path f = fixtures();
        CliRun missing = CliRun.of("simulate", "--keys", dir.resolve("nope.json").toString(), "--out",
                dir.resolve("o1").toString());
        assertThat(missing.code()).isNotZero();
        assertThat(missing.err()).contains("--keys").contains("no such file");

        CliRun misbehave = CliRun.of("simulate", "--keys", f.resolve("appkeys.json").toString(), "--debug-td",
                "--out", dir.resolve("o2").toString());
        assertThat(misbehave.code()).isEqualTo(2);
        assertThat(misbehave.err()).contains("--debug-td").contains("built-in simulated CVM");

        // a compose given as the keys: the message names the file (and the field)
        CliRun wrong = CliRun.of("simulate", "--keys", f.resolve("app-compose.json").toString(), "--out",
                dir.resolve("o3").toString());
        assertThat(wrong.code()).isEqualTo(2);
        assertThat(wrong.err()).contains("appkeys.json");

        Path inTheWay = Files.writeString(dir.resolve("regular-file"), "x");
        CliRun socket = CliRun.of("simulate", "--keys", f.resolve("appkeys.json").toString(), "--agent-socket",
                inTheWay.toString(), "--out", dir.resolve("o4").toString());
        assertThat(socket.code()).isEqualTo(2);
        assertThat(socket.err()).contains("--agent-socket").contains("in the way");
        assertThat(Files.readString(inTheWay)).isEqualTo("x");

        CliRun listen = CliRun.of("simulate", "--keys", f.resolve("appkeys.json").toString(), "--agent-listen", "nope");
        assertThat(listen.code()).isEqualTo(2);
        assertThat(listen.err()).contains("--agent-listen");

        // KMS mode: its server check is chosen explicitly, and it excludes the files' keys
        CliRun noCheck = CliRun.of("simulate", "--kms", "https://127.0.0.1:1", "--out", dir.resolve("o5").toString());
        assertThat(noCheck.code()).isEqualTo(2);
        assertThat(noCheck.err()).contains("--kms-pccs").contains("--insecure-skip-kms-attestation");
        CliRun withKeys = CliRun.of("simulate", "--kms", "https://127.0.0.1:1", "--insecure-skip-kms-attestation",
                "--keys", f.resolve("appkeys.json").toString(), "--out", dir.resolve("o6").toString());
        assertThat(withKeys.code()).isEqualTo(2);
        assertThat(withKeys.err()).contains("--kms").contains("--keys");
        CliRun stray = CliRun.of("simulate", "--kms-pccs", "http://127.0.0.1:1", "--out", dir.resolve("o7").toString());
        assertThat(stray.code()).isEqualTo(2);
        assertThat(stray.err()).contains("need --kms URL");
        // an unreachable KMS: the boot fails naming it
        CliRun down = CliRun.of("simulate", "--kms", "https://127.0.0.1:1", "--insecure-skip-kms-attestation",
                "--listen", "127.0.0.1:0", "--out", dir.resolve("o8").toString());
        assertThat(down.code()).isNotZero();
        assertThat(down.err()).contains("https://127.0.0.1:1/prpc");
    }
}
