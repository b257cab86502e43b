package dev.atlas.dstack.gateway.ct;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.atlas.dstack.gateway.GatewayConfig;
import dev.atlas.dstack.gateway.GatewayServer;
import dev.atlas.dstack.guest.DstackClient;
import dev.atlas.dstack.guest.Quote;
import dev.atlas.dstack.ra.RaTlsCertificate;
import dev.atlas.dstack.simulator.GuestAgentSimulator;
import dev.atlas.testing.MockPccs;
import dev.atlas.testing.SimulatedCvm;
import java.io.ByteArrayInputStream;
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
import java.security.MessageDigest;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The monitor end to end on loopback: a real {@link GatewayServer} in a simulated CVM whose {@code /acme-info}
 * quotes its certificate's key, a crt.sh stand-in, the mock PCCS and mock Intel root; and, for the rogue cases, an
 * HTTPS stand-in serving {@code /acme-info} documents built from quotes of other simulated CVMs (same mock PKI).
 * Each test searches its own domain in the stand-in, so they share the fixtures.
 */
class CtMonitorTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HexFormat HEX = HexFormat.of();
    static final String GW_APP = "9a7c0ffee000000000000000000000000000c719";
    static final String OTHER_APP = "0bad0bad00000000000000000000000000000019";
    static final long PKI = 1919;

    @TempDir
    static Path dir;
    static GuestAgentSimulator gwCvm;
    static GuestAgentSimulator otherCvm;
    static MockPccs pccs;
    static X509Certificate mockRoot;
    static GatewayServer gw;
    static int proxyPort;
    static X509Certificate gwCert;
    static String gwSpki;
    static String composeHash;
    static String osImage;
    static CrtShStandIn crt;
    static HttpsServer docServer;
    static final AtomicReference<byte[]> doc = new AtomicReference<>(new byte[0]);
    static X509Certificate docCert;

    @BeforeAll
    static void deploy() throws Exception {
        gwCvm = GuestAgentSimulator.builder().pkiSeed(PKI).appId(HEX.parseHex(GW_APP))
                .internalSocket(dir.resolve("gw.sock")).start();
        otherCvm = GuestAgentSimulator.builder().pkiSeed(PKI).appId(HEX.parseHex(OTHER_APP))
                .internalSocket(dir.resolve("other.sock")).start();
        pccs = MockPccs.start(gwCvm::collateralJson, 0);
        mockRoot = cert(gwCvm.mockRootCaPem().getBytes(StandardCharsets.US_ASCII));
        composeHash = HEX.formatHex(MessageDigest.getInstance("SHA-256").digest(
                SimulatedCvm.DEFAULT_APP_COMPOSE.getBytes(StandardCharsets.UTF_8)));

        KeyPair wild = p256();
        gwCert = RaTlsCertificate.builder().subject("*.ct.test").altNames(List.of("*.ct.test", "ct.test"))
                .publicKey(wild.getPublic()).serverAuth(true).selfSigned(wild);
        gwSpki = HEX.formatHex(gwCert.getPublicKey().getEncoded());
        Path gwDir = Files.createDirectories(dir.resolve("gw"));
        Files.writeString(gwDir.resolve("wild.pem"), RaTlsCertificate.pem(gwCert));
        Files.writeString(gwDir.resolve("wild.key"), pkcs8Pem(wild));
        Files.writeString(gwDir.resolve("gateway.toml"), """
                address = "127.0.0.1"
                port = 0
                [tls]
                key = "certs/rpc.key"
                certs = "certs/rpc.crt"
                [tls.mutual]
                ca_certs = "certs/ca.crt"
                [core]
                rpc_domain = "gateway.ct.test"
                [core.debug]
                insecure_loopback_transport = true
                [core.wg]
                public_key = "%s"
                private_key = "%s"
                ip = "10.19.0.1/24"
                reserved_net = ["10.19.0.1/32"]
                client_ip_range = "10.19.0.0/24"
                [core.proxy]
                listen_addr = "127.0.0.1"
                listen_port = 0
                cert_chain = "wild.pem"
                cert_key = "wild.key"
                base_domain = "ct.test"
                [core.recycle]
                enabled = false
                [core.sync]
                data_dir = "data"
                """.formatted(wgKey(1), wgKey(2)));
        gw = GatewayServer.builder(GatewayConfig.load(gwDir.resolve("gateway.toml")))
                .environment(Map.of("DSTACK_AGENT_ADDRESS", "unix:" + gwCvm.internalSocket().orElseThrow())).start();
        proxyPort = gw.proxyAddresses().get(0).getPort();
        // the OS image hash the gateway's CVM measured (its vm_config's, which the simulator extends as an event)
        Quote q = agent(gwCvm).getQuote(new byte[64]);
        osImage = JSON.readTree(q.vmConfig()).path("os_image_hash").asText();

        crt = CrtShStandIn.start();

        // the acme-info stand-in for documents the real gateway would never serve
        KeyPair docKey = p256();
        docCert = RaTlsCertificate.builder().subject("gateway.doc.test").altNames(List.of("gateway.doc.test"))
                .publicKey(docKey.getPublic()).serverAuth(true).selfSigned(docKey);
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("k", docKey.getPrivate(), "pw".toCharArray(), new X509Certificate[] {docCert});
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, "pw".toCharArray());
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), null, null);
        docServer = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        docServer.setHttpsConfigurator(new HttpsConfigurator(ctx));
        docServer.createContext("/.dstack/acme-info", e -> {
            try (e) {
                byte[] b = doc.get();
                e.sendResponseHeaders(200, b.length);
                try (OutputStream o = e.getResponseBody()) {
                    o.write(b);
                }
            }
        });
        docServer.start();
    }

    @AfterAll
    static void down() throws Exception {
        for (AutoCloseable c : new AutoCloseable[] {gw, crt, pccs, otherCvm, gwCvm}) {
            if (c != null) {
                c.close();
            }
        }
        if (docServer != null) {
            docServer.stop(0);
        }
    }

    // ---- fixtures -------------------------------------------------------------------------------------------

    static KeyPair p256() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        return g.generateKeyPair();
    }

    static X509Certificate leaf(String cn) throws Exception {
        KeyPair k = p256();
        return RaTlsCertificate.builder().subject(cn).altNames(List.of(cn)).publicKey(k.getPublic()).serverAuth(true)
                .selfSigned(k);
    }

    static X509Certificate cert(byte[] pem) throws Exception {
        return (X509Certificate) CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(pem));
    }

    static String pkcs8Pem(KeyPair k) {
        return "-----BEGIN PRIVATE KEY-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'})
                .encodeToString(k.getPrivate().getEncoded()) + "\n-----END PRIVATE KEY-----\n";
    }

    static String wgKey(int n) {
        byte[] b = new byte[32];
        b[0] = (byte) n;
        b[31] = 0x19;
        return Base64.getEncoder().encodeToString(b);
    }

    static DstackClient agent(GuestAgentSimulator cvm) {
        return DstackClient.builder().endpoint("unix:" + cvm.internalSocket().orElseThrow()).build();
    }

    /** A GetQuote response JSON from {@code cvm} over {@code SHA-512("zt-cert:" ‖ spki)}. */
    static String ztQuote(GuestAgentSimulator cvm, byte[] spki) throws Exception {
        Quote q = agent(cvm).getQuote(KeyVerifier.ztCertReportData(spki));
        ObjectNode o = JSON.createObjectNode();
        o.put("quote", HEX.formatHex(q.quote()));
        o.put("event_log", q.eventLog());
        o.put("report_data", HEX.formatHex(q.reportData()));
        o.put("vm_config", q.vmConfig());
        return o.toString();
    }

    /** An acme-info document (the current shape: no hist_keys) listing {@code (spki, quote)} pairs. */
    static byte[] acmeInfo(String... spkiAndQuote) {
        ObjectNode o = JSON.createObjectNode();
        o.put("account_uri", "");
        var a = o.putArray("quoted_hist_keys");
        for (int i = 0; i < spkiAndQuote.length; i += 2) {
            a.addObject().put("public_key", spkiAndQuote[i]).put("quote", spkiAndQuote[i + 1]).put("attestation", "");
        }
        o.put("account_quote", "");
        o.put("account_attestation", "");
        return o.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** A monitor of the real gateway, pinned to its identity, searching {@code domain}. */
    static CtMonitor.Builder realGateway(String domain, List<String> alerts) {
        return CtMonitor.builder().gateway("ct.test:" + proxyPort).domain(domain)
                .connect(new InetSocketAddress("127.0.0.1", proxyPort)).gatewayCa(List.of(gwCert))
                .crtShUrl(crt.url()).pccsUrl(pccs.baseUrl()).insecureTrustAnchorForTesting(mockRoot)
                .expectAppId(GW_APP).expectComposeHash(composeHash).expectOsImage(osImage)
                .alertSink(alerts::add).timeout(Duration.ofSeconds(5));
    }

    /** A monitor of the acme-info stand-in (whatever {@link #doc} holds), pinned to the gateway's identity. */
    static CtMonitor.Builder docGateway(String domain, List<String> alerts) {
        int port = docServer.getAddress().getPort();
        return CtMonitor.builder().gateway("doc.test", port).domain(domain)
                .connect(new InetSocketAddress("127.0.0.1", port)).gatewayCa(List.of(docCert))
                .crtShUrl(crt.url()).pccsUrl(pccs.baseUrl()).insecureTrustAnchorForTesting(mockRoot)
                .expectAppId(GW_APP).alertSink(alerts::add).timeout(Duration.ofSeconds(5));
    }

    static List<String> kinds(CheckResult r) {
        return r.alerts().stream().map(a -> a.kind().wireName()).toList();
    }

    // ---- tests ----------------------------------------------------------------------------------------------

    @Test
    void cleanRunAgainstARealGatewayWithMetrics() throws Exception {
        crt.add("clean.ct.test", 101, gwCert);
        crt.add("clean.ct.test", 102, gwCert); // the precertificate and the certificate: same key
        List<String> alerts = new ArrayList<>();
        try (CtMonitor m = realGateway("clean.ct.test", alerts)
                .metricsAddress(new InetSocketAddress("127.0.0.1", 0)).build()) {
            CheckResult r = m.checkOnce();
            assertThat(r.reasons()).isEmpty();
            assertThat(r.status()).isEqualTo(CheckResult.Status.CLEAN);
            assertThat(r.exitCode()).isZero();
            assertThat(r.knownKeys()).isEqualTo(1);
            assertThat(r.entriesChecked()).isEqualTo(2);
            assertThat(r.lastChecked()).isEqualTo(102);
            assertThat(alerts).isEmpty();
            String text = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                    + m.metricsAddress().orElseThrow().getPort() + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            assertThat(text).contains("ct_monitor_checks_total{domain=\"clean.ct.test\",result=\"clean\"} 1.0")
                    .contains("ct_monitor_last_success_timestamp_seconds{domain=\"clean.ct.test\"}")
                    .contains("ct_monitor_alarms_total{domain=\"clean.ct.test\",kind=\"unknown_key\"} 0.0");
            assertThat(m.meterRegistry().get("ct.monitor.last.success.timestamp").gauge().value()).isPositive();
            // the next check has nothing new to fetch
            int before = crt.pemRequests.get();
            assertThat(m.checkOnce().status()).isEqualTo(CheckResult.Status.CLEAN);
            assertThat(crt.pemRequests.get()).isEqualTo(before);
        }
    }

    @Test
    void rogueCertificateForTheDomainIsAnAlarmOnceWithWebhook() throws Exception {
        X509Certificate rogue = leaf("*.rogue.ct.test");
        crt.add("rogue.ct.test", 201, gwCert);
        crt.add("rogue.ct.test", 202, rogue);
        List<String> alerts = new ArrayList<>();
        try (CtMonitor m = realGateway("rogue.ct.test", alerts).webhook(crt.hookUrl()).build()) {
            CheckResult r = m.checkOnce();
            assertThat(r.status()).isEqualTo(CheckResult.Status.ALARM);
            assertThat(r.exitCode()).isEqualTo(1);
            assertThat(kinds(r)).containsExactly("unknown_key");
            Alert a = r.alerts().get(0);
            assertThat(a.reason()).isEqualTo("CT_UNKNOWN_KEY");
            assertThat(a.entry().orElseThrow().id()).isEqualTo(202);
            assertThat(a.publicKey()).isEqualTo(HEX.formatHex(rogue.getPublicKey().getEncoded()));
            assertThat(alerts).hasSize(1);
            JsonNode line = JSON.readTree(alerts.get(0));
            assertThat(line.path("alert").asText()).isEqualTo("unknown_key");
            assertThat(line.path("crtsh_id").asLong()).isEqualTo(202);
            assertThat(line.path("domain").asText()).isEqualTo("rogue.ct.test");
            assertThat(crt.hooks).anySatisfy(h -> assertThat(h).isEqualTo(alerts.get(0)));
            // outstanding, not raised again
            CheckResult again = m.checkOnce();
            assertThat(again.status()).isEqualTo(CheckResult.Status.ALARM);
            assertThat(again.alerts()).isEmpty();
            assertThat(again.outstanding()).isEqualTo(1);
            assertThat(alerts).hasSize(1);
            // acknowledged: clean again
            assertThat(m.acknowledge(202)).isTrue();
            assertThat(m.checkOnce().status()).isEqualTo(CheckResult.Status.CLEAN);
        }
    }

    @Test
    void theRealGatewayIsNotTheExpectedApp() throws Exception {
        crt.add("pin.ct.test", 301, gwCert);
        List<String> alerts = new ArrayList<>();
        try (CtMonitor m = realGateway("pin.ct.test", alerts).expectAppId(OTHER_APP)
                .expectOsImage("11".repeat(32)).build()) {
            CheckResult r = m.checkOnce();
            assertThat(r.status()).isEqualTo(CheckResult.Status.ALARM);
            // its key is attested by another app: an alarm, and so is the certificate carrying that key
            assertThat(kinds(r)).containsExactly("unexpected_identity", "unknown_key");
            assertThat(r.alerts().get(0).reason()).isEqualTo("CT_UNEXPECTED_IDENTITY");
            assertThat(r.alerts().get(0).detail()).contains("app_id: expected " + OTHER_APP + ", attested " + GW_APP)
                    .contains("os_image_hash: expected " + "11".repeat(32) + ", attested " + osImage);
            assertThat(r.knownKeys()).isZero();
        }
    }

    @Test
    void aKeyAttestedByAnotherAppIsAnAlarmNotASkip() throws Exception {
        KeyPair k = p256();
        byte[] spki = k.getPublic().getEncoded();
        X509Certificate cert = RaTlsCertificate.builder().subject("*.other.ct.test").altNames(List.of(
                "*.other.ct.test")).publicKey(k.getPublic()).serverAuth(true).selfSigned(k);
        crt.add("other.ct.test", 401, cert);
        doc.set(acmeInfo(gwSpki, ztQuote(gwCvm, HEX.parseHex(gwSpki)), HEX.formatHex(spki), ztQuote(otherCvm, spki)));
        List<String> alerts = new ArrayList<>();
        try (CtMonitor m = docGateway("other.ct.test", alerts).build()) {
            CheckResult r = m.checkOnce();
            assertThat(r.status()).isEqualTo(CheckResult.Status.ALARM);
            assertThat(kinds(r)).containsExactly("unexpected_identity", "unknown_key");
            assertThat(r.alerts().get(0).publicKey()).isEqualTo(HEX.formatHex(spki));
            assertThat(r.alerts().get(0).detail()).contains("quoted_hist_keys[1]")
                    .contains("app_id: expected " + GW_APP + ", attested " + OTHER_APP);
            assertThat(r.knownKeys()).isEqualTo(1);
            // unpinned (dstack's behaviour, insecure) the same key is accepted
            try (CtMonitor any = CtMonitor.builder().gateway("doc.test", docServer.getAddress().getPort())
                    .domain("other.ct.test").connect(docServer.getAddress()).gatewayCa(List.of(docCert))
                    .crtShUrl(crt.url()).pccsUrl(pccs.baseUrl()).insecureTrustAnchorForTesting(mockRoot)
                    .insecureAcceptAnyGatewayApp().alertSink(alerts::add).build()) {
                assertThat(any.checkOnce().status()).isEqualTo(CheckResult.Status.CLEAN);
            }
        }
    }

    @Test
    void quotesThatFailVerificationAreAlarmsWithTheirReason() throws Exception {
        byte[] a = p256().getPublic().getEncoded();
        byte[] b = p256().getPublic().getEncoded();
        byte[] c = p256().getPublic().getEncoded();
        // a: a genuine quote, but over another key; b: a changed quote signature byte; c: no quote at all
        String forB = ztQuote(gwCvm, b);
        ObjectNode tampered = (ObjectNode) JSON.readTree(forB);
        byte[] qb = HEX.parseHex(tampered.path("quote").asText());
        qb[640] ^= 1; // inside the ECDSA quote signature (header 48 + TD report 584 + length 4)
        tampered.put("quote", HEX.formatHex(qb));
        doc.set(acmeInfo(HEX.formatHex(a), ztQuote(gwCvm, b), HEX.formatHex(b), tampered.toString(),
                HEX.formatHex(c), ""));
        crt.add("badquote.ct.test", 501, gwCert);
        List<String> alerts = new ArrayList<>();
        try (CtMonitor m = docGateway("badquote.ct.test", alerts).build()) {
            CheckResult r = m.checkOnce();
            assertThat(r.status()).isEqualTo(CheckResult.Status.ALARM);
            assertThat(kinds(r)).containsExactly("unverified_key", "unverified_key", "unverified_key",
                    "unknown_key");
            assertThat(r.alerts().get(0).reason()).isEqualTo("REPORT_DATA_MISMATCH");
            assertThat(r.alerts().get(1).reason()).isNotEqualTo("REPORT_DATA_MISMATCH").isNotEmpty();
            assertThat(r.alerts().get(2).reason()).isEqualTo("MALFORMED_RESPONSE");
            assertThat(r.alerts().get(2).detail()).contains("quoted_hist_keys[2]").contains("empty quote");
            assertThat(alerts).hasSize(4);
        }
    }

    @Test
    void crtShDownIsUncheckedAndTheLoopRetries() throws Exception {
        crt.add("down.ct.test", 601, gwCert);
        crt.failList("down.ct.test", 503);
        List<String> alerts = new ArrayList<>();
        List<Duration> waits = new CopyOnWriteArrayList<>();
        AtomicReference<CtMonitor> ref = new AtomicReference<>();
        try (CtMonitor m = realGateway("down.ct.test", alerts).interval(Duration.ofSeconds(60))
                .retryDelay(Duration.ofSeconds(2)).sleeper(d -> {
                    waits.add(d);
                    if (waits.size() == 2) {
                        crt.heal("down.ct.test");
                    } else if (waits.size() == 3) {
                        ref.get().stop();
                    }
                }).build()) {
            ref.set(m);
            CheckResult once = m.checkOnce();
            assertThat(once.status()).isEqualTo(CheckResult.Status.UNCHECKED);
            assertThat(once.exitCode()).isEqualTo(2);
            assertThat(once.reasons()).anySatisfy(s -> assertThat(s).contains("crt.sh").contains("HTTP 503"));
            assertThat(once.lastChecked()).isZero();
            CheckResult last = m.run();
            assertThat(waits).containsExactly(Duration.ofSeconds(2), Duration.ofSeconds(4), Duration.ofSeconds(60));
            assertThat(last.status()).isEqualTo(CheckResult.Status.CLEAN);
            assertThat(last.lastChecked()).isEqualTo(601);
            assertThat(m.meterRegistry().get("ct.monitor.checks").tag("result", "unchecked").counter().count())
                    .isEqualTo(3.0);
        }
        // the gateway unreachable: unchecked too
        try (CtMonitor m = realGateway("down.ct.test", alerts).connect(new InetSocketAddress("127.0.0.1", 1))
                .build()) {
            CheckResult r = m.checkOnce();
            assertThat(r.status()).isEqualTo(CheckResult.Status.UNCHECKED);
            assertThat(r.reasons()).anySatisfy(s -> assertThat(s).contains("acme-info").contains("127.0.0.1:1"));
        }
        assertThat(alerts).isEmpty();
    }

    @Test
    void pagingAndRestartNeitherReAlarmNorMiss() throws Exception {
        String d = "page.ct.test";
        X509Certificate rogue = leaf("*.page.ct.test");
        for (long id = 701; id <= 705; id++) {
            crt.add(d, id, id == 704 ? rogue : gwCert);
        }
        Path state = dir.resolve("state/page.json");
        List<String> alerts = new ArrayList<>();
        try (CtMonitor m = realGateway(d, alerts).stateFile(state).pageSize(2).build()) {
            CheckResult r = m.checkOnce();
            assertThat(r.status()).isEqualTo(CheckResult.Status.ALARM);
            assertThat(r.entriesChecked()).isEqualTo(5);
            assertThat(r.lastChecked()).isEqualTo(705);
            assertThat(alerts).hasSize(1);
        }
        JsonNode saved = JSON.readTree(Files.readString(state));
        assertThat(saved.path("last_checked").asLong()).isEqualTo(705);
        assertThat(saved.path("entry_alarms").get(0).path("crtsh_id").asLong()).isEqualTo(704);
        // restart: the alarm is still outstanding but not raised again; nothing is fetched again
        int pems = crt.pemRequests.get();
        try (CtMonitor m = realGateway(d, alerts).stateFile(state).pageSize(2).build()) {
            CheckResult r = m.checkOnce();
            assertThat(r.status()).isEqualTo(CheckResult.Status.ALARM);
            assertThat(r.alerts()).isEmpty();
            assertThat(r.entriesChecked()).isZero();
            assertThat(crt.pemRequests.get()).isEqualTo(pems);
            // new entries: one fails to download, so the cursor stops before it
            crt.add(d, 706, gwCert);
            crt.add(d, 707, rogue);
            crt.add(d, 708, gwCert);
            crt.failPem(707, 500);
            CheckResult partial = m.checkOnce();
            assertThat(partial.lastChecked()).isEqualTo(706);
            assertThat(partial.reasons()).anySatisfy(s -> assertThat(s).contains("crt.sh id 707")
                    .contains("HTTP 500"));
            assertThat(partial.alerts()).isEmpty();
        }
        assertThat(JSON.readTree(Files.readString(state)).path("last_checked").asLong()).isEqualTo(706);
        crt.healPem(707);
        try (CtMonitor m = realGateway(d, alerts).stateFile(state).build()) {
            CheckResult r = m.checkOnce();
            assertThat(r.entriesChecked()).isEqualTo(2);
            assertThat(r.lastChecked()).isEqualTo(708);
            assertThat(r.alerts()).singleElement().satisfies(a -> assertThat(a.entry().orElseThrow().id())
                    .isEqualTo(707));
            assertThat(r.outstanding()).isEqualTo(2);
        }
        assertThat(alerts).hasSize(2);
    }

    @Test
    void malformedSourcesAreReportedWithTheirCause() throws Exception {
        List<String> alerts = new ArrayList<>();
        String d = "bad.ct.test";
        try (CtMonitor m = realGateway(d, alerts).maxListBytes(4096).build()) {
            crt.listBody(d, "[{\"id\":1,".getBytes(StandardCharsets.UTF_8));
            assertThat(m.checkOnce().reasons()).anySatisfy(s -> assertThat(s).contains("crt.sh listing")
                    .contains("not valid JSON"));
            crt.listBody(d, "[{\"id\":\"801\"}]".getBytes(StandardCharsets.UTF_8));
            assertThat(m.checkOnce().reasons()).anySatisfy(s -> assertThat(s).contains("[0].id")
                    .contains("must be an integer, got a string"));
            crt.listBody(d, ("[" + "{\"id\":1},".repeat(1000) + "{\"id\":2}]").getBytes(StandardCharsets.UTF_8));
            CheckResult big = m.checkOnce();
            assertThat(big.status()).isEqualTo(CheckResult.Status.UNCHECKED);
            assertThat(big.reasons()).anySatisfy(s -> assertThat(s).contains("exceeds the limit of 4096 bytes"));
            crt.heal(d);
            crt.add(d, 801, gwCert);
            crt.pemBody(801, "-----BEGIN CERTIFICATE-----\n!!notbase64!!\n-----END CERTIFICATE-----\n");
            CheckResult pem = m.checkOnce();
            assertThat(pem.status()).isEqualTo(CheckResult.Status.UNCHECKED);
            assertThat(pem.reasons()).anySatisfy(s -> assertThat(s).contains("crt.sh id 801")
                    .contains("not valid base64"));
            crt.pemBody(801, "<html>rate limited</html>");
            assertThat(m.checkOnce().reasons()).anySatisfy(s -> assertThat(s).contains("no -----BEGIN CERTIFICATE"));
            crt.healPem(801);
            assertThat(m.checkOnce().status()).isEqualTo(CheckResult.Status.CLEAN);
        }
        // a gigantic or malformed acme-info
        doc.set(("{\"quoted_hist_keys\":[],\"pad\":\"" + "x".repeat(5000) + "\"}").getBytes(StandardCharsets.UTF_8));
        try (CtMonitor m = docGateway(d, alerts).maxAcmeInfoBytes(2048).build()) {
            CheckResult r = m.checkOnce();
            assertThat(r.status()).isEqualTo(CheckResult.Status.UNCHECKED);
            assertThat(r.reasons()).anySatisfy(s -> assertThat(s).contains("exceeds the limit of 2048"));
            doc.set("{\"quoted_hist_keys\":{}}".getBytes(StandardCharsets.UTF_8));
            assertThat(m.checkOnce().reasons()).anySatisfy(s -> assertThat(s).contains("quoted_hist_keys must be "
                    + "an array, got an object"));
        }
        assertThat(alerts).isEmpty();
    }

    @Test
    void aDstackVerifierServiceInsteadOfOurs() throws Exception {
        // a dstack-verifier stand-in: echoes the quote's report data and answers the gateway's app info
        AtomicReference<String> verdict = new AtomicReference<>("valid");
        List<JsonNode> requests = new CopyOnWriteArrayList<>();
        com.sun.net.httpserver.HttpServer v = com.sun.net.httpserver.HttpServer.create(
                new InetSocketAddress("127.0.0.1", 0), 0);
        v.createContext("/verify", e -> {
            try (e) {
                JsonNode req = JSON.readTree(e.getRequestBody().readAllBytes());
                requests.add(req);
                if (verdict.get().equals("down")) {
                    e.sendResponseHeaders(500, -1);
                    return;
                }
                byte[] q = HEX.parseHex(req.path("quote").asText());
                ObjectNode res = JSON.createObjectNode().put("is_valid", verdict.get().equals("valid"));
                res.put("reason", verdict.get().equals("valid") ? null : "quote signature invalid");
                ObjectNode d = res.putObject("details").put("quote_verified", true).put("event_log_verified", true)
                        .put("os_image_hash_verified", false)
                        .put("report_data", HEX.formatHex(java.util.Arrays.copyOfRange(q, 48 + 520, 48 + 584)));
                d.putObject("app_info").put("app_id", GW_APP).put("compose_hash", composeHash)
                        .put("os_image_hash", osImage);
                byte[] body = res.toString().getBytes(StandardCharsets.UTF_8);
                e.sendResponseHeaders(200, body.length);
                try (OutputStream o = e.getResponseBody()) {
                    o.write(body);
                }
            }
        });
        v.start();
        try {
            crt.add("verifier.ct.test", 901, gwCert);
            List<String> alerts = new ArrayList<>();
            CtMonitor.Builder b = CtMonitor.builder().gateway("ct.test", proxyPort).domain("verifier.ct.test")
                    .connect(new InetSocketAddress("127.0.0.1", proxyPort)).gatewayCa(List.of(gwCert))
                    .crtShUrl(crt.url()).verifierUrl(URI.create("http://127.0.0.1:" + v.getAddress().getPort() + "/"))
                    .expectAppId(GW_APP).expectComposeHash(composeHash).alertSink(alerts::add);
            try (CtMonitor m = b.build()) {
                assertThat(m.checkOnce().status()).isEqualTo(CheckResult.Status.CLEAN);
                JsonNode req = requests.get(0);
                assertThat(req.path("quote").asText()).isNotEmpty();
                assertThat(req.path("event_log").isTextual()).isTrue();
                assertThat(req.path("vm_config").asText()).contains("os_image_hash");
                verdict.set("down");
                CheckResult down = m.checkOnce();
                assertThat(down.status()).isEqualTo(CheckResult.Status.UNCHECKED);
                assertThat(down.reasons()).anySatisfy(r -> assertThat(r).contains("dstack-verifier").contains("500"));
                verdict.set("invalid");
                CheckResult bad = m.checkOnce();
                assertThat(bad.status()).isEqualTo(CheckResult.Status.ALARM);
                assertThat(bad.alerts()).singleElement().satisfies(a -> {
                    assertThat(a.kind()).isEqualTo(Alert.Kind.UNVERIFIED_KEY);
                    assertThat(a.detail()).contains("is_valid = false: quote signature invalid");
                });
            }
            // the OS image pin needs the verifier's os_image_hash_verified
            verdict.set("valid");
            try (CtMonitor m = b.expectOsImage(osImage).build()) {
                CheckResult r = m.checkOnce();
                assertThat(r.status()).isEqualTo(CheckResult.Status.ALARM);
                assertThat(r.alerts().get(0).detail()).contains("os_image_hash: expected " + osImage
                        + ", but no measured");
            }
        } finally {
            v.stop(0);
        }
    }
}
