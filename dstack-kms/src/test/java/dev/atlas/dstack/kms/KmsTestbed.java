package dev.atlas.dstack.kms;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.auth.AuthServer;
import dev.atlas.dstack.guest.DstackClient;
import dev.atlas.dstack.kms.internal.AuditLog;
import dev.atlas.dstack.kms.internal.LiteOsImageCheck;
import dev.atlas.dstack.ra.kms.AttestationInfoResponse;
import dev.atlas.dstack.ra.kms.BootstrapResponse;
import dev.atlas.dstack.ra.kms.KmsClient;
import dev.atlas.dstack.ra.kms.OnboardResponse;
import dev.atlas.dstack.simulator.GuestAgentSimulator;
import dev.atlas.testing.MockPccs;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.math.BigInteger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.interfaces.ECPrivateKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.UnaryOperator;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * The end-to-end fixture: a mock PCCS and one mock Intel root shared by every simulated CVM, dstack's auth server
 * ({@link AuthServer}, on port 0) whose allowlist the test writes as an operator would, and KMS nodes — each a
 * {@link KmsServer} in its own simulated CVM ({@link GuestAgentSimulator} on a Unix socket, found through
 * {@code DSTACK_AGENT_ADDRESS}), configured by a {@code kms.toml} written here, bootstrapped or onboarded over
 * HTTP exactly as the deployment guide's {@code curl} commands do. The KMS audit lines are captured.
 */
final class KmsTestbed implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();
    static final HexFormat HEX = HexFormat.of();
    /** The pki seed of every simulated CVM here ({@code GuestAgentSimulator.Builder.pkiSeed}): one mock Intel root. */
    static final long PKI_SEED = 1717;
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    final Path dir;
    final GuestAgentSimulator pkiCvm;
    final MockPccs pccs;
    final Path rootCaFile;
    final Path authConfig;
    final AuthServer auth;
    final ByteArrayOutputStream authLog = new ByteArrayOutputStream();
    final List<String> audit = new CopyOnWriteArrayList<>();
    private final Logger auditLogger = Logger.getLogger(AuditLog.LOGGER);
    private final Handler auditHandler;
    private final List<AutoCloseable> closers = new ArrayList<>();

    // the operator's allowlist
    final Set<String> osImages = new LinkedHashSet<>();
    final Set<String> kmsMrs = new LinkedHashSet<>();
    final Map<String, Set<String>> apps = new LinkedHashMap<>();
    String gatewayAppId = "e2e-gateway";

    private KmsTestbed(Path dir) throws Exception {
        this.dir = dir;
        this.pkiCvm = cvm("pki", new byte[20]);
        this.pccs = MockPccs.start(pkiCvm::collateralJson, 0);
        closers.add(pccs);
        this.rootCaFile = dir.resolve("mock-intel-root.pem");
        Files.writeString(rootCaFile, pkiCvm.mockRootCaPem());
        this.authConfig = dir.resolve("auth-config.json");
        this.auth = AuthServer.builder(authConfig).host("127.0.0.1").port(0).configSettle(Duration.ofMillis(10))
                .log(new PrintStream(authLog, true, StandardCharsets.UTF_8)).build().start();
        closers.add(auth);
        auditHandler = new Handler() {
            @Override
            public void publish(LogRecord r) {
                audit.add(r.getMessage());
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        auditLogger.addHandler(auditHandler);
        writeAuthConfig();
    }

    static KmsTestbed start(Path dir) throws Exception {
        return new KmsTestbed(dir);
    }

    URI authUrl() {
        return URI.create("http://127.0.0.1:" + auth.port());
    }

    /**
     * A simulated CVM on a Unix socket: its own seed and app id (hence its own RTMR3 and {@code mrAggregated}),
     * the shared pki seed (hence one mock Intel root and one collateral for all).
     */
    GuestAgentSimulator cvm(String name, byte[] appId) throws IOException {
        return cvm(name, appId, b -> b);
    }

    /** {@link #cvm(String, byte[])} with more builder options (KMS mode, a compose file, ...). */
    GuestAgentSimulator cvm(String name, byte[] appId, UnaryOperator<GuestAgentSimulator.Builder> more)
            throws IOException {
        Path sock = dir.resolve(name + ".sock");
        GuestAgentSimulator sim = more.apply(GuestAgentSimulator.builder().seed(seedOf(name)).pkiSeed(PKI_SEED)
                .appId(appId).internalSocket(sock)).start();
        closers.add(sim);
        return sim;
    }

    /** Each CVM its own 32-byte seed (its keys, instance id, OS image hash), from its name. */
    static byte[] seedOf(String name) {
        try {
            return java.security.MessageDigest.getInstance("SHA-256").digest(
                    ("e2e-cvm-" + name).getBytes(StandardCharsets.UTF_8));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Writes the auth server's config from the allowlists (every device allowed, TCB UpToDate). */
    synchronized void writeAuthConfig() throws IOException {
        ObjectNode c = JSON.createObjectNode();
        ArrayNode os = c.putArray("osImages");
        osImages.forEach(os::add);
        c.put("gatewayAppId", gatewayAppId);
        ObjectNode kms = c.putObject("kms");
        ArrayNode mrs = kms.putArray("mrAggregated");
        kmsMrs.forEach(mrs::add);
        kms.put("allowAnyDevice", true);
        ObjectNode a = c.putObject("apps");
        for (Map.Entry<String, Set<String>> e : apps.entrySet()) {
            ObjectNode app = a.putObject(e.getKey());
            ArrayNode hs = app.putArray("composeHashes");
            e.getValue().forEach(hs::add);
            app.put("allowAnyDevice", true);
        }
        Path tmp = dir.resolve("auth-config.json.tmp");
        Files.writeString(tmp, c.toPrettyString());
        Files.move(tmp, authConfig, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    void allowApp(String appIdHex, String composeHashHex, String osImageHex) throws IOException {
        apps.computeIfAbsent(appIdHex, k -> new LinkedHashSet<>()).add(composeHashHex);
        osImages.add(osImageHex);
        writeAuthConfig();
    }

    /**
     * A KMS node in its own simulated CVM, started (onboard listener up, no keys yet).
     *
     * @param toml a last edit of the {@code kms.toml} text (identity for none)
     */
    Node node(String name, byte appIdByte, boolean imageVerify, UnaryOperator<String> toml) throws Exception {
        byte[] appId = new byte[20];
        java.util.Arrays.fill(appId, appIdByte);
        GuestAgentSimulator sim = cvm(name, appId);
        Path certDir = Files.createDirectories(dir.resolve(name + "-certs"));
        Path images = Files.createDirectories(dir.resolve(name + "-images"));
        String text = """
                [rpc]
                address = "127.0.0.1"
                port = 0

                [rpc.tls]
                key = "%1$s/rpc.key"
                certs = "%1$s/rpc.crt"

                [rpc.tls.mutual]
                ca_certs = "%1$s/tmp-ca.crt"
                mandatory = false

                [core]
                cert_dir = "%1$s"
                subject_postfix = ".dstack"
                site_name = "e2e-%2$s"
                enforce_self_authorization = true
                attest_rpc_cert = true

                [core.attestation]
                insecure_allow_external_trust_anchors = true

                [core.attestation.urls]
                pccs = "%3$s"

                [core.attestation.root_ca]
                tdx = "%4$s"

                [core.image]
                verify = %5$s
                cache_dir = "%6$s"
                download_url = "http://127.0.0.1:9/{OS_IMAGE_HASH}.tar.gz"
                download_timeout = "2s"

                [core.auth_api]
                type = "webhook"

                [core.auth_api.webhook]
                url = "%7$s"

                [core.onboard]
                enabled = true
                auto_bootstrap_domain = ""
                address = "127.0.0.1"
                port = 0
                """.formatted(certDir, name, pccs.baseUrl(), rootCaFile, imageVerify, images, authUrl());
        Path tomlFile = dir.resolve(name + "-kms.toml");
        Files.writeString(tomlFile, toml.apply(text));
        Node n = new Node(name, sim, certDir, tomlFile);
        closers.add(n);
        n.start();
        return n;
    }

    /** One KMS: its CVM, its files, its server (restartable). */
    final class Node implements AutoCloseable {
        final String name;
        final GuestAgentSimulator cvm;
        final Path certDir;
        final Path toml;
        KmsConfig config;
        KmsServer server;

        Node(String name, GuestAgentSimulator cvm, Path certDir, Path toml) {
            this.name = name;
            this.cvm = cvm;
            this.certDir = certDir;
            this.toml = toml;
        }

        Map<String, String> env() {
            return Map.of("DSTACK_AGENT_ADDRESS", cvm.internalSocket().orElseThrow().toString());
        }

        void start() throws Exception {
            config = KmsConfig.load(toml);
            server = KmsServer.builder(config).environment(env()).osImageCheck(LiteOsImageCheck.from(config))
                    .shutdownGrace(Duration.ZERO).start();
        }

        /** Stops the server and starts a new one on the same files (a KMS restart). */
        void restart() throws Exception {
            server.close();
            start();
        }

        URI onboardBase() {
            return URI.create("http://127.0.0.1:" + server.onboardAddress().orElseThrow().getPort());
        }

        URI rpcUrl() {
            return URI.create("https://127.0.0.1:" + server.rpcAddress().getPort() + "/prpc");
        }

        /** {@code curl -X POST <onboard>/prpc/Onboard.<method>?json -d <body>}: status and body. */
        HttpResponse<String> onboardCall(String method, String body) throws Exception {
            HttpRequest r = HttpRequest.newBuilder(URI.create(onboardBase() + "/prpc/Onboard." + method + "?json"))
                    .timeout(Duration.ofSeconds(60)).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build();
            return HTTP.send(r, HttpResponse.BodyHandlers.ofString());
        }

        JsonNode onboardOk(String method, String body) throws Exception {
            HttpResponse<String> r = onboardCall(method, body);
            if (r.statusCode() != 200) {
                throw new AssertionError(name + " Onboard." + method + ": HTTP " + r.statusCode() + " " + r.body());
            }
            return JSON.readTree(r.body());
        }

        AttestationInfoResponse attestationInfo() throws Exception {
            return AttestationInfoResponse.fromJson(onboardOk("GetAttestationInfo", "{}"));
        }

        /** The operator's step: allow this KMS's measurement (full replay) on the shared auth server. */
        String allowSelf() throws Exception {
            AttestationInfoResponse info = attestationInfo();
            String mr = HEX.formatHex(info.mrAggregated());
            kmsMrs.add(mr);
            osImages.add(HEX.formatHex(info.osImageHash()));
            writeAuthConfig();
            return mr;
        }

        BootstrapResponse bootstrap(String domain) throws Exception {
            return BootstrapResponse.fromJson(onboardOk("Bootstrap", "{\"domain\":\"" + domain + "\"}"));
        }

        OnboardResponse onboard(URI source, String domain) throws Exception {
            return OnboardResponse.fromJson(onboardOk("Onboard",
                    "{\"source_url\":\"" + source + "\",\"domain\":\"" + domain + "\"}"));
        }

        /** {@code GET /finish}, then waits for the main listener. */
        void finish() throws Exception {
            HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(onboardBase() + "/finish"))
                    .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) {
                throw new AssertionError("/finish: HTTP " + r.statusCode() + " " + r.body());
            }
            server.awaitMainServer(Duration.ofSeconds(30));
        }

        /** A client that is not in a CVM: only the unattested calls (GetTempCaCert, GetMeta, ...). */
        KmsClient plainClient() {
            return KmsClient.builder(rpcUrl()).insecureSkipServerAttestation().timeout(Duration.ofSeconds(30)).build();
        }

        /** The root keys as {@code cert_dir} holds them, read without dstack-ra. */
        BigInteger[] rootKeys() throws Exception {
            String pem = Files.readString(certDir.resolve("root-ca.key"), StandardCharsets.US_ASCII);
            String b64 = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
            ECPrivateKey k = (ECPrivateKey) KeyFactory.getInstance("EC")
                    .generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(b64)));
            byte[] k256 = Files.readAllBytes(certDir.resolve("root-k256.key"));
            if (k256.length != 32) {
                throw new AssertionError("root-k256.key is " + k256.length + " bytes");
            }
            return new BigInteger[] {k.getS(), new BigInteger(1, k256)};
        }

        DstackClient agent() {
            return DstackClient.builder().endpoint(cvm.internalSocket().orElseThrow().toString()).build();
        }

        @Override
        public void close() {
            if (server != null) {
                server.close();
            }
        }
    }

    /** Audit lines containing every fragment. */
    List<String> auditLines(String... fragments) {
        List<String> out = new ArrayList<>();
        for (String l : audit) {
            boolean all = true;
            for (String f : fragments) {
                all &= l.contains(f);
            }
            if (all) {
                out.add(l);
            }
        }
        return out;
    }

    @Override
    public void close() {
        auditLogger.removeHandler(auditHandler);
        for (int i = closers.size() - 1; i >= 0; i--) {
            try {
                closers.get(i).close();
            } catch (Exception e) {
                // best effort
            }
        }
    }
}
