package dev.atlas.dstack.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.auth.AuthConfig;
import dev.atlas.dstack.auth.AuthServer;
import dev.atlas.dstack.kms.KmsConfig;
import dev.atlas.dstack.kms.KmsServer;
import dev.atlas.dstack.simulator.GuestAgentSimulator;
import dev.atlas.testing.MockPccs;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A dstack deployment on loopback for the gateway, VMM and end-to-end tests, set up the way the deployment guide
 * has an operator do it: a mock PCCS and one mock Intel root shared by every simulated CVM, dstack's auth
 * webhook ({@link AuthServer}, port 0) whose allowlist the test edits, and a KMS ({@link KmsServer}) in its own
 * simulated CVM, configured by a written {@code kms.toml}, allowlisted by its {@code Onboard.GetAttestationInfo}
 * measurement, bootstrapped through {@code Onboard.Bootstrap} and handed over with {@code GET /finish}.
 *
 * <p>App CVMs come from {@link #cvmBuilder}: a {@link GuestAgentSimulator} builder in KMS mode against this KMS,
 * with the shared pki seed and this testbed's OS image ({@link #osImageHash()}, allowed in the auth config), so
 * that a test only allows the app id and compose hash it deploys ({@link #allowApp}). Everything is closed, in
 * reverse order, by {@link #close()}.
 */
public final class DstackTestbed implements AutoCloseable {
    /** The pki seed of every simulated CVM of a testbed: one mock Intel root, one collateral. */
    public static final long PKI_SEED = 1717;

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HexFormat HEX = HexFormat.of();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private final Path dir;
    private final MockPccs pccs;
    private final Path rootCaFile;
    private final Path authConfig;
    private final AuthServer auth;
    private final ByteArrayOutputStream authLog = new ByteArrayOutputStream();
    private final List<AutoCloseable> closers = new ArrayList<>();
    private final String osImageHash;
    private final Set<String> osImages = new LinkedHashSet<>();
    private final Set<String> kmsMrs = new LinkedHashSet<>();
    private final Map<String, Set<String>> apps = new LinkedHashMap<>();
    private String gatewayAppId = "any";
    private KmsServer kms;
    private Path kmsCertDir;

    private DstackTestbed(Path dir) throws Exception {
        this.dir = Files.createDirectories(dir);
        this.osImageHash = HEX.formatHex(sha256("dstack-testbed-os-image".getBytes(StandardCharsets.US_ASCII)));
        osImages.add(osImageHash);
        GuestAgentSimulator pkiCvm = track(GuestAgentSimulator.builder().seed(seedOf("pki")).pkiSeed(PKI_SEED)
                .appId(new byte[20]).internalSocket(dir.resolve("pki-agent.sock")).start());
        this.pccs = track(MockPccs.start(pkiCvm::collateralJson, 0));
        this.rootCaFile = dir.resolve("mock-intel-root.pem");
        Files.writeString(rootCaFile, pkiCvm.mockRootCaPem());
        this.authConfig = dir.resolve("auth-config.json");
        writeAuthConfig();
        this.auth = track(AuthServer.builder(authConfig).host("127.0.0.1").port(0).configSettle(Duration.ofMillis(10))
                .log(new PrintStream(authLog, true, StandardCharsets.UTF_8)).build().start());
    }

    /**
     * Starts the whole deployment in {@code dir} (created if missing) and returns when the KMS serves keys.
     *
     * @throws Exception when a component does not come up; what is already running is closed
     */
    public static DstackTestbed start(Path dir) throws Exception {
        DstackTestbed tb = new DstackTestbed(dir);
        try {
            tb.startKms();
            return tb;
        } catch (Exception | Error e) {
            tb.close();
            throw e;
        }
    }

    private void startKms() throws Exception {
        byte[] appId = new byte[20];
        Arrays.fill(appId, (byte) 0x4b);
        GuestAgentSimulator kmsCvm = track(GuestAgentSimulator.builder().seed(seedOf("kms")).pkiSeed(PKI_SEED)
                .appId(appId).internalSocket(dir.resolve("kms-agent.sock")).start());
        kmsCertDir = Files.createDirectories(dir.resolve("kms-certs"));
        String toml = """
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
                site_name = "testbed"
                enforce_self_authorization = true
                attest_rpc_cert = true

                [core.attestation]
                insecure_allow_external_trust_anchors = true

                [core.attestation.urls]
                pccs = "%2$s"

                [core.attestation.root_ca]
                tdx = "%3$s"

                [core.image]
                verify = false

                [core.auth_api]
                type = "webhook"

                [core.auth_api.webhook]
                url = "%4$s"

                [core.onboard]
                enabled = true
                auto_bootstrap_domain = ""
                address = "127.0.0.1"
                port = 0
                """.formatted(kmsCertDir, pccs.baseUrl(), rootCaFile, authUrl());
        Path tomlFile = dir.resolve("kms.toml");
        Files.writeString(tomlFile, toml);
        kms = track(KmsServer.builder(KmsConfig.load(tomlFile))
                .environment(Map.of("DSTACK_AGENT_ADDRESS", kmsCvm.internalSocket().orElseThrow().toString()))
                .shutdownGrace(Duration.ZERO).start());
        URI onboard = URI.create("http://127.0.0.1:" + kms.onboardAddress().orElseThrow().getPort());
        JsonNode info = onboardCall(onboard, "GetAttestationInfo", "{}");
        synchronized (this) {
            kmsMrs.add(info.path("mr_aggregated").asText());
            osImages.add(info.path("os_image_hash").asText());
        }
        writeAuthConfig();
        onboardCall(onboard, "Bootstrap", "{\"domain\":\"kms.testbed.local\"}");
        HttpResponse<String> fin = HTTP.send(HttpRequest.newBuilder(onboard.resolve("/finish"))
                .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
        if (fin.statusCode() != 200) {
            throw new IOException("testbed KMS /finish: HTTP " + fin.statusCode() + " " + fin.body());
        }
        kms.awaitMainServer(Duration.ofSeconds(30));
    }

    private static JsonNode onboardCall(URI onboard, String method, String body) throws Exception {
        HttpRequest r = HttpRequest.newBuilder(onboard.resolve("/prpc/Onboard." + method + "?json"))
                .timeout(Duration.ofSeconds(60)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        HttpResponse<String> resp = HTTP.send(r, HttpResponse.BodyHandlers.ofString());
        if (resp.statusCode() != 200) {
            throw new IOException("testbed KMS Onboard." + method + ": HTTP " + resp.statusCode() + " " + resp.body());
        }
        return JSON.readTree(resp.body());
    }

    /** The KMS's main RPC listener, {@code https://127.0.0.1:<port>} (pRPC under {@code /prpc}). */
    public URI kmsUrl() {
        return URI.create("https://127.0.0.1:" + kms.rpcAddress().getPort());
    }

    /** The KMS server itself (metrics, addresses). */
    public KmsServer kms() {
        return kms;
    }

    /** The KMS root CA certificate (PEM): the trust anchor of every app and gateway RA-TLS certificate. */
    public String kmsRootCaPem() throws IOException {
        return Files.readString(kmsCertDir.resolve("root-ca.crt"), StandardCharsets.US_ASCII);
    }

    /** The mock PCCS base URL (for {@code kmsPccsUrl}, {@code [core.attestation.urls] pccs}, a policy). */
    public String pccsUrl() {
        return pccs.baseUrl();
    }

    /** The shared mock Intel PKI seed ({@link #PKI_SEED}). */
    public long pkiSeed() {
        return PKI_SEED;
    }

    /** The mock Intel root CA as a PEM file ({@code [core.attestation.root_ca] tdx = ...}). */
    public Path mockRootCaPath() {
        return rootCaFile;
    }

    /** The auth webhook's base URL. */
    public URI authUrl() {
        return URI.create("http://127.0.0.1:" + auth.port());
    }

    /** The auth config file the webhook reads (rewritten by {@link #allowApp} and friends). */
    public Path authConfigPath() {
        return authConfig;
    }

    /** What the auth server has logged so far (its decisions, one line each). */
    public String authLog() {
        return authLog.toString(StandardCharsets.UTF_8);
    }

    /** The testbed's directory. */
    public Path dir() {
        return dir;
    }

    /** The OS image hash (hex) of every CVM built by {@link #cvmBuilder}; allowed in the auth config. */
    public String osImageHash() {
        return osImageHash;
    }

    /** Allows an app: its compose hash (hex, with or without {@code 0x}), every device, the known OS images. */
    public void allowApp(String appIdHex, String composeHashHex) throws IOException {
        synchronized (this) {
            apps.computeIfAbsent(strip(appIdHex), k -> new LinkedHashSet<>()).add(strip(composeHashHex));
        }
        writeAuthConfig();
    }

    /** Adds an OS image (hex) to the allowlist, for CVMs whose {@code vm_config} names another image. */
    public void allowOsImage(String osImageHex) throws IOException {
        synchronized (this) {
            osImages.add(strip(osImageHex));
        }
        writeAuthConfig();
    }

    /** The auth config's {@code gatewayAppId} ({@code "any"} by default: apps do not check the gateway). */
    public void setGatewayAppId(String appId) throws IOException {
        synchronized (this) {
            gatewayAppId = appId;
        }
        writeAuthConfig();
    }

    /**
     * A simulated CVM builder in KMS mode against this testbed: its seed from {@code name} (its keys and instance
     * id), the given app id, the shared pki seed and PCCS (to verify the KMS), and a {@code sys-config.json}
     * naming {@link #osImageHash()}. The caller adds sockets, compose, gateways, and starts it.
     */
    public GuestAgentSimulator.Builder cvmBuilder(String name, byte[] appId20) throws IOException {
        Path sys = dir.resolve(name + "-sys-config.json");
        ObjectNode vm = JSON.createObjectNode();
        vm.put("spec_version", 1);
        vm.put("os_image_hash", osImageHash);
        vm.put("cpu_count", 2);
        vm.put("memory_size", 2147483648L);
        ObjectNode sc = JSON.createObjectNode();
        sc.putArray("kms_urls").add(kmsUrl().toString());
        sc.putArray("gateway_urls");
        sc.put("pccs_url", pccs.baseUrl());
        sc.put("vm_config", vm.toString());
        Files.writeString(sys, sc.toPrettyString());
        return GuestAgentSimulator.builder().seed(seedOf(name)).appId(appId20).pkiSeed(PKI_SEED).kms(kmsUrl())
                .kmsPccsUrl(pccs.baseUrl()).sysConfig(sys);
    }

    /** Registers something for {@link #close()} (closed in reverse order). */
    public synchronized <T extends AutoCloseable> T track(T closeable) {
        closers.add(closeable);
        return closeable;
    }

    private synchronized void writeAuthConfig() throws IOException {
        Path tmp = dir.resolve("auth-config.json.tmp");
        Files.writeString(tmp, AuthConfig.allowAnyDeviceJson(osImages, gatewayAppId, kmsMrs, apps));
        Files.move(tmp, authConfig, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Each CVM its own 32-byte seed from its name. */
    public static byte[] seedOf(String name) {
        return sha256(("dstack-testbed-cvm-" + name).getBytes(StandardCharsets.UTF_8));
    }

    private static byte[] sha256(byte[] b) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(b);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String strip(String hex) {
        String h = hex.startsWith("0x") || hex.startsWith("0X") ? hex.substring(2) : hex;
        return h.toLowerCase(java.util.Locale.ROOT);
    }

    @Override
    public void close() {
        List<AutoCloseable> all;
        synchronized (this) {
            all = new ArrayList<>(closers);
            closers.clear();
        }
        for (int i = all.size() - 1; i >= 0; i--) {
            try {
                all.get(i).close();
            } catch (Exception e) {
                // best effort: the rest still closes
            }
        }
    }
}
