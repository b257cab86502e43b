package dev.atlas.dstack.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.QuoteResponse;
import dev.atlas.dstack.gateway.GatewayConfig;
import dev.atlas.dstack.gateway.GatewayServer;
import dev.atlas.dstack.ra.RaTlsCertificate;
import dev.atlas.dstack.simulator.GuestAgentSimulator;
import dev.atlas.dstack.testing.CloudflareStandIn;
import dev.atlas.dstack.testing.Pebble;
import dev.atlas.tdx.CollateralSource;
import dev.atlas.tdx.QuoteVerifier;
import dev.atlas.testing.MockPccs;
import java.io.ByteArrayInputStream;
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
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gateway's ZT-domains end to end on loopback, one gateway for the class: pebble (Debian's test ACME server) as
 * the CA, the Cloudflare stand-in as the DNS API (its DNS server answers pebble's DNS-01 lookups), the gateway in its
 * own simulated CVM (quotes under the simulator's mock Intel PKI, verified with atlas-dstack's verifier against a
 * {@link MockPccs}). The tests run in order: they share the domain, its keys and the ACME account.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ZtGatewayTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HexFormat HEX = HexFormat.of();
    static final String ADMIN = "zt-admin-token-19";
    static final String CF_TOKEN = "cf-api-token-zt-19-0123456789";
    static final String DOMAIN = "zt.test";
    static final byte[] GW_APP = HEX.parseHex("9a7c0ffee0000000000000000000000000001919");
    /** An app registered through Debug.RegisterCvm: the proxy routes its SNI before the TLS handshake. */
    static final String APP = "a11ce00000000000000000000000000000001919";

    @TempDir
    static Path dir;
    static CloudflareStandIn cf;
    static Pebble pebble;
    static GuestAgentSimulator gwCvm;
    static MockPccs pccs;
    static GatewayServer gw;
    static GatewayConfig config;
    static Map<String, String> env;
    static X509Certificate staticCert;
    static X509Certificate pebbleRoot;
    static final AtomicLong offsetSecs = new AtomicLong();
    static final Clock clock = new Clock() {
        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return Instant.now().plusSeconds(offsetSecs.get());
        }
    };
    static final List<String> logs = new CopyOnWriteArrayList<>();
    static Handler logHandler;
    static String credId;
    static final List<byte[]> servedKeys = new ArrayList<>();
    static DstackTdxVerifier verifier;

    @BeforeAll
    static void start() throws Exception {
        assumeTrue(Pebble.available(), Pebble.MISSING + ": ZT-domain tests skipped");
        logHandler = new Handler() {
            @Override
            public void publish(LogRecord r) {
                logs.add(String.valueOf(r.getMessage()));
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        Logger.getLogger("dev.atlas.dstack.gateway").addHandler(logHandler);
        cf = CloudflareStandIn.start(CF_TOKEN);
        cf.addZone(DOMAIN);
        pebble = Pebble.start(Files.createDirectories(dir.resolve("pebble")), cf.dnsAddress());
        pebbleRoot = pebble.issuingRoot();
        byte[] seed = new byte[32];
        seed[0] = 19;
        gwCvm = GuestAgentSimulator.builder().seed(seed).appId(GW_APP).internalSocket(dir.resolve("gw.sock"))
                .start();
        pccs = MockPccs.start(gwCvm::collateralJson, 0);

        Path gwDir = Files.createDirectories(dir.resolve("gw"));
        // the RPC listener's certificate (not under test) and a 0.5.x static certificate for another domain
        KeyPair rpc = p256();
        X509Certificate rpcCert = RaTlsCertificate.builder().subject("gateway.test").altNames(List.of("gateway.test"))
                .publicKey(rpc.getPublic()).serverAuth(true).selfSigned(rpc);
        Files.writeString(gwDir.resolve("rpc.crt"), RaTlsCertificate.pem(rpcCert));
        Files.writeString(gwDir.resolve("rpc.key"), pkcs8(rpc));
        KeyPair st = p256();
        staticCert = RaTlsCertificate.builder().subject("*.static.test").altNames(List.of("*.static.test"))
                .publicKey(st.getPublic()).serverAuth(true).selfSigned(st);
        Files.writeString(gwDir.resolve("static.pem"), RaTlsCertificate.pem(staticCert));
        Files.writeString(gwDir.resolve("static.key"), pkcs8(st));
        Files.writeString(gwDir.resolve("gateway.toml"), """
                address = "127.0.0.1"
                port = 0
                [tls]
                key = "rpc.key"
                certs = "rpc.crt"
                [tls.mutual]
                ca_certs = "rpc.crt"
                [core.admin]
                enabled = true
                address = "127.0.0.1"
                port = 0
                [core.debug]
                insecure_loopback_transport = true
                insecure_enable_debug_rpc = true
                address = "127.0.0.1"
                port = 0
                [core.wg]
                public_key = "%s"
                private_key = "%s"
                [core.proxy]
                listen_addr = "127.0.0.1"
                listen_port = 0
                cert_chain = "static.pem"
                cert_key = "static.key"
                base_domain = "static.test"
                [core.recycle]
                enabled = false
                [core.sync]
                data_dir = "data"
                [core.certbot]
                acme_ca_cert = "%s"
                dns_resolver = "127.0.0.1:%d"
                """.formatted(wgKey(1), wgKey(2), pebble.trustedRootsPem(), cf.dnsAddress().getPort()));
        config = GatewayConfig.load(gwDir.resolve("gateway.toml"));
        env = Map.of("DSTACK_AGENT_ADDRESS", "unix:" + gwCvm.internalSocket().orElseThrow(),
                "DSTACK_GATEWAY_ADMIN_TOKEN", ADMIN);
        gw = GatewayServer.builder(config).environment(env).clock(clock).start();
        // an instance of APP, so that <APP>.zt.test routes (the backend itself is not needed for the handshake)
        try (HttpClient c = HttpClient.newHttpClient()) {
            HttpResponse<String> r = c.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                    + gw.debugAddress().orElseThrow().getPort() + "/prpc/RegisterCvm?json"))
                    .POST(HttpRequest.BodyPublishers.ofString(JSON.createObjectNode()
                            .put("client_public_key", wgKey(3)).put("app_id", APP)
                            .put("instance_id", APP.replace('a', 'b')).toString()))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        }
        allowPort80();
    }

    /** The instance reported no port policy: an admin override lets port 80 through (fail-closed otherwise). */
    static void allowPort80() throws Exception {
        ok("SetInstancePortPolicy", "{\"instance_id\":\"" + APP.replace('a', 'b') + "\",\"policy\":{\"ports\":"
                + "[{\"port\":80,\"pp\":false}],\"restrict_mode\":false}}");
    }

    @AfterAll
    static void stop() {
        for (AutoCloseable c : new AutoCloseable[] {gw, pccs, gwCvm, pebble, cf}) {
            if (c != null) {
                try {
                    c.close();
                } catch (Exception e) {
                    // best effort
                }
            }
        }
        if (logHandler != null) {
            Logger.getLogger("dev.atlas.dstack.gateway").removeHandler(logHandler);
        }
    }

    // --- plumbing ------------------------------------------------------------------------------------------------

    static KeyPair p256() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        return g.generateKeyPair();
    }

    static String pkcs8(KeyPair k) {
        return "-----BEGIN PRIVATE KEY-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'})
                .encodeToString(k.getPrivate().getEncoded()) + "\n-----END PRIVATE KEY-----\n";
    }

    static String wgKey(int n) {
        byte[] b = new byte[32];
        b[0] = (byte) n;
        b[31] = 0x19;
        return Base64.getEncoder().encodeToString(b);
    }

    static HttpResponse<String> admin(String method, String json, String token) throws Exception {
        HttpRequest.Builder r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gw.adminAddress()
                .orElseThrow().getPort() + "/prpc/" + method + "?json")).timeout(Duration.ofSeconds(60))
                .POST(HttpRequest.BodyPublishers.ofString(json)).header("Content-Type", "application/json");
        if (token != null) {
            r.header("Authorization", "Bearer " + token);
        }
        try (HttpClient c = HttpClient.newHttpClient()) {
            return c.send(r.build(), HttpResponse.BodyHandlers.ofString());
        }
    }

    static JsonNode ok(String method, String json) throws Exception {
        HttpResponse<String> r = admin(method, json, ADMIN);
        assertThat(r.statusCode()).as(method + ": " + r.body()).isEqualTo(200);
        return JSON.readTree(r.body().isEmpty() ? "{}" : r.body());
    }

    static String error(String method, String json) throws Exception {
        HttpResponse<String> r = admin(method, json, ADMIN);
        assertThat(r.statusCode()).as(method + ": " + r.body()).isEqualTo(400);
        return JSON.readTree(r.body()).path("error").asText();
    }

    static int proxyPort() {
        return gw.proxyAddresses().get(0).getPort();
    }

    /** A TLS client trusting pebble's issuing root only. */
    static SSLContext pebbleTrust() throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setCertificateEntry("pebble", pebbleRoot);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        SSLContext c = SSLContext.getInstance("TLS");
        c.init(null, tmf.getTrustManagers(), null);
        return c;
    }

    static SSLSocket connect(String sni) throws Exception {
        SSLSocket s = (SSLSocket) pebbleTrust().getSocketFactory().createSocket("127.0.0.1", proxyPort());
        s.setSoTimeout(20_000);
        SSLParameters p = s.getSSLParameters();
        p.setServerNames(List.of(new SNIHostName(sni)));
        s.setSSLParameters(p);
        s.startHandshake(); // chain verified to pebble's root
        return s;
    }

    static X509Certificate leaf(SSLSocket s) throws Exception {
        return (X509Certificate) s.getSession().getPeerCertificates()[0];
    }

    /** One HTTP/1.1 GET on an open connection, keeping it open; returns status and body. */
    static String[] get(SSLSocket s, String host, String path) throws Exception {
        OutputStream out = s.getOutputStream();
        out.write(("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
        InputStream in = s.getInputStream();
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (!head.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                throw new IllegalStateException("connection closed: " + head);
            }
            head.write(b);
        }
        String h = head.toString(StandardCharsets.US_ASCII);
        int len = 0;
        for (String line : h.split("\r\n")) {
            if (line.toLowerCase().startsWith("content-length:")) {
                len = Integer.parseInt(line.substring(15).strip());
            }
        }
        byte[] body = in.readNBytes(len);
        return new String[] {h.substring(9, 12), new String(body, StandardCharsets.UTF_8)};
    }

    static JsonNode acmeInfo() throws Exception {
        try (SSLSocket s = connect("gateway." + DOMAIN)) {
            String[] r = get(s, "gateway." + DOMAIN, "/acme-info");
            assertThat(r[0]).isEqualTo("200");
            return JSON.readTree(r[1]);
        }
    }

    static List<String> listedKeys(JsonNode info) {
        List<String> out = new ArrayList<>();
        info.path("quoted_hist_keys").forEach(k -> out.add(k.path("public_key").asText()));
        return out;
    }

    /** atlas-dstack's verifier under the simulator's mock Intel root and our mock PCCS. */
    static synchronized void verifyQuote(String quoteJson, byte[] expectedReportData) throws Exception {
        if (verifier == null) {
            X509Certificate root = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(
                    new ByteArrayInputStream(gwCvm.mockRootCaPem().getBytes(StandardCharsets.US_ASCII)));
            verifier = DstackTdxVerifier.builder()
                    .quoteVerifier(QuoteVerifier.builder().insecureTrustAnchorForTesting(root).build())
                    .collateralSource(CollateralSource.forUrl(pccs.baseUrl(), true, Clock.systemUTC()))
                    .build();
        }
        DstackTdxVerifier v = verifier;
        JsonNode q = JSON.readTree(quoteJson);
        String resp = JSON.createObjectNode().put("quote", q.path("quote").asText())
                .put("event_log", q.path("event_log").asText()).toString();
        v.verify(DstackTdxVerifier.Evidence.builder(QuoteResponse.parse(resp)).expectedReportData(expectedReportData)
                .skipCertificateCheck().build(), Instant.now());
    }

    static void assertAttested(JsonNode info, byte[] spki) throws Exception {
        String hex = HEX.formatHex(spki);
        JsonNode entry = null;
        for (JsonNode k : info.path("quoted_hist_keys")) {
            if (k.path("public_key").asText().equals(hex)) {
                entry = k;
            }
        }
        assertThat(entry).as("key " + hex + " listed in /acme-info").isNotNull();
        verifyQuote(entry.path("quote").asText(), RaTlsCertificate.reportData("zt-cert", spki));
        assertThat(JSON.readTree(entry.path("attestation").asText()).path("attestation").asText()).isNotEmpty();
    }

    // --- tests ---------------------------------------------------------------------------------------------------

    @Test
    @Order(1)
    void adminMethodsNeedTheToken() throws Exception {
        for (String m : List.of("ListZtDomains", "CreateDnsCredential", "AddZtDomain", "SetCertbotConfig",
                "RenewZtDomainCert", "RotateAcmeCredentials")) {
            assertThat(admin(m, "{}", null).statusCode()).as(m).isEqualTo(401);
            assertThat(admin(m, "{}", "wrong-token").statusCode()).as(m).isEqualTo(401);
        }
        assertThat(ok("ListZtDomains", "{}").path("domains")).isEmpty();
        JsonNode cfg = ok("GetCertbotConfig", "{}");
        assertThat(cfg.path("renew_interval_secs").asLong()).isEqualTo(12 * 3600);
        assertThat(cfg.path("renew_before_expiration_secs").asLong()).isEqualTo(30 * 86400);
        assertThat(cfg.path("renew_timeout_secs").asLong()).isEqualTo(300);
        assertThat(cfg.path("acme_url").asText()).isEmpty();
    }

    @Test
    @Order(2)
    void dnsCredentialsKeepTheirTokenSecret() throws Exception {
        assertThat(error("CreateDnsCredential", "{\"name\":\"r53\",\"provider_type\":\"route53\",\"cf_api_token\":"
                + "\"x\"}")).isEqualTo("unsupported provider type: route53");
        assertThat(error("CreateDnsCredential", "{\"name\":\"cf\",\"provider_type\":\"cloudflare\",\"cf_api_token\":"
                + "\"" + CF_TOKEN + "\",\"dns_txt_ttl\":0}")).isEqualTo("dns_txt_ttl must be greater than zero");
        assertThat(error("CreateDnsCredential", "{\"name\":\"cf\",\"provider_type\":\"cloudflare\",\"cf_api_token\":"
                + "\"" + CF_TOKEN + "\",\"cf_api_url\":\"http://api.example.com/client/v4\"}"))
                .contains("cf_api_url must be an https:// URL");
        JsonNode c = ok("CreateDnsCredential", "{\"name\":\"cf stand-in\",\"provider_type\":\"cloudflare\","
                + "\"cf_api_token\":\"" + CF_TOKEN + "\",\"cf_api_url\":\"" + cf.apiUrl() + "\",\"set_as_default\":"
                + "true,\"max_dns_wait\":20}");
        credId = c.path("id").asText();
        assertThat(credId).matches("[0-9a-f]{16,}");
        assertThat(c.path("cf_api_token").asText()).isEqualTo("cf-a...6789");
        assertThat(c.path("provider_type").asText()).isEqualTo("cloudflare");
        assertThat(c.path("dns_txt_ttl").asInt()).isEqualTo(60);
        assertThat(c.path("max_dns_wait").asInt()).isEqualTo(20);
        JsonNode other = ok("CreateDnsCredential", "{\"name\":\"spare\",\"provider_type\":\"cloudflare\","
                + "\"cf_api_token\":\"short\"}");
        assertThat(other.path("cf_api_token").asText()).isEqualTo("*****");
        JsonNode list = ok("ListDnsCredentials", "{}");
        assertThat(list.path("credentials")).hasSize(2);
        assertThat(list.path("default_id").asText()).isEqualTo(credId);
        assertThat(ok("GetDefaultDnsCredential", "{}").path("credential").path("id").asText()).isEqualTo(credId);
        assertThat(error("DeleteDnsCredential", "{\"id\":\"" + credId + "\"}"))
                .isEqualTo("cannot delete the default DNS credential; set a different default first");
        assertThat(ok("UpdateDnsCredential", "{\"id\":\"" + other.path("id").asText() + "\",\"name\":\"renamed\"}")
                .path("name").asText()).isEqualTo("renamed");
        ok("DeleteDnsCredential", "{\"id\":\"" + other.path("id").asText() + "\"}");
        assertThat(error("GetDnsCredential", "{\"id\":\"" + other.path("id").asText() + "\"}"))
                .isEqualTo("dns credential not found");
        assertThat(error("SetDefaultDnsCredential", "{\"id\":\"nope\"}")).isEqualTo("dns credential not found");
        assertThat(ok("ListDnsCredentials", "{}").toString()).doesNotContain(CF_TOKEN);
        assertThat(String.join("\n", logs)).doesNotContain(CF_TOKEN);
    }

    @Test
    @Order(3)
    void addZtDomainObtainsTheWildcardServesItAndAttestsTheKey() throws Exception {
        assertThat(error("SetCertbotConfig", "{\"acme_url\":\"http://127.0.0.1:1/dir\"}"))
                .contains("acme_url must be an https:// URL");
        ok("SetCertbotConfig", "{\"acme_url\":\"" + pebble.directoryUrl() + "\",\"renew_timeout_secs\":60}");
        JsonNode added = ok("AddZtDomain", "{\"domain\":\"" + DOMAIN + "\",\"port\":443,\"priority\":10}");
        assertThat(added.path("config").path("domain").asText()).isEqualTo(DOMAIN);
        // waits for the request started by AddZtDomain (one issuance per domain at a time), then finds it fresh
        ok("RenewZtDomainCert", "{\"domain\":\"" + DOMAIN + "\"}");
        JsonNode info = ok("GetZtDomain", "{\"domain\":\"" + DOMAIN + "\"}");
        assertThat(info.path("cert_status").path("has_cert").asBoolean()).isTrue();
        assertThat(info.path("cert_status").path("loaded_in_memory").asBoolean()).isTrue();

        X509Certificate cert;
        try (SSLSocket s = connect(APP + "." + DOMAIN)) {
            cert = leaf(s);
        }
        assertThat(cert.getSubjectAlternativeNames()).anyMatch(n -> n.get(1).equals("*." + DOMAIN));
        assertThat(info.path("cert_status").path("not_after").asLong())
                .isEqualTo(cert.getNotAfter().toInstant().getEpochSecond());
        servedKeys.add(cert.getPublicKey().getEncoded());

        JsonNode acme = acmeInfo();
        String account = acme.path("account_uri").asText();
        assertThat(account).startsWith("https://127.0.0.1:");
        verifyQuote(acme.path("account_quote").asText(), RaTlsCertificate.reportData("acme-account",
                account.getBytes(StandardCharsets.UTF_8)));
        assertAttested(acme, cert.getPublicKey().getEncoded());
        // the static 0.5.x certificate's key stays listed
        assertThat(listedKeys(acme)).contains(HEX.formatHex(staticCert.getPublicKey().getEncoded()));
        // the same document over the RPC listener's Gateway.AcmeInfo
        assertThat(listedKeys(gatewayAcmeInfo())).containsExactlyInAnyOrderElementsOf(listedKeys(acme));
        // the default base domain is now the ZT-domain
        assertThat(gatewayRpc("Info").path("base_domain").asText()).isEqualTo(DOMAIN);

        JsonNode atts = ok("ListCertAttestations", "{\"domain\":\"" + DOMAIN + "\"}");
        assertThat(atts.path("history")).hasSize(1);
        assertThat(atts.path("latest").path("public_key").asText())
                .isEqualTo(HEX.formatHex(cert.getPublicKey().getEncoded()));

        // CAA pinned to the account in the stand-in
        ok("SetCaa", "{}");
        assertThat(cf.records(DOMAIN)).filteredOn(r -> "CAA".equals(r.type()))
                .extracting(r -> r.tag() + " " + r.value())
                .contains("issue letsencrypt.org;validationmethods=dns-01;accounturi=" + account,
                        "issuewild letsencrypt.org;validationmethods=dns-01;accounturi=" + account);
    }

    static JsonNode gatewayRpc(String method) throws Exception {
        SSLContext any = SSLContext.getInstance("TLS");
        any.init(null, new javax.net.ssl.TrustManager[] {new javax.net.ssl.X509TrustManager() {
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
        }}, null);
        try (SSLSocket s = (SSLSocket) any.getSocketFactory().createSocket("127.0.0.1", gw.rpcAddress().getPort())) {
            s.setSoTimeout(20_000);
            OutputStream out = s.getOutputStream();
            out.write(("POST /prpc/" + method + "?json HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: 2\r\n"
                    + "Connection: close\r\n\r\n{}").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            String text = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            String payload = text.substring(text.indexOf("\r\n\r\n") + 4);
            if (text.toLowerCase().contains("transfer-encoding: chunked")) {
                payload = payload.substring(payload.indexOf("\r\n") + 2, payload.lastIndexOf("\r\n0\r\n"));
            }
            return JSON.readTree(payload);
        }
    }

    static JsonNode gatewayAcmeInfo() throws Exception {
        return gatewayRpc("AcmeInfo");
    }

    @Test
    @Order(4)
    void forcedAndTimedRenewalsGiveNewKeysWithoutDroppingOpenConnections() throws Exception {
        try (SSLSocket open = connect("gateway." + DOMAIN)) {
            byte[] before = leaf(open).getPublicKey().getEncoded();
            assertThat(get(open, "gateway." + DOMAIN, "/health")[0]).isEqualTo("200");

            JsonNode r = ok("RenewZtDomainCert", "{\"domain\":\"" + DOMAIN + "\",\"force\":true}");
            assertThat(r.path("renewed").asBoolean()).isTrue();
            X509Certificate second;
            try (SSLSocket fresh = connect(APP + "." + DOMAIN)) {
                second = leaf(fresh);
            }
            assertThat(second.getPublicKey().getEncoded()).isNotEqualTo(before);
            assertThat(r.path("not_after").asLong()).isEqualTo(second.getNotAfter().toInstant().getEpochSecond());
            servedKeys.add(second.getPublicKey().getEncoded());

            // the connection opened before the reload still works, on its old certificate
            String[] again = get(open, "gateway." + DOMAIN, "/acme-info");
            assertThat(again[0]).isEqualTo("200");
            assertThat(leaf(open).getPublicKey().getEncoded()).isEqualTo(before);
            JsonNode info = JSON.readTree(again[1]);
            assertAttested(info, before);
            assertAttested(info, second.getPublicKey().getEncoded());

            // not due: nothing happens
            assertThat(ok("RenewCert", "{}").path("renewed").asBoolean()).isFalse();
            // injected time: within renew_before_expiration of not_after, the renewal loop's check renews
            long notAfter = second.getNotAfter().toInstant().getEpochSecond();
            long renewBefore = ok("GetCertbotConfig", "{}").path("renew_before_expiration_secs").asLong();
            offsetSecs.set(notAfter - renewBefore + 3600 - Instant.now().getEpochSecond());
            try {
                assertThat(ok("RenewCert", "{}").path("renewed").asBoolean()).isTrue();
            } finally {
                offsetSecs.set(0);
            }
            X509Certificate third;
            try (SSLSocket fresh = connect(APP + "." + DOMAIN)) {
                third = leaf(fresh);
            }
            assertThat(third.getPublicKey().getEncoded()).isNotEqualTo(second.getPublicKey().getEncoded());
            servedKeys.add(third.getPublicKey().getEncoded());
            JsonNode all = acmeInfo();
            for (byte[] k : servedKeys) {
                assertAttested(all, k);
            }
            assertThat(get(open, "gateway." + DOMAIN, "/health")[0]).isEqualTo("200");
        }
        assertThat(ok("ListCertAttestations", "{\"domain\":\"" + DOMAIN + "\",\"limit\":2}").path("history"))
                .hasSize(2);
    }

    @Test
    @Order(5)
    void badInputsAreRefusedWithTheirReason() throws Exception {
        assertThat(error("AddZtDomain", "{\"domain\":\"other.test\",\"port\":443,\"dns_cred_id\":\"nope\"}"))
                .isEqualTo("specified dns credential not found");
        assertThat(error("AddZtDomain", "{\"domain\":\"*.ZT.test.\",\"port\":443}"))
                .isEqualTo("ZT-Domain config already exists: zt.test");
        assertThat(error("AddZtDomain", "{\"domain\":\"-bad.test\",\"port\":443}"))
                .isEqualTo("domain contains an invalid DNS label");
        assertThat(error("AddZtDomain", "{\"domain\":\"\",\"port\":443}"))
                .isEqualTo("domain must be a non-empty ASCII DNS name of at most 253 bytes");
        assertThat(error("AddZtDomain", "{\"domain\":\"other.test\",\"port\":0}"))
                .isEqualTo("port must be between 1 and 65535");
        assertThat(error("AddZtDomain", "{\"domain\":\"other.test\",\"port\":\"443\"}")).contains("port");
        assertThat(error("GetZtDomain", "{\"domain\":\"other.test\"}")).isEqualTo("ZT-Domain config not found");
        assertThat(error("UpdateZtDomain", "{\"domain\":\"other.test\",\"port\":443}"))
                .isEqualTo("ZT-Domain config not found");
        assertThat(error("RenewZtDomainCert", "{\"domain\":\"other.test\"}"))
                .isEqualTo("certificate renewal failed: ZT-Domain config not found: other.test");
        assertThat(error("DeleteDnsCredential", "{\"id\":\"" + credId + "\"}")).contains("default");
        assertThat(error("SetCertbotConfig", "{\"renew_timeout_secs\":0}"))
                .isEqualTo("renew_timeout_secs must be greater than zero");
        assertThat(ok("ListZtDomains", "{}").path("domains")).hasSize(1);
    }

    @Test
    @Order(6)
    void aFailedRenewalKeepsTheOldCertificateServing() throws Exception {
        byte[] serving;
        try (SSLSocket s = connect(APP + "." + DOMAIN)) {
            serving = leaf(s).getPublicKey().getEncoded();
        }
        int attestations = ok("ListCertAttestations", "{\"domain\":\"" + DOMAIN + "\"}").path("history").size();
        long notAfter = ok("GetZtDomain", "{\"domain\":\"" + DOMAIN + "\"}").path("cert_status").path("not_after")
                .asLong();

        // the DNS API fails: the order cannot publish its challenge
        cf.failNext(CloudflareStandIn.Failure.SERVER_ERROR, "POST", 1);
        assertThat(error("RenewZtDomainCert", "{\"domain\":\"" + DOMAIN + "\",\"force\":true}"))
                .startsWith("certificate renewal failed: ");
        // another ACME directory than the account's: refused before any order
        ok("SetCertbotConfig", "{\"acme_url\":\"https://127.0.0.1:1/dir\"}");
        try {
            assertThat(error("RenewZtDomainCert", "{\"domain\":\"" + DOMAIN + "\",\"force\":true}"))
                    .contains("stored ACME credentials are for a different ACME directory");
        } finally {
            ok("SetCertbotConfig", "{\"acme_url\":\"" + pebble.directoryUrl() + "\"}");
        }
        try (SSLSocket s = connect(APP + "." + DOMAIN)) {
            assertThat(leaf(s).getPublicKey().getEncoded()).isEqualTo(serving);
        }
        assertThat(ok("ListCertAttestations", "{\"domain\":\"" + DOMAIN + "\"}").path("history")).hasSize(attestations);
        assertThat(ok("GetZtDomain", "{\"domain\":\"" + DOMAIN + "\"}").path("cert_status").path("not_after")
                .asLong()).isEqualTo(notAfter);
    }

    @Test
    @Order(7)
    void rotationRepinsCaaAndQuotesTheNewAccount() throws Exception {
        String old = acmeInfo().path("account_uri").asText();
        JsonNode r = ok("RotateAcmeCredentials", "{}");
        String uri = r.path("account_uri").asText();
        assertThat(uri).isNotEqualTo(old).startsWith("https://127.0.0.1:");
        assertThat(r.path("domains_updated").asInt()).isEqualTo(1);
        assertThat(cf.records(DOMAIN)).filteredOn(x -> "CAA".equals(x.type())).extracting(x -> x.value())
                .contains("letsencrypt.org;validationmethods=dns-01;accounturi=" + uri)
                .noneMatch(v -> v.endsWith("accounturi=" + old));
        JsonNode acme = acmeInfo();
        assertThat(acme.path("account_uri").asText()).isEqualTo(uri);
        verifyQuote(acme.path("account_quote").asText(), RaTlsCertificate.reportData("acme-account",
                uri.getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    @Order(8)
    void stateSurvivesARestart() throws Exception {
        JsonNode before = acmeInfo();
        byte[] serving;
        try (SSLSocket s = connect(APP + "." + DOMAIN)) {
            serving = leaf(s).getPublicKey().getEncoded();
        }
        gw.close();
        gw = GatewayServer.builder(config).environment(env).clock(clock).start();
        allowPort80();
        // the stored certificate serves at once, without a new issuance
        try (SSLSocket s = connect(APP + "." + DOMAIN)) {
            assertThat(leaf(s).getPublicKey().getEncoded()).isEqualTo(serving);
        }
        JsonNode after = acmeInfo();
        assertThat(after.path("account_uri").asText()).isEqualTo(before.path("account_uri").asText());
        assertThat(after.path("account_quote").asText()).isEqualTo(before.path("account_quote").asText());
        assertThat(listedKeys(after)).containsExactlyInAnyOrderElementsOf(listedKeys(before));
        assertThat(ok("ListDnsCredentials", "{}").path("default_id").asText()).isEqualTo(credId);
        assertThat(ok("GetCertbotConfig", "{}").path("acme_url").asText()).isEqualTo(pebble.directoryUrl()
                .toString());
        assertThat(Files.readString(config.sync().dataDir().resolve(ZtStore.FILE))).contains(CF_TOKEN);
    }
}
