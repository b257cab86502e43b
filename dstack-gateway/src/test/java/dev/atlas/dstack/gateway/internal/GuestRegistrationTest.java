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
import dev.atlas.dstack.gateway.GatewayConfig;
import dev.atlas.dstack.gateway.GatewayServer;
import java.math.BigInteger;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.Map;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import dev.atlas.dstack.guest.DstackClient;
import dev.atlas.dstack.guest.TlsKey;
import dev.atlas.dstack.guest.TlsKeyRequest;
import dev.atlas.dstack.ra.RaTlsCertificate;
import dev.atlas.dstack.simulator.GatewayRegistration;
import dev.atlas.dstack.simulator.GuestAgentSimulator;
import dev.atlas.dstack.testing.DstackTestbed;
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
import java.security.cert.X509Certificate;
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
 * WireGuard between the whole {@code GatewayServer} (its {@link WgTools} interface) and the CVM's own interface in
 * a namespace, with HTTP over the tunnel and through the gateway's proxy.
 */
class GuestRegistrationTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HexFormat HEX = HexFormat.of();
    static final byte[] GW_APP = HEX.parseHex("9a7c0ffee0000000000000000000000000000001");
    static final byte[] APP = HEX.parseHex("a11ce00000000000000000000000000000000018");

    @TempDir
    static Path dir;
    static DstackTestbed tb;
    static final String DOMAIN = "gw.test";
    static TlsKey gwKey;
    static GuestAgentSimulator gwCvm;
    static Path compose;
    static Path plainCompose;
    static FakeGateway gateway;

    @BeforeAll
    static void deploy() throws Exception {
        tb = DstackTestbed.start(dir.resolve("tb"));
        byte[] defaultCompose = SimulatedCvm.DEFAULT_APP_COMPOSE.getBytes(StandardCharsets.UTF_8);
        tb.allowApp(HEX.formatHex(GW_APP), HEX.formatHex(sha256(defaultCompose)));
        gwCvm = tb.track(tb.cvmBuilder("gateway", GW_APP)
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
        // the real-WireGuard app: gateway enabled, no port policy (every port, no PROXY header)
        String plain = SimulatedCvm.DEFAULT_APP_COMPOSE.replace("\"gateway_enabled\":false",
                "\"gateway_enabled\":true");
        plainCompose = Files.writeString(dir.resolve("plain-compose.json"), plain);
        tb.allowApp(HEX.formatHex(APP), HEX.formatHex(sha256(plain.getBytes(StandardCharsets.UTF_8))));
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
        assertThat(leaf.getNotAfter().toInstant()).isBefore(Instant.now().plus(java.time.Duration.ofDays(11)));
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
    void realWireGuardFromTheCvmNamespaceThroughTheGatewayServerAndItsProxy() throws Exception {
        Optional<String> missing = NetnsFixture.unavailable();
        assumeTrue(missing.isEmpty(), () -> "real WireGuard test skipped: " + missing.orElse(""));
        try (NetnsFixture ns = NetnsFixture.create()) {
            String gwIface = "wgt" + ns.suffix;
            ns.alsoRemoveLink(gwIface);
            String gwSk = NetnsFixture.run(List.of("wg", "genkey")).strip();
            String gwPk = NetnsFixture.run(List.of("wg", "pubkey"), gwSk + "\n").strip();
            int gwPort = 40000 + Integer.parseInt(ns.suffix, 16) % 20000;
            Path gwDir = Files.createDirectories(dir.resolve("gw-" + ns.suffix));
            KeyPair tlsKey = KeyPairGenerator.getInstance("EC").generateKeyPair();
            X509Certificate wildcard = wildcard(tlsKey, "*." + DOMAIN);
            Files.writeString(gwDir.resolve("proxy.crt"), RaTlsCertificate.pem(wildcard));
            Files.writeString(gwDir.resolve("proxy.key"), "-----BEGIN PRIVATE KEY-----\n"
                    + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                    .encodeToString(tlsKey.getPrivate().getEncoded()) + "\n-----END PRIVATE KEY-----\n");
            // the guide's dev settings with REAL WireGuard: [core.wg] as a production host has it
            Files.writeString(gwDir.resolve("gateway.toml"), """
                    address = "127.0.0.1"
                    port = 0
                    [tls]
                    key = "certs/rpc.key"
                    certs = "certs/rpc.crt"
                    [tls.mutual]
                    ca_certs = "certs/ca.crt"
                    [core]
                    rpc_domain = "gateway.test"
                    [core.debug]
                    insecure_skip_attestation = true
                    key_file = ""
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
                    [core.proxy]
                    listen_addr = "127.0.0.1"
                    listen_port = 0
                    cert_chain = "proxy.crt"
                    cert_key = "proxy.key"
                    base_domain = "%s"
                    [core.proxy.timeouts]
                    connect = "5s"
                    [core.recycle]
                    enabled = false
                    [core.sync]
                    data_dir = "data"
                    """.formatted(gwSk, gwPk, gwPort, ns.wgIp(1), ns.wgIp(1), ns.wgIp(0),
                    gwDir.resolve(gwIface + ".conf"), gwIface, ns.hostIp(), gwPort, DOMAIN));
            try (GatewayServer gw = GatewayServer.builder(GatewayConfig.load(gwDir.resolve("gateway.toml")))
                    .environment(Map.of("DSTACK_AGENT_ADDRESS", "unix:" + gwCvm.internalSocket().orElseThrow()))
                    .start()) {
                assertThat(NetnsFixture.run(List.of("wg", "show", gwIface, "public-key")).strip()).isEqualTo(gwPk);
                String cvmIface = "wgc" + ns.suffix;
                Path wgDir = dir.resolve("cvm-wg");
                try (GuestAgentSimulator cvm = tb.cvmBuilder("app-wg", APP).compose(plainCompose)
                        .internalSocket(dir.resolve("app5.sock"))
                        .gatewayUrls(List.of(URI.create("https://127.0.0.1:" + gw.rpcAddress().getPort())))
                        .wireGuardNetns(ns.netns).wireGuardInterface(cvmIface).wireGuardConfigDir(wgDir).start()) {
                    InetAddress clientIp = cvm.gatewayRegistrations().get(0).clientIp();
                    assertThat(cvm.vmAddress()).isEqualTo(clientIp);
                    String allowed = NetnsFixture.run(List.of("wg", "show", gwIface, "allowed-ips")).strip();
                    assertThat(allowed).endsWith("\t" + clientIp.getHostAddress() + "/32");
                    String cvmPk = allowed.substring(0, allowed.indexOf('\t'));
                    Path conf = wgDir.resolve(cvmIface + ".conf");
                    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(conf)))
                            .isEqualTo("rw-------");
                    assertThat(Files.readString(conf)).contains("ListenPort = 9182\nAddress = "
                            + clientIp.getHostAddress() + "/32\n").contains("[Peer]\nPublicKey = " + gwPk
                            + "\nAllowedIPs = " + ns.wgIp(1) + "/32\nEndpoint = " + ns.hostIp() + ":" + gwPort
                            + "\nPersistentKeepalive = 25\n");

                    Path www = Files.createDirectories(dir.resolve("www"));
                    Files.writeString(www.resolve("index.txt"), "app in a CVM namespace\n");
                    int port = ns.startHttpBackend(clientIp.getHostAddress(), www);
                    // straight over the tunnel first (this also makes the first handshake)
                    String body = WgToolsNetnsTest.httpGet(new InetSocketAddress(clientIp, port), "/index.txt");
                    assertThat(body).contains(" 200 ").endsWith("app in a CVM namespace\n");
                    assertThat(NetnsFixture.run(List.of("wg", "show", gwIface, "latest-handshakes")))
                            .startsWith(cvmPk + "\t").doesNotContain("\t0\n");
                    // then as a user: https://<app_id>-<port>.<base_domain>/ through the gateway's proxy
                    String sni = HEX.formatHex(APP) + "-" + port + "." + DOMAIN;
                    String viaProxy = curl(gw.proxyAddresses().get(0).getPort(), sni, wildcard, "/index.txt");
                    assertThat(viaProxy).startsWith("HTTP/1.0 200").endsWith("app in a CVM namespace\n");
                }
                // closing the CVM takes its interface down
                assertThat(ns.inNs(List.of("ip", "-o", "link", "show")).contains(cvmIface + ":")).isFalse();
            }
        }
    }

    /** A self-signed certificate for {@code name} (the proxy's static 0.5.x certificate). */
    static X509Certificate wildcard(KeyPair k, String name) throws Exception {
        X500Name dn = new X500Name("CN=" + name);
        Instant now = Instant.now();
        JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(dn, BigInteger.valueOf(now.toEpochMilli()),
                Date.from(now.minusSeconds(60)), Date.from(now.plusSeconds(3600)), dn, k.getPublic());
        b.addExtension(Extension.subjectAlternativeName, false,
                new GeneralNames(new GeneralName(GeneralName.dNSName, name)));
        return new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA")
                .build(k.getPrivate())));
    }

    /** curl --resolve: TLS to the proxy on loopback with this SNI, the wildcard trusted, one HTTP/1.0 GET. */
    static String curl(int proxyPort, String sni, X509Certificate trusted, String path) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setCertificateEntry("gw", trusted);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        try (Socket tcp = new Socket(InetAddress.getLoopbackAddress(), proxyPort);
             SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(tcp, sni, proxyPort, true)) {
            tcp.setSoTimeout(10_000);
            SSLParameters p = s.getSSLParameters();
            p.setServerNames(List.of(new SNIHostName(sni)));
            p.setEndpointIdentificationAlgorithm("HTTPS");
            s.setSSLParameters(p);
            s.getOutputStream().write(("GET " + path + " HTTP/1.0\r\nHost: " + sni + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
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
