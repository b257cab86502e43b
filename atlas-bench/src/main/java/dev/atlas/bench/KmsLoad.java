package dev.atlas.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.guest.AppInfo;
import dev.atlas.dstack.guest.DstackClient;
import dev.atlas.dstack.kms.KmsServer;
import dev.atlas.dstack.ra.ClientIdentity;
import dev.atlas.dstack.ra.K256PrivateKey;
import dev.atlas.dstack.ra.KeyDerivation;
import dev.atlas.dstack.ra.KmsSignatures;
import dev.atlas.dstack.ra.P256PrivateKey;
import dev.atlas.dstack.ra.RaTlsCertificate;
import dev.atlas.dstack.ra.RaTlsVerifier;
import dev.atlas.dstack.ra.VersionedAttestation;
import dev.atlas.dstack.ra.kms.KmsClient;
import dev.atlas.dstack.ra.kms.TempCaCertResponse;
import dev.atlas.dstack.simulator.GuestAgentSimulator;
import dev.atlas.dstack.testing.DstackTestbed;
import dev.atlas.tdx.CollateralSource;
import dev.atlas.tdx.QuoteVerifier;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Scripted load run (bench/kms-load.sh): {@code KMS.GetAppKey} end to end on loopback against a real
 * {@link KmsServer} in a simulated CVM, bootstrapped over HTTP, with dstack's auth server as the webhook
 * (dstack-testing's {@code DstackTestbed}; every request: a fresh mTLS handshake with an RA-TLS client certificate,
 * the caller's attestation verified with a warm collateral cache, self-authorization and {@code bootAuth/app} on the
 * webhook, key derivation, the audit line).
 * The callers are an allowlisted app: a pool of RA-TLS client identities is made up front (the KMS does not require
 * fresh ones, and dstack-util makes one per boot), so the client spends nothing but its TLS handshake.
 *
 * <p>Prints one JSON line: median and p99 (ms) and releases per second at 1, 8 and 64 concurrent callers, and a
 * breakdown of one release measured piece by piece (sequential medians, µs): the mTLS handshake alone, the
 * attestation verification, one webhook call, the derivations. Arguments: {@code [N1=300] [N8=800] [N64=1280]}.
 */
public final class KmsLoad {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HexFormat HEX = HexFormat.of();

    public static void main(String[] args) throws Exception {
        int n1 = args.length > 0 ? Integer.parseInt(args[0]) : 300;
        int n8 = args.length > 1 ? Integer.parseInt(args[1]) : 800;
        int n64 = args.length > 2 ? Integer.parseInt(args[2]) : 1280;
        quietLogs();
        Path dir = Files.createTempDirectory("kms-load");
        List<AutoCloseable> closers = new ArrayList<>();
        try {
            run(dir, closers, n1, n8, n64);
        } finally {
            for (int i = closers.size() - 1; i >= 0; i--) {
                try {
                    closers.get(i).close();
                } catch (Exception e) {
                    // best effort
                }
            }
            try (java.util.stream.Stream<Path> s = Files.walk(dir)) { // the KMS keys made for the run
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        System.exit(0);
    }

    private static void run(Path dir, List<AutoCloseable> closers, int n1, int n8, int n64) throws Exception {
        // ---- testbed: mock PCCS, auth server, a KMS bootstrapped in its own CVM (DstackTestbed); the app CVM ----
        DstackTestbed tb = DstackTestbed.start(dir.resolve("testbed"));
        closers.add(tb);
        GuestAgentSimulator appCvm = tb.track(GuestAgentSimulator.builder().seed(seed("app")).pkiSeed(tb.pkiSeed())
                .appId(fill(0x7a)).internalSocket(dir.resolve("app.sock")).start());
        AppInfo app = DstackClient.builder().endpoint(appCvm.internalSocket().orElseThrow().toString()).build().info();
        tb.allowOsImage(app.osImageHash());
        tb.allowApp(app.appId(), app.composeHash());
        int port = tb.kms().rpcAddress().getPort();
        URI rpc = URI.create(tb.kmsUrl() + "/prpc");

        // ---- client identities: fresh key, the app's attestation bound to it, signed by the temp CA -----------
        DstackClient appAgent = DstackClient.builder().endpoint(appCvm.internalSocket().orElseThrow().toString())
                .build();
        TempCaCertResponse tmp = KmsClient.builder(rpc).insecureSkipServerAttestation().build().getTempCaCert();
        X509Certificate tempCa = cert(tmp.tempCaCert());
        PrivateKey tempKey = KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(
                P256PrivateKey.fromPem(tmp.tempCaKey().strip()).pkcs8()));
        List<SSLContext> identities = new ArrayList<>();
        List<byte[]> attestations = new ArrayList<>();
        List<KeyPair> keys = new ArrayList<>();
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        for (int i = 0; i < 64; i++) {
            KeyPair kp = g.generateKeyPair();
            byte[] att = VersionedAttestation.decode(appAgent.attest(RaTlsCertificate.reportData(kp.getPublic())))
                    .stripped().encode();
            X509Certificate c = RaTlsCertificate.builder().subject(KmsClient.CLIENT_CERT_SUBJECT).attestation(att)
                    .publicKey(kp.getPublic()).clock(Clock.systemUTC()).signedBy(tempCa, tempKey);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(new KeyManager[] {ClientIdentity.of(kp.getPrivate(), c)},
                    new TrustManager[] {new TrustAll()}, null);
            identities.add(ctx);
            attestations.add(att);
            keys.add(kp);
        }
        byte[] body = JSON.createObjectNode().put("api_version", 1).put("vm_config", app.vmConfig()).toString()
                .getBytes(StandardCharsets.UTF_8);

        // ---- warm-up (JIT, collateral cache) ----------------------------------------------------------------
        for (int i = 0; i < 1000; i++) { // C2 needs a while on 2 shared cores
            release(identities.get(i % 64), port, body);
        }

        Map<String, Object> out = new LinkedHashMap<>();
        out.put("cpus", Runtime.getRuntime().availableProcessors());
        out.put("loadavg_before", loadAverage());
        Map<String, Object> runs = new LinkedHashMap<>();
        runs.put("c1", load(identities, port, body, 1, n1));
        runs.put("c8", load(identities, port, body, 8, n8));
        runs.put("c64", load(identities, port, body, 64, n64));
        out.put("get_app_key", runs);

        // ---- breakdown, sequential medians --------------------------------------------------------------------
        Map<String, Object> parts = new LinkedHashMap<>();
        parts.put("release_end_to_end_us", median(200, () -> release(identities.get(0), port, body)));
        parts.put("mtls_handshake_us", median(200, () -> handshake(identities.get(1), port)));
        SSLContext anonymous = SSLContext.getInstance("TLS");
        anonymous.init(null, new TrustManager[] {new TrustAll()}, null);
        parts.put("tls_handshake_without_client_cert_us", median(200, () -> handshake(anonymous, port)));
        X509Certificate rootCert = cert(Files.readString(tb.mockRootCaPath()));
        DstackTdxVerifier dv = DstackTdxVerifier.builder()
                .quoteVerifier(QuoteVerifier.builder().insecureTrustAnchorForTesting(rootCert).build())
                .collateralSource(CollateralSource.forUrl(tb.pccsUrl(), true, Clock.systemUTC())).build();
        RaTlsVerifier rv = RaTlsVerifier.builder().trustedCa(tempCa).dstackVerifier(dv).anyUsage().build();
        X509Certificate someClient = RaTlsCertificate.builder().subject(KmsClient.CLIENT_CERT_SUBJECT)
                .attestation(attestations.get(2)).publicKey(keys.get(2).getPublic()).clock(Clock.systemUTC())
                .signedBy(tempCa, tempKey);
        rv.verify(List.of(someClient), java.time.Instant.now()); // collateral cache warm
        parts.put("attestation_verify_us", median(200, () -> rv.verify(List.of(someClient), java.time.Instant.now())));
        ObjectNode bi = JSON.createObjectNode().put("teeVariant", "dstack-tdx").put("mrAggregated", app.mrAggregated())
                .put("osImageHash", app.osImageHash()).put("mrSystem", "00".repeat(32)).put("appId", app.appId())
                .put("composeHash", app.composeHash()).put("instanceId", app.instanceId())
                .put("deviceId", app.deviceId()).put("keyProviderInfo", "").put("tcbStatus", "UpToDate");
        bi.putArray("advisoryIds");
        String bootInfo = bi.toString();
        HttpClient webhook = HttpClient.newBuilder().build();
        parts.put("webhook_call_us", median(200, () -> post(webhook, tb.authUrl() + "/bootAuth/app", bootInfo)));
        P256PrivateKey rootCa = P256PrivateKey.fromScalar(new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
                15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32});
        K256PrivateKey rootK256 = K256PrivateKey.fromScalar(fill32(0x42));
        byte[] appId = HEX.parseHex(app.appId());
        byte[] instanceId = HEX.parseHex(app.instanceId());
        parts.put("derivation_us", median(200, () -> {
            KeyDerivation.appDiskKey(rootCa, appId, instanceId);
            KeyDerivation.appEnvKey(rootCa, appId);
            K256PrivateKey k = KeyDerivation.appK256Key(rootK256, appId);
            KmsSignatures.k256Signature(rootK256, appId, k.publicKey());
        }));
        parts.put("webhook_calls_per_release", 2);
        // for comparison, the whole dstack-util path of one boot: GetTempCaCert, a fresh key and attestation from
        // the app's agent, the KMS certificate's attestation verified by the client, then GetAppKey
        KmsClient util = KmsClient.builder(rpc).attester(appAgent::attest).verifier(dv).build();
        parts.put("dstack_util_path_us", median(50, () -> util.getAppKey(app.vmConfig())));
        parts.put("util_agent_attest_us", median(50, () -> appAgent.attest(new byte[64])));
        KmsClient plain = KmsClient.builder(rpc).insecureSkipServerAttestation().build();
        parts.put("util_get_temp_ca_cert_us", median(50, plain::getTempCaCert));
        List<X509Certificate> serverChain = KmsClient.fetchServerChain(rpc, Duration.ofSeconds(10));
        RaTlsVerifier sv = RaTlsVerifier.builder().trustedCa(cert(tmp.caCert())).dstackVerifier(dv)
                .usage(RaTlsCertificate.USAGE_KMS_RPC).build();
        parts.put("util_kms_certificate_verify_us", median(50, () -> sv.verify(serverChain, java.time.Instant.now())));
        long rest = (long) parts.get("release_end_to_end_us") - (long) parts.get("mtls_handshake_us")
                - (long) parts.get("attestation_verify_us") - 2 * (long) parts.get("webhook_call_us")
                - (long) parts.get("derivation_us");
        parts.put("rest_us", rest); // pRPC/HTTP, BootInfo, audit line, request/response JSON, scheduling
        out.put("loadavg_after", loadAverage());
        out.put("breakdown", parts);
        System.out.println(JSON.writeValueAsString(out));
    }

    // ---- one release over a fresh mTLS connection ---------------------------------------------------------

    private static void release(SSLContext ctx, int port, byte[] body) throws IOException {
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", port)) {
            s.setTcpNoDelay(true);
            s.startHandshake();
            OutputStream os = s.getOutputStream();
            String head = "POST /prpc/KMS.GetAppKey?json HTTP/1.1\r\nHost: 127.0.0.1:" + port
                    + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length
                    + "\r\nConnection: close\r\n\r\n";
            os.write(head.getBytes(StandardCharsets.US_ASCII));
            os.write(body);
            os.flush();
            InputStream in = s.getInputStream();
            byte[] resp = in.readAllBytes();
            String text = new String(resp, 0, Math.min(resp.length, 16), StandardCharsets.US_ASCII);
            if (!text.startsWith("HTTP/1.1 200")) {
                throw new IOException("GetAppKey refused: " + new String(resp, StandardCharsets.UTF_8));
            }
        }
    }

    private static void handshake(SSLContext ctx, int port) throws IOException {
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", port)) {
            s.setTcpNoDelay(true);
            s.startHandshake();
        }
    }

    private static Map<String, Object> load(List<SSLContext> ids, int port, byte[] body, int callers, int total)
            throws Exception {
        int per = Math.max(1, total / callers);
        List<List<Long>> samples = new ArrayList<>();
        ExecutorService pool = Executors.newFixedThreadPool(callers);
        List<Future<?>> fs = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int c = 0; c < callers; c++) {
            List<Long> mine = new ArrayList<>();
            samples.add(mine);
            SSLContext ctx = ids.get(c % ids.size());
            fs.add(pool.submit(() -> {
                for (int i = 0; i < per; i++) {
                    long t = System.nanoTime();
                    release(ctx, port, body);
                    mine.add(System.nanoTime() - t);
                }
                return null;
            }));
        }
        for (Future<?> f : fs) {
            f.get();
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        pool.shutdown();
        List<Long> all = new ArrayList<>();
        samples.forEach(all::addAll);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("requests", all.size());
        m.put("median_ms", LoadSupport.percentileMicros(all, 50) / 1000.0);
        m.put("p99_ms", LoadSupport.percentileMicros(all, 99) / 1000.0);
        m.put("releases_per_second", Math.round(all.size() / secs));
        return m;
    }

    @FunctionalInterface
    private interface Step {
        void run() throws Exception;
    }

    private static long median(int n, Step step) throws Exception {
        for (int i = 0; i < 20; i++) {
            step.run();
        }
        List<Long> ns = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            long t = System.nanoTime();
            step.run();
            ns.add(System.nanoTime() - t);
        }
        return LoadSupport.percentileMicros(ns, 50);
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).strip();
        } catch (IOException e) {
            return "unknown";
        }
    }

    private static JsonNode post(HttpClient http, String url, String body) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IOException(url + ": HTTP " + r.statusCode() + " " + r.body());
        }
        return JSON.readTree(r.body());
    }

    private static X509Certificate cert(String pem) throws Exception {
        return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(
                new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)));
    }

    private static byte[] seed(String name) throws Exception {
        return java.security.MessageDigest.getInstance("SHA-256").digest(("kms-load-" + name)
                .getBytes(StandardCharsets.UTF_8));
    }

    private static byte[] fill(int b) {
        byte[] x = new byte[20];
        Arrays.fill(x, (byte) b);
        return x;
    }

    private static byte[] fill32(int b) {
        byte[] x = new byte[32];
        Arrays.fill(x, (byte) b);
        return x;
    }

    /**
     * The KMS audit line (one per release) and the other JDK-logged lines still get formatted, but go nowhere
     * instead of the console: a deployment writes them to a file or the journal, not a terminal.
     */
    private static void quietLogs() {
        java.util.logging.Logger rootLogger = java.util.logging.Logger.getLogger("");
        for (java.util.logging.Handler h : rootLogger.getHandlers()) {
            rootLogger.removeHandler(h);
        }
        java.util.logging.StreamHandler sink = new java.util.logging.StreamHandler(OutputStream.nullOutputStream(),
                new java.util.logging.SimpleFormatter()) {
            @Override
            public synchronized void publish(java.util.logging.LogRecord r) {
                super.publish(r);
                flush();
            }
        };
        rootLogger.addHandler(sink);
    }

    /** The load client does not check the KMS (its server check is the client's cost, not the KMS's). */
    private static final class TrustAll extends X509ExtendedTrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] c, String a, Socket s) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] c, String a, Socket s) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] c, String a, SSLEngine e) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] c, String a, SSLEngine e) {
        }

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
    }
}
