package dev.atlas.dstack.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.atlas.dstack.guest.DstackClient;
import dev.atlas.dstack.guest.TlsKey;
import dev.atlas.dstack.guest.TlsKeyRequest;
import dev.atlas.dstack.ra.AppInfo;
import dev.atlas.dstack.ra.RaTlsCertificate;
import dev.atlas.dstack.simulator.GatewayRegistration;
import dev.atlas.dstack.simulator.GuestAgentSimulator;
import dev.atlas.dstack.testing.DstackTestbed;
import dev.atlas.testing.HeadlessChromium;
import dev.atlas.testing.SimulatedCvm;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.KeyPair;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One gateway (its own simulated CVM: RPC certificate from the guest agent through {@code rpc_domain}, own app id,
 * acme-info quotes) in front of the testbed's KMS: CVMs register with real KMS-issued certificates (through the
 * simulator's §3.3 guest side, and with hand-made calls for the attacks), the admin API with and without a token,
 * and the dashboard in headless Chromium.
 */
class GatewayServerTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HexFormat HEX = HexFormat.of();
    static final byte[] GW_APP = HEX.parseHex("9a7c0ffee0000000000000000000000000000c01");
    static final byte[] APP = HEX.parseHex("a11ce00000000000000000000000000000000c18");
    static final String TOKEN = "admin-test-token-18";

    @TempDir
    static Path dir;
    static DstackTestbed tb;
    static GatewayServer gw;
    static Path gwDir;
    static HttpServer authHook;
    static final AtomicInteger authStatus = new AtomicInteger(200);
    static final List<String> logs = new java.util.concurrent.CopyOnWriteArrayList<>();
    static Handler logHandler;
    static Logger julLogger;
    static Path gatewayCompose;
    static GuestAgentSimulator appB;
    static GuestAgentSimulator appC;
    static GuestAgentSimulator gwCvm;

    @BeforeAll
    static void deploy() throws Exception {
        logHandler = new Handler() {
            @Override
            public void publish(LogRecord r) {
                logs.add(r.getMessage());
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        julLogger = Logger.getLogger("dev.atlas.dstack.gateway");
        julLogger.addHandler(logHandler);
        tb = DstackTestbed.start(dir.resolve("tb"));
        byte[] defaultCompose = SimulatedCvm.DEFAULT_APP_COMPOSE.getBytes(StandardCharsets.UTF_8);
        String defaultHash = HEX.formatHex(sha256(defaultCompose));
        tb.allowApp(HEX.formatHex(GW_APP), defaultHash);
        tb.allowApp(HEX.formatHex(APP), defaultHash);
        String enabled = SimulatedCvm.DEFAULT_APP_COMPOSE.replace("\"gateway_enabled\":false",
                "\"gateway_enabled\":true");
        gatewayCompose = Files.writeString(dir.resolve("gw-enabled-compose.json"), enabled);
        tb.allowApp(HEX.formatHex(APP), HEX.formatHex(sha256(enabled.getBytes(StandardCharsets.UTF_8))));
        gwCvm = tb.track(tb.cvmBuilder("gateway", GW_APP).internalSocket(dir.resolve("gw.sock")).start());
        appB = tb.track(tb.cvmBuilder("app-b", APP).internalSocket(dir.resolve("b.sock")).start());
        appC = tb.track(tb.cvmBuilder("app-c", APP).internalSocket(dir.resolve("c.sock")).start());

        authHook = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        authHook.createContext("/app-auth", e -> {
            e.getRequestBody().readAllBytes();
            e.sendResponseHeaders(authStatus.get(), -1);
            e.close();
        });
        authHook.start();

        // a static wildcard certificate (the 0.5.x layout) so that acme-info has a key to quote
        gwDir = Files.createDirectories(dir.resolve("gw"));
        KeyPair wild = p256();
        X509Certificate wildCert = RaTlsCertificate.builder().subject("*.app.test").altNames(List.of("*.app.test"))
                .publicKey(wild.getPublic()).serverAuth(true).selfSigned(wild);
        Files.writeString(gwDir.resolve("wild.pem"), RaTlsCertificate.pem(wildCert));
        Files.writeString(gwDir.resolve("wild.key"), pkcs8Pem(wild));

        String toml = """
                address = "127.0.0.1"
                port = 0
                [tls]
                key = "certs/rpc.key"
                certs = "certs/rpc.crt"
                [tls.mutual]
                ca_certs = "certs/ca.crt"
                [core]
                rpc_domain = "gateway.test"
                [core.attestation]
                insecure_allow_external_trust_anchors = true
                [core.attestation.urls]
                pccs = "%s"
                [core.attestation.root_ca]
                tdx = "%s"
                [core.auth]
                enabled = true
                url = "http://127.0.0.1:%d/app-auth"
                timeout = "2s"
                [core.admin]
                enabled = true
                address = "127.0.0.1"
                port = 0
                [core.debug]
                insecure_enable_debug_rpc = true
                insecure_loopback_transport = true
                address = "127.0.0.1"
                port = 0
                [core.wg]
                public_key = "%s"
                private_key = "%s"
                [core.proxy]
                listen_addr = "127.0.0.1"
                listen_port = 0
                cert_chain = "wild.pem"
                cert_key = "wild.key"
                base_domain = "app.test"
                [core.sync]
                data_dir = "data"
                my_url = "https://gateway.test:9202"
                """.formatted(tb.pccsUrl(), tb.mockRootCaPath(), authHook.getAddress().getPort(), key(1), key(2));
        Files.writeString(gwDir.resolve("gateway.toml"), toml);
        GatewayConfig config = GatewayConfig.load(gwDir.resolve("gateway.toml"));
        gw = GatewayServer.builder(config).environment(java.util.Map.of("DSTACK_AGENT_ADDRESS", "unix:"
                + gwCvm.internalSocket().orElseThrow(), "DSTACK_GATEWAY_ADMIN_TOKEN", TOKEN)).start();
    }

    @AfterAll
    static void down() throws Exception {
        if (gw != null) {
            gw.close();
        }
        if (authHook != null) {
            authHook.stop(0);
        }
        if (tb != null) {
            tb.close();
        }
        julLogger.removeHandler(logHandler);
    }

    static KeyPair p256() throws Exception {
        java.security.KeyPairGenerator g = java.security.KeyPairGenerator.getInstance("EC");
        g.initialize(new java.security.spec.ECGenParameterSpec("secp256r1"));
        return g.generateKeyPair();
    }

    static byte[] sha256(byte[] b) throws Exception {
        return MessageDigest.getInstance("SHA-256").digest(b);
    }

    /** A base64 32-byte WireGuard-shaped key (the gateway only checks the shape). */
    static String key(int n) {
        byte[] b = new byte[32];
        b[0] = (byte) n;
        b[31] = 0x42;
        return Base64.getEncoder().encodeToString(b);
    }

    static String pkcs8Pem(KeyPair k) {
        return "-----BEGIN PRIVATE KEY-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'})
                .encodeToString(k.getPrivate().getEncoded()) + "\n-----END PRIVATE KEY-----\n";
    }

    static TlsKey clientKey(GuestAgentSimulator cvm) throws Exception {
        return DstackClient.builder().endpoint("unix:" + cvm.internalSocket().orElseThrow()).build()
                .getTlsKey(TlsKeyRequest.builder().subject("dstack-guest-agent").usageClientAuth(true)
                        .withAppInfo(true).build());
    }

    static final X509TrustManager TRUST_ALL = new X509TrustManager() {
        @Override
        public void checkClientTrusted(X509Certificate[] c, String a) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] c, String a) {
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    };

    record Reply(int status, JsonNode body, X509Certificate server) {
        String error() {
            return body.path("error").asText();
        }
    }

    /** One pRPC call over TLS (client certificate from {@code ctx}, or none), HTTP/1.1, connection closed. */
    static Reply rpc(SSLContext ctx, String method, String json) throws Exception {
        InetSocketAddress a = gw.rpcAddress();
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", a.getPort())) {
            s.setSoTimeout(20_000);
            byte[] body = json.getBytes(StandardCharsets.UTF_8);
            OutputStream out = s.getOutputStream();
            out.write(("POST /prpc/" + method + "?json HTTP/1.1\r\nHost: gateway.test\r\nContent-Type: "
                    + "application/json\r\nContent-Length: " + body.length + "\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
            InputStream in = s.getInputStream();
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            in.transferTo(all);
            String text = all.toString(StandardCharsets.UTF_8);
            int status = Integer.parseInt(text.substring(9, 12));
            String payload = text.substring(text.indexOf("\r\n\r\n") + 4);
            if (text.toLowerCase().contains("transfer-encoding: chunked")) {
                payload = payload.substring(payload.indexOf("\r\n") + 2, payload.lastIndexOf("\r\n0\r\n"));
            }
            return new Reply(status, JSON.readTree(payload),
                    (X509Certificate) s.getSession().getPeerCertificates()[0]);
        }
    }

    static SSLContext with(TlsKey k) throws Exception {
        return k.sslContext(new TrustManager[] {TRUST_ALL});
    }

    static SSLContext anonymous() throws Exception {
        SSLContext c = SSLContext.getInstance("TLS");
        c.init(null, new TrustManager[] {TRUST_ALL}, null);
        return c;
    }

    static HttpResponse<String> admin(String method, String json, String token) throws Exception {
        HttpRequest.Builder r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gw.adminAddress()
                .orElseThrow().getPort() + "/prpc/" + method + "?json")).timeout(Duration.ofSeconds(20))
                .POST(HttpRequest.BodyPublishers.ofString(json)).header("Content-Type", "application/json");
        if (token != null) {
            r.header("Authorization", "Bearer " + token);
        }
        return HttpClient.newHttpClient().send(r.build(), HttpResponse.BodyHandlers.ofString());
    }

    static JsonNode adminOk(String method, String json) throws Exception {
        HttpResponse<String> r = admin(method, json, TOKEN);
        assertThat(r.statusCode()).as(method + ": " + r.body()).isEqualTo(200);
        return JSON.readTree(r.body().isEmpty() ? "{}" : r.body());
    }

    static JsonNode hostOf(String instanceId) throws Exception {
        JsonNode info = adminOk("GetInfo", "{\"id\":\"" + instanceId + "\"}");
        return info.path("found").asBoolean() ? info.path("info") : null;
    }

    @Test
    void rpcCertificateComesFromTheGatewaysOwnAgent() throws Exception {
        Reply r = rpc(anonymous(), "Info", "{}");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body().path("base_domain").asText()).isEqualTo("app.test");
        assertThat(r.body().path("app_address_ns_prefix").asText()).isEqualTo("_dstack-app-address");
        assertThat(r.server().getSubjectX500Principal().getName()).contains("CN=dstack-gateway");
        assertThat(RaTlsCertificate.parse(r.server()).appId()).hasValueSatisfying(id -> assertThat(id)
                .isEqualTo(GW_APP));
        Path key = gwDir.resolve("certs/rpc.key");
        assertThat(Files.getPosixFilePermissions(key)).containsExactlyInAnyOrder(PosixFilePermission.OWNER_READ,
                PosixFilePermission.OWNER_WRITE);
        assertThat(Files.readString(gwDir.resolve("certs/ca.crt")).strip()).isEqualTo(tb.kmsRootCaPem().strip());
    }

    @Test
    void aSimulatedCvmRegistersItselfWithItsKmsCertificate() throws Exception {
        try (GuestAgentSimulator cvm = tb.cvmBuilder("app-self", APP).compose(gatewayCompose)
                .internalSocket(dir.resolve("self.sock"))
                .gatewayUrls(List.of(URI.create("https://127.0.0.1:" + gw.rpcAddress().getPort())))
                .insecureGatewayLoopbackTransport().start()) {
            List<GatewayRegistration> regs = cvm.gatewayRegistrations();
            assertThat(regs).hasSize(1);
            GatewayRegistration reg = regs.get(0);
            assertThat(reg.clientIp().getHostAddress()).startsWith("10.0.0.");
            assertThat(reg.servers()).hasSize(1);
            assertThat(reg.servers().get(0).publicKey()).isEqualTo(key(1));
            assertThat(reg.internalPort()).isEqualTo(8090);
            assertThat(cvm.vmAddress().getHostAddress()).isEqualTo("127.0.0." + reg.clientIp().getAddress()[3]);
            String instanceId = DstackClient.builder().endpoint("unix:" + cvm.internalSocket().orElseThrow()).build()
                    .info().instanceId();
            JsonNode host = hostOf(instanceId);
            assertThat(host).isNotNull();
            assertThat(host.path("app_id").asText()).isEqualTo(HEX.formatHex(APP));
            assertThat(host.path("ip").asText()).isEqualTo(reg.clientIp().getHostAddress());
        }
    }

    @Test
    void registerCvmResponseReRegistrationAndTheAttacks() throws Exception {
        TlsKey b = clientKey(appB);
        TlsKey c = clientKey(appC);
        AppInfo bInfo = RaTlsCertificate.parse(b.certificates().get(0)).appInfo().orElseThrow();
        String bId = HEX.formatHex(bInfo.instanceId());

        Reply first = rpc(with(b), "RegisterCvm", "{\"client_public_key\":\"" + key(10) + "\","
                + "\"port_policy\":{\"ports\":[{\"port\":8080,\"pp\":true}],\"restrict_mode\":true}}");
        assertThat(first.status()).as(first.body().toString()).isEqualTo(200);
        JsonNode wg = first.body().path("wg");
        String ip = wg.path("client_ip").asText();
        assertThat(wg.path("servers").get(0).path("pk").asText()).isEqualTo(key(1));
        assertThat(wg.path("servers").get(0).path("ip").asText()).isEqualTo("10.0.0.1");
        assertThat(wg.path("servers").get(0).path("endpoint").asText()).isEqualTo("10.0.2.2:51820");
        JsonNode agent = first.body().path("agent");
        assertThat(agent.path("external_port").asInt()).isEqualTo(443);
        assertThat(agent.path("internal_port").asInt()).isEqualTo(8090);
        assertThat(agent.path("domain").asText()).isEqualTo("app.test");
        assertThat(agent.path("app_address_ns_prefix").asText()).isEqualTo("_dstack-app-address");
        JsonNode node = first.body().path("gateways").get(0);
        assertThat(node.path("url").asText()).isEqualTo("https://gateway.test:9202");
        assertThat(node.path("wg_public_key").asText()).isEqualTo(key(1));
        assertThat(node.path("uuid").asText()).hasSize(32);

        // re-registration with a new key keeps the address
        Reply again = rpc(with(b), "RegisterCvm", "{\"client_public_key\":\"" + key(11) + "\"}");
        assertThat(again.status()).isEqualTo(200);
        assertThat(again.body().path("wg").path("client_ip").asText()).isEqualTo(ip);
        // the reported policy stays (same compose hash), admin view says so
        JsonNode pol = adminOk("GetInstancePortPolicy", "{\"instance_id\":\"" + bId + "\"}");
        assertThat(pol.path("source").asText()).isEqualTo("instance");
        assertThat(pol.path("effective").path("restrict_mode").asBoolean()).isTrue();

        // another instance with B's key: refused, logged
        Reply stolen = rpc(with(c), "RegisterCvm", "{\"client_public_key\":\"" + key(11) + "\"}");
        assertThat(stolen.status()).isEqualTo(400);
        assertThat(stolen.error()).isEqualTo("failed to allocate IP address for client: ["
                + HEX.formatHex(RaTlsCertificate.parse(c.certificates().get(0)).appInfo().orElseThrow().instanceId())
                + "] WireGuard public key is already registered to another instance");
        assertThat(logs).anyMatch(l -> l.contains("RegisterCvm refused") && l.contains("already registered to "
                + "another instance"));

        // B's instance claimed for another app (the debug service takes ids without attestation)
        HttpResponse<String> dbg = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://"
                + "127.0.0.1:" + gw.debugAddress().orElseThrow().getPort() + "/prpc/Debug.RegisterCvm?json"))
                .POST(HttpRequest.BodyPublishers.ofString("{\"client_public_key\":\"" + key(12) + "\",\"app_id\":\""
                        + "0x" + "EE".repeat(20) + "\",\"instance_id\":\"" + bId + "\"}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(dbg.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(dbg.body()).path("error").asText()).isEqualTo("failed to allocate IP address for "
                + "client: [" + bId + "] instance_id is already registered to a different app");
        assertThat(hostOf(bId).path("app_id").asText()).isEqualTo(HEX.formatHex(APP));

        // no client certificate
        Reply anon = rpc(anonymous(), "RegisterCvm", "{\"client_public_key\":\"" + key(13) + "\"}");
        assertThat(anon.status()).isEqualTo(400);
        assertThat(anon.error()).contains("Client authentication is required");

        // a certificate from another KMS: same shape (.9 app info of B), another root
        KeyPair otherRoot = p256();
        X509Certificate otherCa = RaTlsCertificate.builder().subject("Dstack KMS CA").caLevel(1)
                .publicKey(otherRoot.getPublic()).selfSigned(otherRoot);
        KeyPair leafKey = p256();
        X509Certificate leaf = RaTlsCertificate.builder().subject("dstack-guest-agent").clientAuth(true)
                .appInfo(bInfo).appId(bInfo.appId()).publicKey(leafKey.getPublic())
                .signedBy(otherCa, otherRoot.getPrivate());
        // an attacker presents its chain whatever issuers the server names
        javax.net.ssl.X509ExtendedKeyManager km = new javax.net.ssl.X509ExtendedKeyManager() {
            @Override
            public String[] getClientAliases(String t, java.security.Principal[] i) {
                return new String[] {"k"};
            }

            @Override
            public String chooseClientAlias(String[] t, java.security.Principal[] i, java.net.Socket s) {
                return "k";
            }

            @Override
            public String[] getServerAliases(String t, java.security.Principal[] i) {
                return null;
            }

            @Override
            public String chooseServerAlias(String t, java.security.Principal[] i, java.net.Socket s) {
                return null;
            }

            @Override
            public X509Certificate[] getCertificateChain(String alias) {
                return new X509Certificate[] {leaf, otherCa};
            }

            @Override
            public java.security.PrivateKey getPrivateKey(String alias) {
                return leafKey.getPrivate();
            }
        };
        SSLContext forged = SSLContext.getInstance("TLS");
        forged.init(new javax.net.ssl.KeyManager[] {km}, new TrustManager[] {TRUST_ALL}, null);
        Reply other = rpc(forged, "RegisterCvm", "{\"client_public_key\":\"" + key(14) + "\"}");
        assertThat(other.status()).isEqualTo(400);
        assertThat(other.error()).contains("trusted CA");
        assertThat(hostOf(bId).path("ip").asText()).isEqualTo(ip);
        assertThat(logs).anyMatch(l -> l.contains("RegisterCvm refused") && l.contains("client certificate"));

        // the [core.auth] hook says no
        authStatus.set(403);
        try {
            Reply denied = rpc(with(c), "RegisterCvm", "{\"client_public_key\":\"" + key(15) + "\"}");
            assertThat(denied.status()).isEqualTo(400);
            assertThat(denied.error()).contains("App authorization failed").contains("403");
        } finally {
            authStatus.set(200);
        }

        // the node marked down refuses, up again accepts
        adminOk("SetNodeStatus", "{\"id\":0,\"status\":\"down\"}");
        try {
            Reply down = rpc(with(c), "RegisterCvm", "{\"client_public_key\":\"" + key(16) + "\"}");
            assertThat(down.error()).isEqualTo("this gateway node is marked as down and cannot accept new "
                    + "registrations");
        } finally {
            adminOk("SetNodeStatus", "{\"id\":0,\"status\":\"up\"}");
        }
        assertThat(admin("SetNodeStatus", "{\"id\":0,\"status\":\"sideways\"}", TOKEN).body())
                .contains("invalid status: expected 'up' or 'down'");
        Reply ok = rpc(with(c), "RegisterCvm", "{\"client_public_key\":\"" + key(16) + "\"}");
        assertThat(ok.status()).isEqualTo(200);
        assertThat(ok.body().path("wg").path("client_ip").asText()).isNotEqualTo(ip);

        // a bad key shape
        Reply badKey = rpc(with(c), "RegisterCvm", "{\"client_public_key\":\"c2hvcnQ=\"}");
        assertThat(badKey.error()).endsWith("invalid client public key: WireGuard public key must decode to 32 "
                + "bytes");
    }

    @Test
    void getPeersOnlyForTheGatewaysOwnApp() throws Exception {
        Reply app = rpc(with(clientKey(appB)), "GetPeers", "{}");
        assertThat(app.error()).isEqualTo("Remote app id is not from dstack-gateway");
        Reply none = rpc(anonymous(), "GetPeers", "{}");
        assertThat(none.error()).isEqualTo("Client authentication is required");
        Reply self = rpc(with(clientKey(gwCvm)), "GetPeers", "{}");
        assertThat(self.status()).isEqualTo(200);
        assertThat(self.body().path("my_url").asText()).isEqualTo("https://gateway.test:9202");
        assertThat(self.body().path("peers")).hasSize(1);
    }

    @Test
    void acmeInfoQuotesTheStaticCertificateKey() throws Exception {
        Reply r = rpc(anonymous(), "AcmeInfo", "{}");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body().path("account_uri").asText()).isEmpty();
        JsonNode keys = r.body().path("quoted_hist_keys");
        assertThat(keys).hasSize(1);
        byte[] spki = HEX.parseHex(keys.get(0).path("public_key").asText());
        X509Certificate wild = (X509Certificate) java.security.cert.CertificateFactory.getInstance("X.509")
                .generateCertificate(Files.newInputStream(gwDir.resolve("wild.pem")));
        assertThat(spki).isEqualTo(wild.getPublicKey().getEncoded());
        JsonNode quote = JSON.readTree(keys.get(0).path("quote").asText());
        assertThat(quote.path("report_data").asText()).isEqualTo(HEX.formatHex(RaTlsCertificate.reportData("zt-cert",
                spki)));
        assertThat(JSON.readTree(keys.get(0).path("attestation").asText()).path("attestation").asText()).isNotEmpty();
    }

    @Test
    void adminNeedsATokenAndAnswersWithIt() throws Exception {
        HttpResponse<String> none = admin("Status", "{}", null);
        assertThat(none.statusCode()).isEqualTo(401);
        assertThat(none.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v)
                .contains("dstack-gateway admin"));
        assertThat(admin("Status", "{}", "wrong-token").statusCode()).isEqualTo(401);
        HttpResponse<String> page = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://"
                + "127.0.0.1:" + gw.adminAddress().orElseThrow().getPort() + "/")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(page.statusCode()).isEqualTo(401);
        JsonNode status = adminOk("Status", "{}");
        assertThat(status.path("url").asText()).isEqualTo("https://gateway.test:9202");
        assertThat(status.path("nodes")).hasSize(1);
        JsonNode meta = adminOk("GetMeta", "{}");
        assertThat(meta.path("registered").asInt()).isEqualTo(status.path("hosts").size());
        assertThat(adminOk("GetInfo", "{\"id\":\"00\"}").path("found").asBoolean()).isFalse();
        adminOk("ReloadCert", "{}");
        assertThat(admin("GetInstancePortPolicy", "{\"instance_id\":\"ffff\"}", TOKEN).body())
                .contains("instance ffff not found");
    }

    @Test
    void adminPortPolicyOverride() throws Exception {
        TlsKey c = clientKey(appC);
        String cId = HEX.formatHex(RaTlsCertificate.parse(c.certificates().get(0)).appInfo().orElseThrow()
                .instanceId());
        if (hostOf(cId) == null) {
            assertThat(rpc(with(c), "RegisterCvm", "{\"client_public_key\":\"" + key(30) + "\"}").status())
                    .isEqualTo(200);
        }
        adminOk("SetInstancePortPolicy", "{\"instance_id\":\"" + cId + "\",\"policy\":{\"ports\":[{\"port\":"
                + "9000,\"pp\":false}],\"restrict_mode\":true}}");
        JsonNode p = adminOk("GetInstancePortPolicy", "{\"instance_id\":\"" + cId + "\"}");
        assertThat(p.path("source").asText()).isEqualTo("admin");
        assertThat(p.path("admin_override").path("ports").get(0).path("port").asInt()).isEqualTo(9000);
        adminOk("ClearInstancePortPolicy", "{\"instance_id\":\"" + cId + "\"}");
        assertThat(adminOk("GetInstancePortPolicy", "{\"instance_id\":\"" + cId + "\"}").path("source").asText())
                .isNotEqualTo("admin");
    }

    @Test
    void dashboardListsInstancesInChromium() throws Exception {
        assumeTrue(HeadlessChromium.available(), "chromium is not installed: dashboard browser test skipped");
        TlsKey b = clientKey(appB);
        String bId = HEX.formatHex(RaTlsCertificate.parse(b.certificates().get(0)).appInfo().orElseThrow()
                .instanceId());
        if (hostOf(bId) == null) {
            assertThat(rpc(with(b), "RegisterCvm", "{\"client_public_key\":\"" + key(40) + "\"}").status())
                    .isEqualTo(200);
        }
        int n = adminOk("Status", "{}").path("hosts").size();
        String url = "http://127.0.0.1:" + gw.adminAddress().orElseThrow().getPort() + "/?token=" + TOKEN;
        try (HeadlessChromium browser = HeadlessChromium.open(Files.createDirectories(
                dir.resolve("chromium")), url)) {
            JsonNode rows = browser.waitFor("document.querySelectorAll('#instances tr').length > 1",
                    "Array.from(document.querySelectorAll('#instances tr')).slice(1).map(r => r.cells[0].textContent)",
                    Duration.ofSeconds(20));
            assertThat(rows).hasSize(n);
            assertThat(rows.toString()).contains(bId);
            assertThat(browser.eval("document.querySelector('#connections') !== null").asBoolean()).isTrue();
            assertThat(browser.eval("document.getElementById('summary').textContent").asText()).contains("up");
        }
    }
}
