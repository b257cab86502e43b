package dev.atlas.dstack.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsExchange;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.gateway.GatewayConfig;
import dev.atlas.dstack.guest.DstackClient;
import dev.atlas.dstack.guest.TlsKey;
import dev.atlas.dstack.guest.TlsKeyRequest;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaTlsCertificate;
import dev.atlas.dstack.ra.prpc.PrpcHttpHandler;
import dev.atlas.dstack.simulator.GatewayRegistration;
import dev.atlas.dstack.simulator.GuestAgentSimulator;
import dev.atlas.dstack.testing.DstackTestbed;
import dev.atlas.tdx.CollateralClient;
import dev.atlas.tdx.CollateralSource;
import dev.atlas.tdx.QuoteVerifier;
import dev.atlas.testing.SimulatedCvm;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.function.Function;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The simulated CVM's side of §3.3 against a stand-in gateway RPC (an mTLS pRPC endpoint whose server certificate
 * the KMS issued to a "gateway" app CVM, as a real gateway's is): the client certificate the CVM presents, the
 * {@code RegisterCvm} request, the {@code gateway_app_id} check, the URL fallback, the loopback transport, and real
 * WireGuard between {@link WgTools} and the CVM's {@code dstack-wg0} in a namespace with HTTP over the tunnel.
 */
class GuestRegistrationTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HexFormat HEX = HexFormat.of();
    static final byte[] GW_APP = HEX.parseHex("9a7c0ffee0000000000000000000000000000001");
    static final byte[] APP = HEX.parseHex("a11ce00000000000000000000000000000000018");

    @TempDir
    static Path dir;
    static DstackTestbed tb;
    static TlsKey gwKey;
    static Path compose;
    static FakeGateway gateway;

    @BeforeAll
    static void deploy() throws Exception {
        tb = DstackTestbed.start(dir.resolve("tb"));
        byte[] defaultCompose = SimulatedCvm.DEFAULT_APP_COMPOSE.getBytes(StandardCharsets.UTF_8);
        tb.allowApp(HEX.formatHex(GW_APP), HEX.formatHex(sha256(defaultCompose)));
        GuestAgentSimulator gwCvm = tb.track(tb.cvmBuilder("gateway", GW_APP)
                .internalSocket(dir.resolve("gw-agent.sock")).start());
        gwKey = DstackClient.builder().endpoint("unix:" + gwCvm.internalSocket().orElseThrow()).build()
                .getTlsKey(TlsKeyRequest.builder().subject("gateway.test").altNames(List.of("gateway.test"))
                        .usageServerAuth(true).withAppInfo(true).build());
        // the app: gateway enabled, a port policy to report
        String c = SimulatedCvm.DEFAULT_APP_COMPOSE.replace("\"gateway_enabled\":false", "\"gateway_enabled\":true")
                .replace("\"no_instance_id\":false}", "\"no_instance_id\":false,\"port_policy\":{\"ports\":"
                        + "[{\"port\":8080,\"pp\":true}],\"restrict_mode\":true}}");
        compose = dir.resolve("app-compose.json");
        Files.writeString(compose, c);
        tb.allowApp(HEX.formatHex(APP), HEX.formatHex(sha256(c.getBytes(StandardCharsets.UTF_8))));
        gateway = tb.track(new FakeGateway(gwKey));
    }

    @AfterAll
    static void down() {
        if (tb != null) {
            tb.close();
        }
    }

    static byte[] sha256(byte[] b) throws Exception {
        return MessageDigest.getInstance("SHA-256").digest(b);
    }

    @Test
    void loopbackTransportRegistersWithAKmsClientCertificateAndTheComposePolicy() throws Exception {
        gateway.reset(req -> response("10.4.0.7", List.of(server(WgToolsTest.PK_A, "10.4.0.1/16", "gw.test:9202"))));
        int closed = closedPort();
        try (GuestAgentSimulator cvm = tb.cvmBuilder("app-loopback", APP).compose(compose)
                .internalSocket(dir.resolve("app1.sock"))
                .gatewayUrls(List.of(URI.create("https://127.0.0.1:" + closed), gateway.url()))
                .insecureGatewayLoopbackTransport().start()) {
            assertThat(cvm.vmAddress().getHostAddress()).isEqualTo("127.4.0.7");
            List<GatewayRegistration> regs = cvm.gatewayRegistrations();
            assertThat(regs).hasSize(1);
            assertThat(regs.get(0).gatewayUrl()).isEqualTo(gateway.url());
            assertThat(regs.get(0).clientIp().getHostAddress()).isEqualTo("10.4.0.7");
            assertThat(regs.get(0).servers()).containsExactly(new GatewayRegistration.Server(WgToolsTest.PK_A,
                    "10.4.0.1/16", "gw.test:9202"));
            assertThat(regs.get(0).internalPort()).isEqualTo(8090);
        }
        assertThat(gateway.calls).hasSize(1);
        Call call = gateway.calls.get(0);
        assertThat(call.path()).isEqualTo("/prpc/RegisterCvm");
        assertThat(call.body().get("client_public_key").asText()).hasSize(44);
        assertThat(call.body().get("port_policy").toString())
                .isEqualTo("{\"ports\":[{\"port\":8080,\"pp\":true}],\"restrict_mode\":true}");
        // SignCert with ext_app_info, no quote, client auth, subject dstack-guest-agent, chained to the KMS root
        X509Certificate leaf = call.clientChain().get(0);
        assertThat(leaf.getSubjectX500Principal().getName()).contains("CN=dstack-guest-agent");
        assertThat(leaf.getExtendedKeyUsage()).contains("1.3.6.1.5.5.7.3.2");
        RaTlsCertificate ra = RaTlsCertificate.parse(leaf);
        assertThat(ra.appInfo()).isPresent();
        assertThat(ra.attestation()).isEmpty();
        assertThat(ra.appId()).hasValueSatisfying(id -> assertThat(id).isEqualTo(APP));
        assertThat(leaf.getNotAfter().toInstant()).isBefore(java.time.Instant.now().plus(java.time.Duration.ofDays(11)));
    }

    @Test
    void aGatewayWhoseAppIdTheKmsDoesNotAllowIsRefusedBeforeAnyRequest() throws Exception {
        gateway.reset(req -> response("10.4.0.8", List.of(server(WgToolsTest.PK_A, "10.4.0.1/16", "gw.test:9202"))));
        tb.setGatewayAppId("0x" + "ab".repeat(20));
        try {
            assertThatThrownBy(() -> tb.cvmBuilder("app-wrong-gw", APP).compose(compose)
                    .internalSocket(dir.resolve("app2.sock")).gatewayUrls(List.of(gateway.url()))
                    .insecureGatewayLoopbackTransport().start())
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("Failed to register CVM, all dstack-gateway urls are down")
                    .hasMessageContaining("Invalid dstack-gateway app id: " + HEX.formatHex(GW_APP));
            assertThat(gateway.calls).isEmpty();
            // the substring rule, case-insensitive: a list that contains the gateway's id in upper case passes
            tb.setGatewayAppId("0x" + HEX.formatHex(GW_APP).toUpperCase() + ",0x" + "cd".repeat(20));
            try (GuestAgentSimulator cvm = tb.cvmBuilder("app-listed-gw", APP).compose(compose)
                    .internalSocket(dir.resolve("app3.sock")).gatewayUrls(List.of(gateway.url()))
                    .insecureGatewayLoopbackTransport().start()) {
                assertThat(cvm.vmAddress().getHostAddress()).isEqualTo("127.4.0.8");
            }
        } finally {
            tb.setGatewayAppId("any");
        }
    }

    @Test
    void aResponseThatWouldInjectConfigLinesIsRefused() throws Exception {
        gateway.reset(req -> response("10.4.0.9", List.of(server(WgToolsTest.PK_A, "10.4.0.1/16",
                "gw.test:9202\nPostUp = touch /tmp/pwned"))));
        assertThatThrownBy(() -> tb.cvmBuilder("app-evil-gw", APP).compose(compose)
                .internalSocket(dir.resolve("app4.sock")).gatewayUrls(List.of(gateway.url()))
                .insecureGatewayLoopbackTransport().start())
                .hasMessageContaining("wg.servers[0].endpoint").hasMessageContaining("is not host:port");
    }

    @Test
    void realWireGuardFromTheCvmNamespaceThroughTheGatewaysRegisterCvm() throws Exception {
        Optional<String> missing = NetnsFixture.unavailable();
        assumeTrue(missing.isEmpty(), () -> "real WireGuard test skipped: " + missing.orElse(""));
        try (NetnsFixture ns = NetnsFixture.create()) {
            String gwIface = "wgt" + ns.suffix;
            ns.alsoRemoveLink(gwIface);
            String gwSk = NetnsFixture.run(List.of("wg", "genkey")).strip();
            String gwPk = NetnsFixture.run(List.of("wg", "pubkey"), gwSk + "\n").strip();
            int gwPort = 40000 + Integer.parseInt(ns.suffix, 16) % 20000;
            Path gwDir = Files.createDirectories(dir.resolve("gw-" + ns.suffix));
            GatewayConfig config = GatewayConfig.parse("""
                    [core.wg]
                    private_key = "%s"
                    public_key = "%s"
                    listen_port = %d
                    ip = "%s/24"
                    reserved_net = ["%s/32"]
                    client_ip_range = "%s/24"
                    config_path = "%s"
                    interface = "%s"
                    endpoint = "%s:%d"
                    [core.sync]
                    data_dir = "%s"
                    """.formatted(gwSk, gwPk, gwPort, ns.wgIp(1), ns.wgIp(1), ns.wgIp(0),
                    gwDir.resolve(gwIface + ".conf"), gwIface, ns.hostIp(), gwPort, gwDir.resolve("data")), gwDir);
            try (RegisterCvmEndpoint gw = new RegisterCvmEndpoint(config, gwKey)) {
                assertThat(gw.wg).isInstanceOf(WgTools.class);
                String cvmIface = "wgc" + ns.suffix;
                Path wgDir = dir.resolve("cvm-wg");
                try (GuestAgentSimulator cvm = tb.cvmBuilder("app-wg", APP).compose(compose)
                        .internalSocket(dir.resolve("app5.sock")).gatewayUrls(List.of(gw.url()))
                        .wireGuardNetns(ns.netns).wireGuardInterface(cvmIface).wireGuardConfigDir(wgDir).start()) {
                    Instance registered = gw.registry.all().get(0);
                    assertThat(registered.appId()).isEqualTo(HEX.formatHex(APP));
                    assertThat(registered.reportedPolicy()).isPresent();
                    assertThat(cvm.vmAddress()).isEqualTo(registered.clientIp());
                    assertThat(NetnsFixture.run(List.of("wg", "show", gwIface, "allowed-ips")).strip())
                            .isEqualTo(registered.publicKey() + "\t" + registered.clientIp().getHostAddress() + "/32");
                    Path conf = wgDir.resolve(cvmIface + ".conf");
                    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(conf)))
                            .isEqualTo("rw-------");
                    assertThat(Files.readString(conf)).contains("ListenPort = 9182\nAddress = "
                            + registered.clientIp().getHostAddress() + "/32\n").contains("[Peer]\nPublicKey = "
                            + gwPk + "\nAllowedIPs = " + ns.wgIp(1) + "/32\nEndpoint = " + ns.hostIp() + ":" + gwPort
                            + "\nPersistentKeepalive = 25\n");

                    Path www = Files.createDirectories(dir.resolve("www"));
                    Files.writeString(www.resolve("index.txt"), "app in a CVM namespace\n");
                    int port = ns.startHttpBackend(cvm.vmAddress().getHostAddress(), www);
                    String body = WgToolsNetnsTest.httpGet(new InetSocketAddress(cvm.vmAddress(), port),
                            "/index.txt");
                    assertThat(body).contains(" 200 ").endsWith("app in a CVM namespace\n");
                    assertThat(gw.wg.latestHandshakes()).containsOnlyKeys(registered.publicKey());
                }
                // closing the CVM takes its interface down
                assertThat(ns.inNs(List.of("ip", "-o", "link", "show")).contains(cvmIface + ":")).isFalse();
            }
        }
    }

    /**
     * The gateway's mTLS RPC as far as RegisterCvm needs it: issue18-core's {@link GatewayRpc} and
     * {@link InstanceRegistry}, this branch's {@link WgControl#fromConfig} re-applied on every registry change, on a
     * JDK HTTPS listener with the gateway CVM's KMS-issued certificate.
     */
    static final class RegisterCvmEndpoint implements AutoCloseable {
        final WgControl wg;
        final InstanceRegistry registry;
        private final HttpsServer server;

        RegisterCvmEndpoint(GatewayConfig config, TlsKey key) throws Exception {
            Clock clock = Clock.systemUTC();
            this.wg = WgControl.fromConfig(config, clock);
            try {
                this.registry = new InstanceRegistry(config.wg(), Optional.empty(), clock);
                registry.addListener(app -> {
                    try {
                        wg.apply(registry.all());
                    } catch (RaException e) {
                        throw new IllegalStateException(e);
                    }
                });
                X509Certificate root = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(
                        new java.io.ByteArrayInputStream(tb.kmsRootCaPem().getBytes(StandardCharsets.US_ASCII)));
                X509Certificate intel = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(
                        Files.newInputStream(tb.mockRootCaPath()));
                DstackTdxVerifier verifier = DstackTdxVerifier.builder()
                        .quoteVerifier(QuoteVerifier.builder().insecureTrustAnchorForTesting(intel).clock(clock).build())
                        .collateralSource(CollateralSource.fetching(CollateralClient.builder().baseUrl(tb.pccsUrl())
                                .build())).clock(clock).build();
                GatewayRpc rpc = new GatewayRpc(config, registry, Optional.of(new ClientAuth(root, verifier, clock)),
                        new AuthHook(config.auth()), new GatewayNode(Optional.empty(), List::of), Optional.of(GW_APP),
                        Optional::empty, clock);
                server = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
                server.setHttpsConfigurator(new HttpsConfigurator(key.sslContext(new TrustManager[] {
                        new RecordAll()})) {
                    @Override
                    public void configure(HttpsParameters p) {
                        var params = getSSLContext().getDefaultSSLParameters();
                        params.setNeedClientAuth(true);
                        p.setSSLParameters(params);
                    }
                });
                server.createContext("/prpc", new PrpcHttpHandler(rpc.gatewayDispatcher()));
                server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
                server.start();
            } catch (Exception | Error e) {
                close();
                throw e;
            }
        }

        URI url() {
            return URI.create("https://127.0.0.1:" + server.getAddress().getPort());
        }

        @Override
        public void close() {
            if (server != null) {
                server.stop(0);
            }
            if (wg instanceof WgTools t) {
                t.removeInterface();
            }
            wg.close();
        }
    }

    // ---- the stand-in gateway ------------------------------------------------------------------------------

    record Call(String path, JsonNode body, List<X509Certificate> clientChain) {
    }

    static ObjectNode server(String pk, String ip, String endpoint) {
        ObjectNode s = JSON.createObjectNode();
        s.put("pk", pk);
        s.put("ip", ip);
        s.put("endpoint", endpoint);
        return s;
    }

    static ObjectNode response(String clientIp, List<ObjectNode> servers) {
        ObjectNode r = JSON.createObjectNode();
        ObjectNode wg = r.putObject("wg");
        wg.put("client_ip", clientIp);
        servers.forEach(wg.putArray("servers")::add);
        ObjectNode agent = r.putObject("agent");
        agent.put("external_port", 443);
        agent.put("internal_port", 8090);
        agent.put("domain", "app.test");
        agent.put("app_address_ns_prefix", "_dstack-app-address");
        r.putArray("gateways");
        return r;
    }

    static int closedPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** An mTLS pRPC endpoint with the gateway CVM's KMS-issued certificate; records each call's request and chain. */
    static final class FakeGateway implements AutoCloseable {
        final List<Call> calls = new CopyOnWriteArrayList<>();
        private volatile Function<JsonNode, JsonNode> answer;
        private final HttpsServer server;

        FakeGateway(TlsKey key) throws Exception {
            server = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
            server.setHttpsConfigurator(new HttpsConfigurator(key.sslContext(new TrustManager[] {new RecordAll()})) {
                @Override
                public void configure(HttpsParameters p) {
                    var params = getSSLContext().getDefaultSSLParameters();
                    params.setNeedClientAuth(true);
                    p.setSSLParameters(params);
                }
            });
            server.createContext("/prpc/", ex -> {
                try (ex) {
                    JsonNode body = JSON.readTree(ex.getRequestBody().readAllBytes());
                    List<X509Certificate> chain = new java.util.ArrayList<>();
                    for (Certificate c : ((HttpsExchange) ex).getSSLSession().getPeerCertificates()) {
                        chain.add((X509Certificate) c);
                    }
                    calls.add(new Call(ex.getRequestURI().getPath(), body, chain));
                    byte[] out = JSON.writeValueAsBytes(answer.apply(body));
                    ex.getResponseHeaders().add("Content-Type", "application/json");
                    ex.sendResponseHeaders(200, out.length);
                    ex.getResponseBody().write(out);
                }
            });
            server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
            server.start();
        }

        URI url() {
            return URI.create("https://127.0.0.1:" + server.getAddress().getPort());
        }

        void reset(Function<JsonNode, JsonNode> a) {
            calls.clear();
            this.answer = a;
        }

        @Override
        public void close() {
            server.stop(0);
        }
    }

    /** The stand-in's client-certificate check: any (the test inspects the recorded chain). */
    static final class RecordAll extends X509ExtendedTrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] c, String a, Socket s) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] c, String a, SSLEngine e) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] c, String a) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] c, String a, Socket s) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] c, String a, SSLEngine e) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] c, String a) {
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
