package dev.atlas.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.atlas.dstack.guest.DstackClient;
import dev.atlas.dstack.guest.Quote;
import dev.atlas.dstack.ra.RaTlsCertificate;
import dev.atlas.dstack.simulator.GuestAgentSimulator;
import dev.atlas.testing.MockPccs;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code atlas ct-monitor --once} exit codes against a simulated gateway CVM's quote (served by an HTTPS
 * {@code /acme-info} stand-in for {@code gateway.cli.test}) and a crt.sh stand-in: 0 clean, 1 alarm (with the
 * alert's JSON line on stdout), 2 could not check or a usage error.
 */
class CtMonitorCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HexFormat HEX = HexFormat.of();
    static final String APP = "c7c7c7c700000000000000000000000000000019";

    @TempDir
    static Path dir;
    static GuestAgentSimulator cvm;
    static MockPccs pccs;
    static HttpsServer gateway;
    static HttpServer crt;
    static Path rootCa;
    static Path gatewayCa;
    static X509Certificate keyCert;
    static X509Certificate rogueCert;
    static final Map<String, List<Long>> listings = new ConcurrentHashMap<>();
    static final Map<Long, X509Certificate> certs = new ConcurrentHashMap<>();

    @BeforeAll
    static void start() throws Exception {
        cvm = GuestAgentSimulator.builder().pkiSeed(1919_2).appId(HEX.parseHex(APP))
                .internalSocket(dir.resolve("gw.sock")).start();
        pccs = MockPccs.start(cvm::collateralJson, 0);
        rootCa = Files.writeString(dir.resolve("root.pem"), cvm.mockRootCaPem());
        KeyPair zt = p256();
        keyCert = selfSigned(zt, "*.cli.test");
        rogueCert = selfSigned(p256(), "*.cli.test");
        byte[] spki = zt.getPublic().getEncoded();
        byte[] rd = MessageDigest.getInstance("SHA-512").digest(concat("zt-cert:".getBytes(StandardCharsets.US_ASCII),
                spki));
        Quote q = DstackClient.builder().endpoint("unix:" + cvm.internalSocket().orElseThrow()).build().getQuote(rd);
        ObjectNode quote = JSON.createObjectNode().put("quote", HEX.formatHex(q.quote())).put("event_log",
                q.eventLog()).put("vm_config", q.vmConfig());
        ObjectNode info = JSON.createObjectNode().put("account_uri", "");
        info.putArray("quoted_hist_keys").addObject().put("public_key", HEX.formatHex(spki))
                .put("quote", quote.toString()).put("attestation", "");
        byte[] acme = info.toString().getBytes(StandardCharsets.UTF_8);

        KeyPair tlsKey = p256();
        X509Certificate tls = selfSigned(tlsKey, "gateway.cli.test");
        gatewayCa = Files.writeString(dir.resolve("gateway-ca.pem"), RaTlsCertificate.pem(tls));
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("k", tlsKey.getPrivate(), "pw".toCharArray(), new X509Certificate[] {tls});
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, "pw".toCharArray());
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), null, null);
        gateway = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        gateway.setHttpsConfigurator(new HttpsConfigurator(ctx));
        gateway.createContext("/.dstack/acme-info", e -> send(e, 200, acme));
        gateway.start();

        certs.put(11L, keyCert);
        certs.put(12L, rogueCert);
        listings.put("clean.cli.test", List.of(11L));
        listings.put("rogue.cli.test", List.of(12L, 11L));
        crt = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        crt.createContext("/", e -> {
            String q2 = e.getRequestURI().getQuery();
            if (q2.startsWith("q=down.cli.test")) {
                send(e, 503, new byte[0]);
            } else if (q2.startsWith("q=")) {
                var a = JSON.createArrayNode();
                for (long id : listings.getOrDefault(q2.substring(2, q2.indexOf('&')), List.of())) {
                    a.addObject().put("id", id).put("name_value", "*.cli.test");
                }
                send(e, 200, a.toString().getBytes(StandardCharsets.UTF_8));
            } else {
                X509Certificate c = certs.get(Long.parseLong(q2.substring(2)));
                send(e, 200, RaTlsCertificate.pem(c).getBytes(StandardCharsets.US_ASCII));
            }
        });
        crt.start();
    }

    @AfterAll
    static void stop() {
        if (gateway != null) {
            gateway.stop(0);
        }
        if (crt != null) {
            crt.stop(0);
        }
        if (pccs != null) {
            pccs.close();
        }
        if (cvm != null) {
            cvm.close();
        }
    }

    static void send(HttpExchange e, int status, byte[] body) throws IOException {
        try (e) {
            e.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
            if (body.length > 0) {
                try (OutputStream o = e.getResponseBody()) {
                    o.write(body);
                }
            }
        }
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] r = new byte[a.length + b.length];
        System.arraycopy(a, 0, r, 0, a.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    static KeyPair p256() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        return g.generateKeyPair();
    }

    static X509Certificate selfSigned(KeyPair k, String name) throws Exception {
        return RaTlsCertificate.builder().subject(name).altNames(List.of(name)).publicKey(k.getPublic())
                .serverAuth(true).selfSigned(k);
    }

    static CliRun monitor(String domain, String... extra) {
        return monitorApp(domain, APP, extra);
    }

    static CliRun monitorApp(String domain, String appId, String... extra) {
        int port = gateway.getAddress().getPort();
        List<String> a = new ArrayList<>(List.of("ct-monitor", "--gateway", "cli.test:" + port, "--domain", domain,
                "--connect", "127.0.0.1:" + port, "--gateway-ca", gatewayCa.toString(), "--pccs", pccs.baseUrl(),
                "--insecure-root-ca", rootCa.toString(), "--expect-app-id", appId, "--crtsh-url",
                "http://127.0.0.1:" + crt.getAddress().getPort(), "--timeout", "5s", "--once"));
        a.addAll(List.of(extra));
        return CliRun.of(a.toArray(String[]::new));
    }

    @Test
    void cleanExitsZero() {
        CliRun r = monitor("clean.cli.test");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).isEmpty();
        assertThat(r.err()).contains("CLEAN").contains("WARNING: --insecure-root-ca");
        // the guide's spelling
        int port = gateway.getAddress().getPort();
        CliRun guide = CliRun.of("ct-monitor", "--gateway-uri", "https://gateway.cli.test:" + port, "--domain",
                "clean.cli.test", "--connect", "127.0.0.1:" + port, "--gateway-ca", gatewayCa.toString(), "--pccs",
                pccs.baseUrl(), "--insecure-root-ca", rootCa.toString(), "--expect-app-id", APP, "--crtsh-url",
                "http://127.0.0.1:" + crt.getAddress().getPort(), "--once");
        assertThat(guide.code()).as(guide.err()).isZero();
    }

    @Test
    void rogueCertificateExitsOneWithAJsonAlertLine() throws Exception {
        Path state = dir.resolve("rogue-state.json");
        CliRun r = monitor("rogue.cli.test", "--state", state.toString());
        assertThat(r.code()).as(r.err()).isEqualTo(1);
        List<String> lines = r.out().lines().toList();
        assertThat(lines).hasSize(1);
        JsonNode alert = JSON.readTree(lines.get(0));
        assertThat(alert.path("alert").asText()).isEqualTo("unknown_key");
        assertThat(alert.path("crtsh_id").asLong()).isEqualTo(12);
        assertThat(alert.path("public_key").asText()).isEqualTo(HEX.formatHex(rogueCert.getPublicKey()
                .getEncoded()));
        // restarted with the state: still an alarm, not printed again; acknowledged: clean
        CliRun again = monitor("rogue.cli.test", "--state", state.toString());
        assertThat(again.code()).isEqualTo(1);
        assertThat(again.out()).isEmpty();
        assertThat(monitor("rogue.cli.test", "--state", state.toString(), "--ack", "12").code()).isZero();
        // pinned to another app: the gateway's own key is an alarm too
        CliRun other = monitorApp("clean.cli.test", "ab".repeat(20));
        assertThat(other.code()).isEqualTo(1);
        assertThat(other.out()).contains("\"alert\":\"unexpected_identity\"");
    }

    @Test
    void couldNotCheckOrUsageErrorExitsTwo() {
        CliRun down = monitor("down.cli.test");
        assertThat(down.code()).isEqualTo(2);
        assertThat(down.err()).contains("UNCHECKED").contains("HTTP 503");
        CliRun noPin = CliRun.of("ct-monitor", "--gateway", "cli.test", "--once");
        assertThat(noPin.code()).isEqualTo(2);
        assertThat(noPin.err()).contains("--expect-app-id is required");
        CliRun badPort = CliRun.of("ct-monitor", "--gateway", "cli.test:x", "--expect-app-id", APP, "--once");
        assertThat(badPort.code()).isEqualTo(2);
        assertThat(badPort.err()).contains("invalid port number");
        CliRun noGateway = CliRun.of("ct-monitor", "--once");
        assertThat(noGateway.code()).isEqualTo(2);
        CliRun badInterval = CliRun.of("ct-monitor", "--gateway", "cli.test", "--expect-app-id", APP,
                "--interval", "soon");
        assertThat(badInterval.code()).isEqualTo(2);
        assertThat(badInterval.err()).contains("--interval soon");
    }
}
