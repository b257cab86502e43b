package dev.atlas.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.dstack.AttestationReport;
import dev.atlas.dstack.DstackTdxPolicy;
import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.EventLog;
import dev.atlas.dstack.QuoteResponse;
import dev.atlas.dstack.ReportData;
import dev.atlas.tdx.CollateralClient;
import dev.atlas.tdx.CollateralSource;
import dev.atlas.tdx.Quote;
import dev.atlas.tdx.QuoteVerifier;
import dev.atlas.tdx.TcbStatus;
import dev.atlas.testing.SimulatedCvm;
import dev.atlas.testing.SimulatedGuestAgent;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `atlas simulate` writes files that are enough to attest; `atlas server` serves quotes from a guest agent. */
class SimulateAndServerCommandTest {
    /**
     * The command runs on its own thread: on a 2-core machine the common pool has one worker, and a command
     * sleeping there would starve the JDK HTTP client's asynchronous steps.
     */
    static final java.util.concurrent.Executor OWN_THREAD = r -> Thread.ofPlatform().start(r);

    @TempDir
    Path dir;

    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    static X509Certificate pem(Path p) throws Exception {
        return (X509Certificate) CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(Files.readAllBytes(p)));
    }

    /** POST /tdx_quote over plain JSSE; returns {response body, nonce hex, ekm hex, peer cert}. */
    static Object[] attest(String host, int port, X509Certificate trusted) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setCertificateEntry("s", trusted);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(ks);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(host, port)) {
            s.setSoTimeout(20_000);
            s.setEnabledProtocols(new String[] {"TLSv1.3"});
            s.startHandshake();
            byte[] ekm = ((ExtendedSSLSession) s.getSession()).exportKeyingMaterialData("EXPORTER-Channel-Binding", null, 32);
            byte[] nonce = new byte[32];
            new SecureRandom().nextBytes(nonce);
            String body = "{\"nonce_hex\":\"" + HexFormat.of().formatHex(nonce) + "\"}";
            OutputStream o = s.getOutputStream();
            o.write(("POST /tdx_quote HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: "
                    + body.length() + "\r\nConnection: close\r\n\r\n" + body).getBytes(StandardCharsets.US_ASCII));
            o.flush();
            InputStream in = s.getInputStream();
            StringBuilder head = new StringBuilder();
            while (!head.toString().endsWith("\r\n\r\n")) {
                head.append((char) in.read());
            }
            assertThat(head.toString()).startsWith("HTTP/1.1 200");
            int length = Integer.parseInt(head.toString().toLowerCase(java.util.Locale.ROOT)
                    .split("content-length: ")[1].split("\r\n")[0].strip());
            String json = new String(in.readNBytes(length), StandardCharsets.UTF_8);
            return new Object[] {json, nonce, ekm,
                s.getSession().getPeerCertificates()[0].getEncoded()};
        }
    }

    @Test
    void simulateWritesEverythingAClientNeeds() throws Exception {
        int port = freePort();
        Path out = dir.resolve("sim");
        CompletableFuture<CliRun> run = CompletableFuture.supplyAsync(() -> CliRun.of("simulate", "--listen",
                "127.0.0.1:" + port, "--out", out.toString(), "--duration", "8"), OWN_THREAD);
        Path sim = out.resolve("simulation.json");
        for (int i = 0; i < 200 && !Files.exists(sim); i++) {
            Thread.sleep(50);
        }
        Thread.sleep(200);
        JsonNode s = new ObjectMapper().readTree(Files.readString(sim));
        assertThat(s.get("url").textValue()).isEqualTo("https://127.0.0.1:" + port);

        DstackTdxPolicy policy = dev.atlas.dstack.PolicyJson.parse(Files.readString(out.resolve("policy.json")));
        assertThat(policy.pccsUrl()).isEqualTo(s.get("pccs_url").textValue());
        assertThat(policy.appCompose()).isNotNull(); // the default compose is in serde form: Atlas-compatible
        X509Certificate root = pem(out.resolve("root-ca.pem"));
        Object[] r = attest("127.0.0.1", port, pem(out.resolve("server-cert.pem")));
        AttestationReport report = DstackTdxVerifier.builder()
                .quoteVerifier(QuoteVerifier.builder().insecureTrustAnchorForTesting(root).build())
                .collateralSource(CollateralSource.fetching(CollateralClient.builder().baseUrl(policy.collateralUrl()).build()))
                .build()
                .verify(DstackTdxVerifier.Evidence.builder(QuoteResponse.parse((String) r[0]))
                        .sessionBinding((byte[]) r[1], (byte[]) r[2]).peerCertificate((byte[]) r[3]).build(), policy);
        assertThat(report.tcbStatus()).isEqualTo(TcbStatus.UP_TO_DATE);
        CliRun done = run.get();
        assertThat(done.code()).isZero();
        assertThat(done.out()).contains("aTLS endpoint   https://127.0.0.1:" + port).contains("root-ca.pem");
        assertThat(done.err()).contains("quote served");
    }

    @Test
    void serverAnswersWithQuotesFromTheGuestAgent() throws Exception {
        SimulatedCvm cvm = SimulatedCvm.builder().seed(5).build();
        int port = freePort();
        try (SimulatedGuestAgent agent = SimulatedGuestAgent.builder(cvm).unixSocket(dir.resolve("dstack.sock")).start()) {
            CompletableFuture<CliRun> run = CompletableFuture.supplyAsync(() -> CliRun.of("server",
                    "--upstream", "http://127.0.0.1:9", "--listen", "127.0.0.1:" + port,
                    "--agent", agent.endpoint(), "--duration", "6"), OWN_THREAD);
            for (int i = 0; i < 200 && agent.callCount("EmitEvent") == 0; i++) {
                Thread.sleep(50);
            }
            Thread.sleep(300);
            // Trust whatever self-signed certificate it presents: the event log must name exactly that one.
            X509Certificate[] seen = new X509Certificate[1];
            SSLContext trustAll = SSLContext.getInstance("TLS");
            trustAll.init(null, new javax.net.ssl.TrustManager[] {new javax.net.ssl.X509TrustManager() {
                public void checkClientTrusted(X509Certificate[] c, String a) { }

                public void checkServerTrusted(X509Certificate[] c, String a) {
                    seen[0] = c[0];
                }

                public X509Certificate[] getAcceptedIssuers() {
                    return new X509Certificate[0];
                }
            }}, null);
            try (SSLSocket s = (SSLSocket) trustAll.getSocketFactory().createSocket("127.0.0.1", port)) {
                s.startHandshake();
            }
            Object[] r = attest("127.0.0.1", port, seen[0]);
            QuoteResponse qr = QuoteResponse.parse((String) r[0]);
            assertThat(Quote.parse(qr.quote()).tdReport().reportDataBytes())
                    .isEqualTo(ReportData.sessionBinding((byte[]) r[1], (byte[]) r[2]));
            EventLog log = qr.eventLog();
            String certHash = HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest((byte[]) r[3]));
            assertThat(log.verify().tlsCertificate().orElseThrow().payloadText()).contains(certHash);
            CliRun done = run.get();
            assertThat(done.code()).isZero();
            assertThat(done.err()).contains("measured via dstack guest agent at unix:");
        }
    }

    @Test
    void getAttestsTheSimulatorAndFetchesThroughIt() throws Exception {
        int port = freePort();
        Path out = dir.resolve("sim-get");
        CompletableFuture<CliRun> run = CompletableFuture.supplyAsync(() -> CliRun.of("simulate", "--listen",
                "127.0.0.1:" + port, "--out", out.toString(), "--duration", "10"), OWN_THREAD);
        for (int i = 0; i < 200 && !Files.exists(out.resolve("simulation.json")); i++) {
            Thread.sleep(50);
        }
        Thread.sleep(300);
        String url = "https://127.0.0.1:" + port + "/hello?x=1";
        String policy = out.resolve("policy.json").toString();
        String root = out.resolve("root-ca.pem").toString();
        CliRun reportOnly = CliRun.of("get", url, "--policy", policy, "--root-ca", root, "--trust-attested-cert",
                "--report-only");
        assertThat(reportOnly.code()).isZero();
        assertThat(reportOnly.err()).contains("attested 127.0.0.1:" + port).contains("UpToDate");
        assertThat(reportOnly.out()).isEmpty();

        CliRun get = CliRun.of("get", url, "--policy", policy, "--root-ca", root, "--trust-attested-cert", "--json");
        assertThat(get.code()).isZero();
        assertThat(get.out()).contains("hello from the simulated dstack CVM").contains("/hello");
        assertThat(get.err()).contains("\"tcb_status\"");

        // The system trust store does not know the simulator's certificate: exit 1, the reason and the fix on stderr.
        CliRun untrusted = CliRun.of("get", url, "--policy", policy, "--root-ca", root);
        assertThat(untrusted.code()).isEqualTo(1);
        assertThat(untrusted.err()).contains("certificate trust failure during the TLS handshake with 127.0.0.1:" + port)
                .contains("--trust-attested-cert").doesNotContain("SSLHandshakeException");

        // Without the mock root the pinned Intel root rejects the simulated quote.
        CliRun pinned = CliRun.of("get", url, "--policy", policy, "--trust-attested-cert");
        assertThat(pinned.code()).isEqualTo(1);
        assertThat(pinned.err()).contains("attestation failed");
        assertThat(run.get().code()).isZero();
    }

    @Test
    void usageErrors() {
        assertThat(CliRun.of("get", "http://x/", "--policy", "p.json").code()).isEqualTo(2);
        assertThat(CliRun.of("get", "https://x/").code()).isEqualTo(2);
        assertThat(CliRun.of("server").code()).isEqualTo(2);
        assertThat(CliRun.of("server", "--upstream", "http://x", "--cert", "a.pem").code()).isEqualTo(2);
        assertThat(CliRun.of("simulate", "--listen", "nope").code()).isEqualTo(2);
        assertThat(URI.create("http://x")).isNotNull();
    }
}
