package dev.atlas.dstack.simulator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.QuoteResponse;
import dev.atlas.dstack.ra.K256PrivateKey;
import dev.atlas.dstack.ra.KeyDerivation;
import dev.atlas.dstack.ra.KmsSignatures;
import dev.atlas.dstack.ra.KmsSignatures.ChainResult;
import dev.atlas.dstack.ra.P256PrivateKey;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaTlsCertificate;
import dev.atlas.dstack.ra.RaTlsVerifier;
import dev.atlas.dstack.ra.RecoverableSignature;
import dev.atlas.dstack.ra.Secp256k1;
import dev.atlas.dstack.ra.VersionedAttestation;
import dev.atlas.tdx.CollateralClient;
import dev.atlas.tdx.CollateralSource;
import dev.atlas.tdx.Quote;
import dev.atlas.tdx.QuoteVerifier;
import dev.atlas.tdx.TdReport;
import dev.atlas.testing.MockPccs;
import dev.atlas.testing.NodePeer;
import dev.atlas.testing.SharedTestData;
import java.io.ByteArrayInputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.security.spec.EdECPrivateKeySpec;
import java.security.spec.NamedParameterSpec;
import java.security.spec.X509EncodedKeySpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real-peer interop: dstack's own JS SDK {@code @phala/dstack-sdk} (0.5.x) as a client of our
 * {@link GuestAgentSimulator}, loaded with dstack's simulator files ({@code appkeys.json},
 * {@code app-compose.json}, {@code sys-config.json} from {@code ../shared/testdata/dstack/simulator}), on Unix
 * sockets in a temporary folder (and a loopback TCP port for the SDK's http transport).
 *
 * <p>Every answer the SDK gets is checked in Java with our own code: quotes with atlas-dstack's
 * {@link DstackTdxVerifier} against the simulator's mock Intel root and a {@link MockPccs}; the
 * {@code GetKey} and {@code Sign} signature chains with dstack-ra to the KMS public key implied by
 * {@code appkeys.json}'s {@code k256_signature} (dstack's Go SDK test {@code client_web3_test.go} expects the
 * same key from dstack's own simulator); {@code GetTlsKey} certificates with {@link RaTlsCertificate} and the
 * local CA of {@code appkeys.json}; signatures with the JDK's Ed25519 and dstack-ra's secp256k1, and with the
 * SDK's curve library (noble) as a third opinion. The places where the SDK, dstack's docs or dstack's server
 * disagree are asserted as they are (see {@code docs/dstack-simulator.md}, "Interop with @phala/dstack-sdk").
 *
 * <p>node and the SDK are found by atlas-testing's {@link NodePeer} ({@code .ci/run} installs the SDK); the
 * test skips with a message when they, or the shared fixtures, are absent. Each test runs one bounded node
 * process with all its requests.
 */
class DstackSdkSimulatorInteropTest {
    static final HexFormat HEX = HexFormat.of();
    static final ObjectMapper JSON = new ObjectMapper();
    static final SecureRandom RANDOM = new SecureRandom();
    static final Duration TIMEOUT = Duration.ofSeconds(90);
    static final String DRIVER = "dstack-sdk-simulator-driver.cjs";
    /**
     * The KMS public key that {@code appkeys.json}'s {@code k256_signature} recovers to for the app id of
     * dstack's simulator fixture; dstack's Go SDK test expects it (dstack-guest's SignatureChainTest).
     */
    static final String KMS_PUBLIC_KEY = "0321529e458424ab1f710a3a57ec4dad2fb195ddca572f7469242ba6c7563085b6";
    /** The app public key that the same Go test expects for GetKey("/test/path", "test-purpose"). */
    static final String GO_APP_PUBLIC_KEY = "02818494263695e8839122dbd88e281d7380622999df4e60a14befa0f2d096fc7c";
    /**
     * The app id of dstack's simulator files: the {@code app-id} event of their {@code attestation.bin}, over which
     * {@code appkeys.json}'s {@code k256_signature} was made (without it the KMS link recovers to a key nobody holds).
     */
    static final String UPSTREAM_APP_ID = "5bb4ff9a3837357f19dc176407a5709c62eb6c56";

    @TempDir
    Path tmp;

    NodePeer peer;
    Path fixtures;
    JsonNode appkeys;
    byte[] compose;
    GuestAgentSimulator sim;
    MockPccs pccs;
    String dstackSock;
    String tappdSock;
    String http;

    @BeforeEach
    void start() throws Exception {
        peer = NodePeer.dstackSdk("the dstack JS SDK / simulator interop test");
        fixtures = SharedTestData.dir().resolve("dstack/simulator");
        for (String f : List.of("appkeys.json", "app-compose.json", "sys-config.json")) {
            assumeTrue(Files.isRegularFile(fixtures.resolve(f)),
                    fixtures.resolve(f) + " is absent: skipping the dstack JS SDK / simulator interop test");
        }
        appkeys = JSON.readTree(fixtures.resolve("appkeys.json").toFile());
        compose = Files.readAllBytes(fixtures.resolve("app-compose.json"));
        sim = GuestAgentSimulator.builder()
                .keys(fixtures.resolve("appkeys.json"))
                .compose(fixtures.resolve("app-compose.json"))
                .sysConfig(fixtures.resolve("sys-config.json"))
                .appId(HEX.parseHex(UPSTREAM_APP_ID))
                .internalSocket(tmp.resolve("dstack.sock"))
                .tappdSocket(tmp.resolve("tappd.sock"))
                .internalTcp(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                .start();
        dstackSock = sim.internalSocket().orElseThrow().toString();
        tappdSock = sim.tappdSocket().orElseThrow().toString();
        http = sim.internalUrl().orElseThrow().toString();
        pccs = MockPccs.start(sim::collateralJson, 0);
    }

    @AfterEach
    void stop() {
        if (pccs != null) {
            pccs.close();
        }
        if (sim != null) {
            sim.close();
        }
    }

    // ---- plumbing --------------------------------------------------------------------------------------

    Map<String, JsonNode> sdk(ArrayNode requests) {
        return peer.run(DstackSdkSimulatorInteropTest.class, DRIVER, tmp, requests, TIMEOUT);
    }

    Map<String, JsonNode> sdk(ArrayNode requests, Map<String, String> env) {
        return peer.run(DstackSdkSimulatorInteropTest.class, DRIVER, tmp, requests, TIMEOUT, env);
    }

    static JsonNode ok(Map<String, JsonNode> got, String id) {
        return NodePeer.ok(got, id);
    }

    static String error(Map<String, JsonNode> got, String id) {
        JsonNode a = got.get(id);
        assertThat(a.has("error")).as(id + " should fail in the SDK, got " + a).isTrue();
        return a.get("error").asText();
    }

    ObjectNode req(ArrayNode into, String id, String op, String endpoint) {
        return into.addObject().put("id", id).put("op", op).put("endpoint", endpoint);
    }

    ObjectNode tappd(ArrayNode into, String id, String op) {
        return req(into, id, op, tappdSock).put("client", "tappd");
    }

    /** atlas-dstack's verifier with the simulator's mock Intel root and our mock PCCS. */
    DstackTdxVerifier verifier() throws Exception {
        X509Certificate root = pem(sim.mockRootCaPem()).get(0);
        return DstackTdxVerifier.builder()
                .quoteVerifier(QuoteVerifier.builder().insecureTrustAnchorForTesting(root).build())
                .collateralSource(CollateralSource.fetching(CollateralClient.builder().baseUrl(pccs.baseUrl()).build()))
                .build();
    }

    /** DCAP only (no event log), for quotes inside RA-TLS certificates and attestations. */
    void verifyDcap(byte[] quote) throws Exception {
        X509Certificate root = pem(sim.mockRootCaPem()).get(0);
        CollateralSource.fetching(CollateralClient.builder().baseUrl(pccs.baseUrl()).build())
                .verify(Quote.parse(quote), QuoteVerifier.builder().insecureTrustAnchorForTesting(root).build(),
                        Instant.now());
    }

    static List<X509Certificate> pem(String pem) throws Exception {
        List<X509Certificate> out = new ArrayList<>();
        for (var c : CertificateFactory.getInstance("X.509")
                .generateCertificates(new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)))) {
            out.add((X509Certificate) c);
        }
        return out;
    }

    static byte[] pad64(byte[] rd) {
        return Arrays.copyOf(rd, 64);
    }

    static byte[] sha256(byte[] b) throws Exception {
        return MessageDigest.getInstance("SHA-256").digest(b);
    }

    static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] out = new byte[n];
        int o = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, o, p.length);
            o += p.length;
        }
        return out;
    }

    /** A secp256k1 ECDSA (r‖s) check with dstack-ra: valid when one recovery id recovers {@code pub}. */
    static boolean k256Verifies(byte[] hash, byte[] rs, byte[] pub) {
        for (int v = 0; v < 2; v++) {
            try {
                byte[] recovered = Secp256k1.recover(hash, RecoverableSignature.of(concat(rs, new byte[] {(byte) v})));
                if (Arrays.equals(recovered, Secp256k1.compress(pub))) {
                    return true;
                }
            } catch (RaException e) {
                // try the other recovery id
            }
        }
        return false;
    }

    static PublicKey ed25519Public(byte[] raw) throws Exception {
        return KeyFactory.getInstance("Ed25519")
                .generatePublic(new X509EncodedKeySpec(concat(HEX.parseHex("302a300506032b6570032100"), raw)));
    }

    static byte[] ed25519Sign(byte[] seed, byte[] data) throws Exception {
        Signature s = Signature.getInstance("Ed25519");
        s.initSign(KeyFactory.getInstance("Ed25519")
                .generatePrivate(new EdECPrivateKeySpec(NamedParameterSpec.ED25519, seed)));
        s.update(data);
        return s.sign();
    }

    static boolean ed25519Verifies(byte[] pub, byte[] data, byte[] sig) throws Exception {
        Signature s = Signature.getInstance("Ed25519");
        s.initVerify(ed25519Public(pub));
        s.update(data);
        return s.verify(sig);
    }

    String appId() {
        ArrayNode rq = JSON.createArrayNode();
        req(rq, "i", "info", dstackSock);
        return ok(sdk(rq), "i").get("app_id").asText();
    }

    // ---- the checks -------------------------------------------------------------------------------------

    /** The SDK is the pinned 0.5 line; its Version RPC reaches the simulator; isReachable is true. */
    @Test
    void versionAndReachability() {
        ArrayNode rq = JSON.createArrayNode();
        rq.addObject().put("id", "sdk").put("op", "sdkVersion");
        req(rq, "version", "version", dstackSock);
        req(rq, "reachable", "isReachable", dstackSock);
        req(rq, "reachableHttp", "isReachable", http);
        tappd(rq, "tappdReachable", "isReachable");
        Map<String, JsonNode> got = sdk(rq);
        JsonNode v = ok(got, "sdk");
        System.out.println("DstackSdkSimulatorInteropTest: @phala/dstack-sdk " + v.get("version").asText()
                + " (User-Agent version " + v.get("userAgentVersion").asText() + ") on node " + v.get("node").asText());
        assertThat(v.get("version").asText()).startsWith("0.5.");
        // Disagreement (SDK): 0.5.8's dist still says __version__ = "0.5.6" (its http User-Agent).
        assertThat(v.get("userAgentVersion").asText()).isEqualTo("0.5.6");
        JsonNode version = ok(got, "version");
        assertThat(version.get("version").asText()).isNotBlank();
        assertThat(version.has("rev")).isTrue();
        assertThat(ok(got, "reachable").get("reachable").asBoolean()).isTrue();
        assertThat(ok(got, "reachableHttp").get("reachable").asBoolean()).isTrue();
        // TappdClient.isReachable posts /prpc/Tappd.Info on the tappd socket
        assertThat(ok(got, "tappdReachable").get("reachable").asBoolean()).isTrue();
    }

    /** {@code info()}: the compose, its hash and the tcb_info the SDK parses, over the socket, http and the env. */
    @Test
    void info() throws Exception {
        ArrayNode rq = JSON.createArrayNode();
        req(rq, "sock", "info", dstackSock);
        req(rq, "http", "info", http);
        rq.addObject().put("id", "env").put("op", "info").put("client", "env");
        Map<String, JsonNode> got = sdk(rq, Map.of("DSTACK_SIMULATOR_ENDPOINT", dstackSock));
        JsonNode i = ok(got, "sock");
        assertThat(i.get("app_id").asText()).matches("[0-9a-f]{40}");
        assertThat(i.get("instance_id").asText()).matches("[0-9a-f]*");
        // dstack measures SHA-256 of app-compose.json's bytes as deployed
        assertThat(i.get("compose_hash").asText()).isEqualTo(HEX.formatHex(sha256(compose)));
        JsonNode tcb = i.get("tcb_info"); // the SDK JSON.parse()s the tcb_info string
        assertThat(tcb.isObject()).as("tcb_info parsed by the SDK").isTrue();
        for (String f : List.of("mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3")) {
            assertThat(tcb.get(f).asText()).as(f).matches("[0-9a-f]{96}");
        }
        assertThat(tcb.get("app_compose").asText()).isEqualTo(new String(compose, StandardCharsets.UTF_8));
        assertThat(tcb.get("event_log").isArray()).isTrue();
        assertThat(ok(got, "http").get("app_id")).isEqualTo(i.get("app_id"));
        assertThat(ok(got, "env").get("app_id")).isEqualTo(i.get("app_id"));
    }

    /** {@code getQuote(reportData)}: the quote carries exactly what was asked (zero-padded) and verifies. */
    @Test
    void getQuoteVerifies() throws Exception {
        byte[] short32 = new byte[32];
        byte[] full64 = new byte[64];
        RANDOM.nextBytes(short32);
        RANDOM.nextBytes(full64);
        ArrayNode rq = JSON.createArrayNode();
        req(rq, "q32", "getQuote", dstackSock).put("reportData", HEX.formatHex(short32));
        req(rq, "q64", "getQuote", http).put("reportData", HEX.formatHex(full64));
        req(rq, "q65", "getQuote", dstackSock).put("reportData", HEX.formatHex(new byte[65]));
        req(rq, "a", "attest", dstackSock).put("reportData", HEX.formatHex(short32));
        Map<String, JsonNode> got = sdk(rq);
        DstackTdxVerifier v = verifier();
        for (var c : List.of(Map.entry("q32", short32), Map.entry("q64", full64))) {
            JsonNode q = ok(got, c.getKey());
            byte[] quote = HEX.parseHex(q.get("quote").asText());
            TdReport td = Quote.parse(quote).tdReport();
            assertThat(td.reportDataBytes()).as(c.getKey()).isEqualTo(pad64(c.getValue()));
            ObjectNode resp = JSON.createObjectNode().put("quote", q.get("quote").asText())
                    .put("event_log", q.get("event_log").asText());
            v.verify(DstackTdxVerifier.Evidence.builder(QuoteResponse.parse(resp.toString()))
                    .expectedReportData(pad64(c.getValue())).skipCertificateCheck().build(), Instant.now());
            // the SDK's replayRtmrs() of the event log against the quote's RTMRs
            for (int r = 0; r < 3; r++) {
                assertThat(q.get("replayed").get(r).asText()).as("RTMR" + r).isEqualTo(td.rtmr(r));
            }
            // RTMR3 too, as the log carries the runtime events' digests (see replayRtmrsWithEmptyRuntimeDigests)
            assertThat(q.get("replayed").get(3).asText()).as("RTMR3").isEqualTo(td.rtmr(3));
        }
        // the SDK refuses more than 64 bytes itself, before asking
        assertThat(error(got, "q65")).contains("Report data is too large");
        // Attest: the versioned attestation carries the same report data and a quote that verifies
        VersionedAttestation att = VersionedAttestation.decode(HEX.parseHex(ok(got, "a").get("attestation").asText()));
        assertThat(att.reportData()).isEqualTo(pad64(short32));
        verifyDcap(att.quote());
    }

    /**
     * Disagreement (SDK): {@code replayRtmrs()} replays the digests as sent; an agent that sends RTMR3 runtime
     * events with empty digests (dstack >= 0.5.6; ours with {@code emptyRuntimeDigests()}) gets a wrong RTMR3
     * from the SDK, while atlas-dstack's verifier recomputes the digests and accepts the quote.
     */
    @Test
    void replayRtmrsWithEmptyRuntimeDigests() throws Exception {
        try (GuestAgentSimulator stripped = GuestAgentSimulator.builder().keys(fixtures.resolve("appkeys.json"))
                .compose(fixtures.resolve("app-compose.json")).sysConfig(fixtures.resolve("sys-config.json"))
                .appId(HEX.parseHex(UPSTREAM_APP_ID)).emptyRuntimeDigests()
                .internalSocket(tmp.resolve("stripped.sock")).start();
                MockPccs strippedPccs = MockPccs.start(stripped::collateralJson, 0)) {
            byte[] rd = new byte[32];
            RANDOM.nextBytes(rd);
            ArrayNode rq = JSON.createArrayNode();
            req(rq, "q", "getQuote", stripped.internalSocket().orElseThrow().toString()).put("reportData", HEX.formatHex(rd));
            JsonNode q = ok(sdk(rq), "q");
            TdReport td = Quote.parse(HEX.parseHex(q.get("quote").asText())).tdReport();
            for (int r = 0; r < 3; r++) {
                assertThat(q.get("replayed").get(r).asText()).as("RTMR" + r).isEqualTo(td.rtmr(r));
            }
            assertThat(q.get("replayed").get(3).asText()).as("the SDK's RTMR3 from empty digests").isNotEqualTo(td.rtmr(3));
            X509Certificate root = pem(stripped.mockRootCaPem()).get(0);
            ObjectNode resp = JSON.createObjectNode().put("quote", q.get("quote").asText())
                    .put("event_log", q.get("event_log").asText());
            DstackTdxVerifier.builder()
                    .quoteVerifier(QuoteVerifier.builder().insecureTrustAnchorForTesting(root).build())
                    .collateralSource(CollateralSource.fetching(CollateralClient.builder()
                            .baseUrl(strippedPccs.baseUrl()).build()))
                    .build()
                    .verify(DstackTdxVerifier.Evidence.builder(QuoteResponse.parse(resp.toString()))
                            .expectedReportData(pad64(rd)).skipCertificateCheck().build(), Instant.now());
        }
    }

    /**
     * {@code getKey(path, purpose)}: the chain verifies with dstack-ra to the KMS key implied by appkeys.json,
     * and the app key is the one dstack's Go SDK test expects from dstack's own simulator.
     */
    @Test
    void getKeyChainVerifies() throws Exception {
        ArrayNode rq = JSON.createArrayNode();
        req(rq, "info", "info", dstackSock);
        req(rq, "k", "getKey", dstackSock).put("path", "/test/path").put("purpose", "test-purpose");
        req(rq, "kAlias", "getKey", dstackSock).put("path", "/test/path").put("purpose", "test-purpose")
                .put("algorithm", "k256");
        req(rq, "ed", "getKey", dstackSock).put("path", "/test/path").put("purpose", "test-purpose")
                .put("algorithm", "ed25519");
        req(rq, "bad", "getKey", dstackSock).put("path", "/test/path").put("purpose", "x").put("algorithm", "rsa");
        req(rq, "empty", "getKey", dstackSock);
        Map<String, JsonNode> got = sdk(rq);
        byte[] appId = HEX.parseHex(ok(got, "info").get("app_id").asText());
        byte[] kms = HEX.parseHex(KMS_PUBLIC_KEY);
        K256PrivateKey appK256 = K256PrivateKey.fromScalar(HEX.parseHex(appkeys.get("k256_key").asText()));

        JsonNode k = ok(got, "k");
        byte[] key = HEX.parseHex(k.get("key").asText());
        List<byte[]> chain = new ArrayList<>();
        k.get("signature_chain").forEach(s -> chain.add(HEX.parseHex(s.asText())));
        ChainResult r = KmsSignatures.verifyGetKeyChain(key, "test-purpose", chain, appId, kms);
        assertThat(HEX.formatHex(r.appPublicKey())).isEqualTo(GO_APP_PUBLIC_KEY);
        assertThat(r.appPublicKey()).isEqualTo(appK256.publicKey());
        assertThat(key).isEqualTo(KeyDerivation.getKey(appK256, "/test/path").scalar());
        // the chain is bound to the purpose
        assertThatThrownBy(() -> KmsSignatures.verifyGetKeyChain(key, "other-purpose", chain, appId, kms))
                .isInstanceOf(RaException.class);
        assertThat(ok(got, "kAlias").get("key")).isEqualTo(k.get("key"));

        // ed25519: the same 32 bytes; the app link signs "purpose:" + hex(Ed25519 public key), which the SDK's
        // noble computes from those bytes (and the JDK checks by a signature)
        JsonNode ed = ok(got, "ed");
        assertThat(ed.get("key")).isEqualTo(k.get("key"));
        List<byte[]> edChain = new ArrayList<>();
        ed.get("signature_chain").forEach(s -> edChain.add(HEX.parseHex(s.asText())));
        assertThat(edChain).hasSize(2);
        assertThat(edChain.get(1)).isEqualTo(chain.get(1));
        byte[] probe = "probe".getBytes(StandardCharsets.UTF_8);
        ArrayNode rq2 = JSON.createArrayNode();
        rq2.addObject().put("id", "edPub").put("op", "nobleSign").put("algorithm", "ed25519")
                .put("key", HEX.formatHex(key)).put("data", HEX.formatHex(probe));
        byte[] edPub = HEX.parseHex(ok(sdk(rq2), "edPub").get("publicKey").asText());
        assertThat(ed25519Verifies(edPub, probe, ed25519Sign(key, probe))).isTrue();
        byte[] edApp = Secp256k1.recoverMessage(("test-purpose:" + HEX.formatHex(edPub)).getBytes(StandardCharsets.UTF_8),
                RecoverableSignature.of(edChain.get(0)));
        assertThat(edApp).isEqualTo(appK256.publicKey());
        assertThat(KmsSignatures.recoverK256Signer(RecoverableSignature.of(edChain.get(1)), appId, edApp)).isEqualTo(kms);

        assertThat(error(got, "bad")).isNotBlank();
        // getKey() with no arguments: path "" and purpose "" (the SDK's defaults), algorithm secp256k1
        JsonNode empty = ok(got, "empty");
        List<byte[]> emptyChain = new ArrayList<>();
        empty.get("signature_chain").forEach(s -> emptyChain.add(HEX.parseHex(s.asText())));
        KmsSignatures.verifyGetKeyChain(HEX.parseHex(empty.get("key").asText()), "", emptyChain, appId, kms);
    }

    /**
     * Disagreement (SDK transport): over a Unix socket the SDK writes {@code Content-Length} as the JS string
     * length (UTF-16 code units), not the UTF-8 byte count, so a non-ASCII path is cut short; over http it
     * uses {@code Buffer.byteLength} and works.
     */
    @Test
    void nonAsciiPathOverTheSocketAndOverHttp() throws Exception {
        String path = "/t\u00e9st/\u5bc6\u94a5";
        ArrayNode rq = JSON.createArrayNode();
        req(rq, "http", "getKey", http).put("path", path).put("purpose", "p");
        req(rq, "sock", "getKey", dstackSock).put("path", path).put("purpose", "p");
        req(rq, "after", "getKey", dstackSock).put("path", "/ascii").put("purpose", "p");
        Map<String, JsonNode> got = sdk(rq);
        K256PrivateKey appK256 = K256PrivateKey.fromScalar(HEX.parseHex(appkeys.get("k256_key").asText()));
        assertThat(ok(got, "http").get("key").asText())
                .isEqualTo(HEX.formatHex(KeyDerivation.getKey(appK256, path).scalar()));
        JsonNode sock = got.get("sock");
        System.out.println("DstackSdkSimulatorInteropTest: getKey with a non-ASCII path over the socket -> " + sock);
        assertThat(sock.has("error") || !sock.get("key").asText()
                .equals(HEX.formatHex(KeyDerivation.getKey(appK256, path).scalar())))
                .as("the SDK's socket transport cannot send a non-ASCII path intact: " + sock).isTrue();
        // a new connection per request: the next call is not disturbed
        assertThat(ok(got, "after").get("key").asText())
                .isEqualTo(HEX.formatHex(KeyDerivation.getKey(appK256, "/ascii").scalar()));
    }

    /**
     * {@code getTlsKey({...})}: the key and chain parse; the leaf is an RA-TLS certificate whose attestation
     * is bound to its key and verifies; it is signed by appkeys.json's {@code ca_cert}.
     */
    @Test
    void getTlsKeyIsAnRaTlsCertificate() throws Exception {
        ArrayNode rq = JSON.createArrayNode();
        long nb = Instant.now().getEpochSecond() - 60;
        long na = nb + 86400;
        req(rq, "ra", "getTlsKey", dstackSock).set("options", JSON.createObjectNode().put("subject", "demo.local")
                .put("usageRaTls", true).put("usageServerAuth", true).put("usageClientAuth", true)
                .put("withAppInfo", true).put("notBefore", nb).put("notAfter", na)
                .set("altNames", JSON.createArrayNode().add("demo.local").add("alt.demo.local")));
        req(rq, "plain", "getTlsKey", dstackSock).set("options", JSON.createObjectNode().put("subject", "plain"));
        req(rq, "backwards", "getTlsKey", dstackSock).set("options", JSON.createObjectNode()
                .put("notBefore", na).put("notAfter", nb));
        req(rq, "deprecated", "deriveKey", dstackSock).put("path", "/p").put("subject", "s");
        Map<String, JsonNode> got = sdk(rq);
        X509Certificate ca = pem(appkeys.get("ca_cert").asText()).get(0);

        JsonNode ra = ok(got, "ra");
        P256PrivateKey key = P256PrivateKey.fromPem(ra.get("key").asText());
        // the SDK's asUint8Array() is the PKCS#8 DER of the same key
        assertThat(P256PrivateKey.fromPkcs8(HEX.parseHex(ra.get("der").asText())).scalar()).isEqualTo(key.scalar());
        List<X509Certificate> chain = new ArrayList<>();
        for (JsonNode c : ra.get("certificate_chain")) {
            chain.addAll(pem(c.asText()));
        }
        assertThat(chain).hasSizeGreaterThanOrEqualTo(2);
        X509Certificate leaf = chain.get(0);
        assertThat(((ECPublicKey) leaf.getPublicKey()).getEncoded()).isEqualTo(key.spki());
        leaf.verify(ca.getPublicKey());
        assertThat(chain.get(chain.size() - 1)).isEqualTo(ca);
        assertThat(leaf.getIssuerX500Principal()).isEqualTo(ca.getSubjectX500Principal());
        assertThat(leaf.getSubjectX500Principal().getName()).contains("CN=demo.local");
        assertThat(leaf.getSubjectAlternativeNames().stream().map(l -> l.get(1).toString()).toList())
                .contains("demo.local", "alt.demo.local");
        assertThat(leaf.getNotBefore().toInstant().getEpochSecond()).isEqualTo(nb);
        assertThat(leaf.getNotAfter().toInstant().getEpochSecond()).isEqualTo(na);
        assertThat(leaf.getExtendedKeyUsage()).contains("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2");

        // dstack-ra's RaTlsVerifier: chain to appkeys' CA (key and DN), the attestation bound to the leaf key
        // (SHA-512("ratls-cert:" || SPKI)), DCAP with the mock root and PCCS, RTMR3 replay
        RaTlsVerifier.Result verified = RaTlsVerifier.builder().trustedCa(ca).dstackVerifier(verifier()).anyUsage()
                .build().verify(chain, Instant.now());
        assertThat(verified.report()).isPresent();
        RaTlsCertificate rc = RaTlsCertificate.parse(leaf);
        VersionedAttestation att = VersionedAttestation.decode(rc.attestation().orElseThrow());
        assertThat(att.reportData()).isEqualTo(RaTlsCertificate.reportData(leaf.getPublicKey()));
        assertThat(Quote.parse(att.quote()).tdReport().reportDataBytes())
                .isEqualTo(RaTlsCertificate.reportData(leaf.getPublicKey()));
        verifyDcap(att.quote());
        assertThat(rc.appInfo()).isPresent();
        assertThat(rc.appInfo().orElseThrow().composeHash()).isEqualTo(sha256(compose));

        // without usageRaTls: no attestation extension; the SDK's default usage is server auth
        X509Certificate plain = pem(ok(got, "plain").get("certificate_chain").get(0).asText()).get(0);
        assertThat(RaTlsCertificate.parse(plain).attestation()).isEmpty();
        plain.verify(ca.getPublicKey());
        assertThat(plain.getExtendedKeyUsage()).contains("1.3.6.1.5.5.7.3.1").doesNotContain("1.3.6.1.5.5.7.3.2");
        // the server rejects not_before >= not_after; the SDK's deprecated deriveKey throws without asking
        assertThat(error(got, "backwards")).isNotBlank();
        assertThat(error(got, "deprecated")).contains("deprecated");
    }

    /**
     * {@code sign}/{@code verify}: the simulator's signatures verify with our code (JDK Ed25519, dstack-ra
     * secp256k1) and with the SDK's noble; our signatures verify through the SDK's {@code verify} (the
     * simulator's Verify RPC); the chain behind the signing key verifies to the KMS key.
     */
    @Test
    void signAndVerifyAgreeBothWays() throws Exception {
        byte[] data = "dstack interop: sign me".getBytes(StandardCharsets.UTF_8);
        byte[] digest = sha256(data);
        ArrayNode rq = JSON.createArrayNode();
        req(rq, "info", "info", dstackSock);
        req(rq, "s-ed", "sign", dstackSock).put("algorithm", "ed25519").put("data", HEX.formatHex(data));
        req(rq, "s-k", "sign", dstackSock).put("algorithm", "secp256k1").put("data", HEX.formatHex(data));
        req(rq, "s-kp", "sign", dstackSock).put("algorithm", "secp256k1_prehashed").put("data", HEX.formatHex(digest));
        req(rq, "s-kp-bad", "sign", dstackSock).put("algorithm", "secp256k1_prehashed").put("data", HEX.formatHex(data));
        req(rq, "vms", "getKey", dstackSock).put("path", "vms").put("purpose", "signing");
        Map<String, JsonNode> got = sdk(rq);
        byte[] appId = HEX.parseHex(ok(got, "info").get("app_id").asText());
        byte[] kms = HEX.parseHex(KMS_PUBLIC_KEY);
        JsonNode vms = ok(got, "vms");
        byte[] vmsKey = HEX.parseHex(vms.get("key").asText());
        byte[] vmsPub = K256PrivateKey.fromScalar(vmsKey).publicKey();

        JsonNode ed = ok(got, "s-ed");
        byte[] edPub = HEX.parseHex(ed.get("public_key").asText());
        byte[] edSig = HEX.parseHex(ed.get("signature").asText());
        assertThat(ed25519Verifies(edPub, data, edSig)).isTrue();
        assertThat(ed25519Sign(vmsKey, data)).isEqualTo(edSig); // Ed25519 is deterministic: the same key
        assertThat(ed.get("signature_chain")).hasSize(3);
        assertThat(ed.get("signature_chain").get(0).asText()).isEqualTo(ed.get("signature").asText());
        // the app link signs "signing:" + hex(Ed25519 public key); the KMS link is appkeys' k256_signature
        byte[] edApp = Secp256k1.recoverMessage(("signing:" + HEX.formatHex(edPub)).getBytes(StandardCharsets.UTF_8),
                RecoverableSignature.of(HEX.parseHex(ed.get("signature_chain").get(1).asText())));
        assertThat(KmsSignatures.recoverK256Signer(RecoverableSignature.of(HEX.parseHex(
                ed.get("signature_chain").get(2).asText())), appId, edApp)).isEqualTo(kms);

        JsonNode k = ok(got, "s-k");
        assertThat(HEX.parseHex(k.get("public_key").asText())).isEqualTo(vmsPub);
        byte[] kSig = HEX.parseHex(k.get("signature").asText());
        assertThat(kSig).hasSize(64);
        assertThat(k256Verifies(digest, kSig, vmsPub)).as("secp256k1 signs SHA-256(data)").isTrue();
        List<byte[]> kChain = new ArrayList<>();
        for (int i = 1; i < 3; i++) {
            kChain.add(HEX.parseHex(k.get("signature_chain").get(i).asText()));
        }
        KmsSignatures.verifyGetKeyChain(vmsKey, "signing", kChain, appId, kms);
        JsonNode kp = ok(got, "s-kp");
        assertThat(kp.get("signature").asText()).isEqualTo(k.get("signature").asText()); // RFC 6979, same hash
        assertThat(error(got, "s-kp-bad")).contains("32-byte");

        // the other way: our signatures (JDK Ed25519, dstack-ra secp256k1 low-S) through the SDK's verify;
        // and the SDK's noble on the simulator's signatures
        byte[] ourSeed = new byte[32];
        RANDOM.nextBytes(ourSeed);
        K256PrivateKey ourK = K256PrivateKey.fromScalar(ourSeed);
        byte[] ourKSig = Arrays.copyOf(ourK.signHash(digest).bytes(), 64);
        byte[] ourKpSig = ourKSig; // prehashed: the digest itself is signed
        byte[] ourEdSig = ed25519Sign(ourSeed, data);
        // the Ed25519 public key of ourSeed, from the SDK's noble (nobleSign), checked against the JDK below
        ArrayNode rq2 = JSON.createArrayNode();
        rq2.addObject().put("id", "edPub").put("op", "nobleSign").put("algorithm", "ed25519")
                .put("key", HEX.formatHex(ourSeed)).put("data", HEX.formatHex(data));
        rq2.addObject().put("id", "kSign").put("op", "nobleSign").put("algorithm", "secp256k1")
                .put("key", HEX.formatHex(ourSeed)).put("data", HEX.formatHex(data));
        Map<String, JsonNode> nob = sdk(rq2);
        byte[] ourEdPub = HEX.parseHex(ok(nob, "edPub").get("publicKey").asText());
        assertThat(ed25519Verifies(ourEdPub, data, ourEdSig)).isTrue();
        assertThat(ok(nob, "edPub").get("signature").asText()).isEqualTo(HEX.formatHex(ourEdSig));
        // noble's RFC 6979 secp256k1 signature equals ours
        assertThat(ok(nob, "kSign").get("signature").asText()).isEqualTo(HEX.formatHex(ourKSig));

        byte[] tampered = data.clone();
        tampered[0] ^= 1;
        ArrayNode rq3 = JSON.createArrayNode();
        verifyReq(rq3, "v-ed", "ed25519", data, ourEdSig, ourEdPub);
        verifyReq(rq3, "v-ed-t", "ed25519", tampered, ourEdSig, ourEdPub);
        verifyReq(rq3, "v-k", "secp256k1", data, ourKSig, ourK.publicKey());
        verifyReq(rq3, "v-k-t", "secp256k1", tampered, ourKSig, ourK.publicKey());
        verifyReq(rq3, "v-kp", "secp256k1_prehashed", digest, ourKpSig, ourK.publicKey());
        verifyReq(rq3, "v-sim-ed", "ed25519", data, edSig, edPub);
        verifyReq(rq3, "v-sim-k", "secp256k1", data, kSig, vmsPub);
        noble(rq3, "n-ed", "ed25519", data, edSig, edPub);
        noble(rq3, "n-k", "secp256k1", data, kSig, vmsPub);
        noble(rq3, "n-kp", "secp256k1_prehashed", digest, HEX.parseHex(kp.get("signature").asText()), vmsPub);
        noble(rq3, "n-k-t", "secp256k1", tampered, kSig, vmsPub);
        Map<String, JsonNode> v = sdk(rq3);
        for (String id : List.of("v-ed", "v-k", "v-kp", "v-sim-ed", "v-sim-k", "n-ed", "n-k", "n-kp")) {
            assertThat(ok(v, id).get("valid").asBoolean()).as(id).isTrue();
        }
        for (String id : List.of("v-ed-t", "v-k-t", "n-k-t")) {
            assertThat(ok(v, id).get("valid").asBoolean()).as(id).isFalse();
        }
    }

    ObjectNode verifyReq(ArrayNode rq, String id, String alg, byte[] data, byte[] sig, byte[] pub) {
        return req(rq, id, "verify", dstackSock).put("algorithm", alg).put("data", HEX.formatHex(data))
                .put("signature", HEX.formatHex(sig)).put("publicKey", HEX.formatHex(pub));
    }

    static void noble(ArrayNode rq, String id, String alg, byte[] data, byte[] sig, byte[] pub) {
        rq.addObject().put("id", id).put("op", "nobleVerify").put("algorithm", alg).put("data", HEX.formatHex(data))
                .put("signature", HEX.formatHex(sig)).put("publicKey", HEX.formatHex(pub));
    }

    /**
     * The legacy {@code TappdClient} on the tappd socket: {@code tdxQuote} (default sha512 with the
     * {@code app-data} prefix, sha256, raw) and {@code deriveKey}; and what its inherited DstackClient methods
     * do there.
     */
    @Test
    void legacyTappdClient() throws Exception {
        byte[] data = "tappd report".getBytes(StandardCharsets.UTF_8);
        byte[] raw = new byte[20];
        RANDOM.nextBytes(raw);
        ArrayNode rq = JSON.createArrayNode();
        tappd(rq, "sha512", "tdxQuote").put("reportData", HEX.formatHex(data));
        tappd(rq, "sha256", "tdxQuote").put("reportData", HEX.formatHex(data)).put("hashAlgorithm", "sha256");
        tappd(rq, "raw", "tdxQuote").put("reportData", HEX.formatHex(raw)).put("hashAlgorithm", "raw");
        req(rq, "dstackRaw", "getQuote", dstackSock).put("reportData", HEX.formatHex(raw));
        tappd(rq, "derive", "deriveKey").put("path", "/tappd/path").put("subject", "tappd.local");
        tappd(rq, "info", "info");
        tappd(rq, "getKey", "getKey").put("path", "/x").put("purpose", "y");
        req(rq, "dstackRawTdx", "tdxQuote", dstackSock).put("reportData", HEX.formatHex(raw)).put("hashAlgorithm", "raw");
        Map<String, JsonNode> got = sdk(rq);
        DstackTdxVerifier v = verifier();

        byte[] sha512 = MessageDigest.getInstance("SHA-512").digest(concat("app-data:".getBytes(StandardCharsets.UTF_8), data));
        byte[] sha256 = pad64(sha256(concat("app-data:".getBytes(StandardCharsets.UTF_8), data)));
        // Disagreement (SDK vs server): TappdClient.tdxQuote(raw) left-pads short data (hex.padStart), while
        // DstackClient.getQuote sends it as is and the agent zero-pads on the right.
        byte[] leftPadded = concat(new byte[64 - raw.length], raw);
        for (var c : List.of(Map.entry("sha512", sha512), Map.entry("sha256", sha256), Map.entry("raw", leftPadded),
                Map.entry("dstackRaw", pad64(raw)), Map.entry("dstackRawTdx", pad64(raw)))) {
            JsonNode q = ok(got, c.getKey());
            ObjectNode resp = JSON.createObjectNode().put("quote", q.get("quote").asText())
                    .put("event_log", q.get("event_log").asText());
            v.verify(DstackTdxVerifier.Evidence.builder(QuoteResponse.parse(resp.toString()))
                    .expectedReportData(c.getValue()).skipCertificateCheck().build(), Instant.now());
        }
        assertThat(ok(got, "sha512").get("hash_algorithm").asText()).isEqualTo("sha512");
        assertThat(ok(got, "sha512").get("prefix").asText()).isEqualTo("app-data");

        // DeriveKey: a P-256 key derived from appkeys' k256_key and the path, certified by the local CA
        JsonNode d = ok(got, "derive");
        P256PrivateKey dk = P256PrivateKey.fromPem(d.get("key").asText());
        assertThat(dk.scalar()).isEqualTo(KeyDerivation.deriveP256FromBytes(
                HEX.parseHex(appkeys.get("k256_key").asText()), "/tappd/path".getBytes(StandardCharsets.UTF_8)).scalar());
        X509Certificate leaf = pem(d.get("certificate_chain").get(0).asText()).get(0);
        leaf.verify(pem(appkeys.get("ca_cert").asText()).get(0).getPublicKey());
        assertThat(leaf.getSubjectX500Principal().getName()).contains("CN=tappd.local");

        // Disagreement (SDK): TappdClient inherits info() and getKey(), which post /Info and /GetKey to the
        // tappd socket, where dstack serves Tappd only under /prpc: neither can work against tappd.sock (the SDK's
        // own isReachable uses /prpc/Tappd.Info)
        assertThat(error(got, "info")).isNotBlank();
        assertThat(error(got, "getKey")).isNotBlank();
        System.out.println("DstackSdkSimulatorInteropTest: TappdClient.info() on the tappd socket -> " + got.get("info"));
    }

    /**
     * {@code emitEvent}: the SDK 0.5.8 still has it; dstack's current agent removed the method. Against our
     * agent serving it (as dstack 0.5.x) the event reaches the event log and RTMR3; against one without it the
     * SDK reports success all the same (it never looks at the answer).
     */
    @Test
    void emitEvent() throws Exception {
        byte[] payload = "interop payload".getBytes(StandardCharsets.UTF_8);
        try (GuestAgentSimulator without = GuestAgentSimulator.builder().keys(fixtures.resolve("appkeys.json"))
                .compose(fixtures.resolve("app-compose.json")).sysConfig(fixtures.resolve("sys-config.json"))
                .withoutEmitEvent().internalSocket(tmp.resolve("without.sock")).start()) {
            ArrayNode rq = JSON.createArrayNode();
            req(rq, "e", "emitEvent", dstackSock).put("event", "interop").put("payload", HEX.formatHex(payload));
            req(rq, "q", "getQuote", dstackSock).put("reportData", "01");
            String w = without.internalSocket().orElseThrow().toString();
            req(rq, "e-removed", "emitEvent", w).put("event", "interop").put("payload", HEX.formatHex(payload));
            req(rq, "q-removed", "getQuote", w).put("reportData", "01");
            Map<String, JsonNode> got = sdk(rq);
            assertThat(ok(got, "e").get("emitted").asBoolean()).isTrue();
            JsonNode q = ok(got, "q");
            assertThat(q.get("event_log").asText()).contains(HEX.formatHex(payload));
            ObjectNode resp = JSON.createObjectNode().put("quote", q.get("quote").asText())
                    .put("event_log", q.get("event_log").asText());
            verifier().verify(DstackTdxVerifier.Evidence.builder(QuoteResponse.parse(resp.toString()))
                    .expectedReportData(pad64(new byte[] {1})).skipCertificateCheck().build(), Instant.now());
            // Disagreement (SDK): emitEvent resolves although the agent refused the unknown method
            assertThat(ok(got, "e-removed").get("emitted").asBoolean()).isTrue();
            assertThat(ok(got, "q-removed").get("event_log").asText()).doesNotContain(HEX.formatHex(payload));
        }
    }

    /**
     * Disagreement (SDK transport): over a Unix socket the SDK stops reading when the body has as many UTF-16
     * code units as Content-Length says bytes; a body with non-ASCII text is shorter in code units, so the SDK
     * waits for the agent to close the connection (our agent, like dstack's, closes idle keep-alive connections
     * after 10 s; one that never did would leave the SDK to its 30 s timeout). The answer itself is intact.
     */
    @Test
    void nonAsciiAnswerOverTheSocket() throws Exception {
        Path nonAscii = tmp.resolve("app-compose-utf8.json");
        Files.writeString(nonAscii, "{\"manifest_version\":2,\"name\":\"caf\u00e9 \u2603\",\"runner\":\"docker-compose\","
                + "\"docker_compose_file\":\"services: {}\",\"kms_enabled\":false}");
        try (GuestAgentSimulator utf8 = GuestAgentSimulator.builder().keys(fixtures.resolve("appkeys.json"))
                .compose(nonAscii).sysConfig(fixtures.resolve("sys-config.json"))
                .internalSocket(tmp.resolve("utf8.sock")).start()) {
            ArrayNode rq = JSON.createArrayNode();
            req(rq, "i", "info", utf8.internalSocket().orElseThrow().toString());
            JsonNode i = ok(sdk(rq), "i");
            assertThat(i.get("app_name").asText()).isEqualTo("caf\u00e9 \u2603");
            assertThat(i.get("tcb_info").get("app_compose").asText()).isEqualTo(Files.readString(nonAscii));
            System.out.println("DstackSdkSimulatorInteropTest: info() with a non-ASCII answer over the socket took "
                    + i.get("ms").asText() + " ms");
        }
    }
}
