package dev.atlas.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.sun.net.httpserver.HttpExchange;
import dev.atlas.dstack.Bootchain;
import dev.atlas.dstack.DstackTdxPolicy;
import dev.atlas.protocol.Http1ResponseReader;
import dev.atlas.server.AtlsServer;
import dev.atlas.server.ServerCertificate;
import dev.atlas.server.testing.SimulatedAtlsServer;
import dev.atlas.server.testing.SimulatedQuoteProvider;
import dev.atlas.tdx.AttestationException.Reason;
import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.TcbStatus;
import dev.atlas.testing.MockPccs;
import dev.atlas.testing.SimulatedCvm;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.UnaryOperator;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** End to end on loopback: the connector against the simulated CVM behind the aTLS server, and hostile peers. */
class AtlsConnectorTest {
    static SimulatedAtlsServer sim;
    static SimulatedCvm cvm;
    static MockPccs pccs;
    static AtlsServer server;
    static final ServerCertificate CERT = ServerCertificate.selfSigned(Clock.systemUTC(), Duration.ofDays(1),
            "localhost", "127.0.0.1");

    @BeforeAll
    static void start() throws Exception {
        sim = SimulatedAtlsServer.builder().seed(21).certificate(CERT).handler(AtlsConnectorTest::hello).start();
        cvm = sim.cvm();
        server = sim.server();
        pccs = sim.pccs();
    }

    @AfterAll
    static void stop() {
        if (sim != null) {
            sim.close();
        }
    }

    static void hello(HttpExchange ex) throws IOException {
        byte[] b = "hello".getBytes(StandardCharsets.US_ASCII);
        ex.sendResponseHeaders(200, b.length);
        try (OutputStream o = ex.getResponseBody()) {
            o.write(b);
        }
    }

    /** The policy without its compose form. */
    static DstackTdxPolicy.Builder base(SimulatedCvm c) {
        return DstackTdxPolicy.builder()
                .expectedBootchain(Bootchain.of(c.mrTd(), c.rtmr(0), c.rtmr(1), c.rtmr(2)))
                .osImageHash(c.osImageHash())
                .pccsUrl(pccs.tdxUrl())
                .cacheCollateral(true);
    }

    static DstackTdxPolicy.Builder policy(SimulatedCvm c) {
        return base(c).appComposeRaw(new String(c.appCompose(), StandardCharsets.UTF_8));
    }

    static AtlsConnector connector(DstackTdxPolicy p, UnaryOperator<AtlsConnector.Builder> change) throws Exception {
        return change.apply(AtlsConnector.builder(p).trustAttestedCertificate()
                .insecureIntelRootForTesting(cvm.rootCertificate())).build();
    }

    static AtlsConnector connector() throws Exception {
        return connector(policy(cvm).build(), b -> b);
    }

    @Test
    void attestsThenCarriesApplicationTrafficOnTheSameConnection() throws Exception {
        List<String> events = new ArrayList<>();
        AtlsConnector c = connector(policy(cvm).build(), b -> b.listener(new AtlsListener() {
            @Override
            public void verifyEnd(AtlsCall call, dev.atlas.dstack.AttestationReport report, Duration took) {
                events.add(report.collateralFromCache() ? "cached" : "fetched");
            }

            @Override
            public void callEnd(AtlsCall call, dev.atlas.dstack.AttestationReport report, Duration took) {
                events.add("verified");
            }
        }));
        try (AttestedConnection a = c.connect("127.0.0.1", server.port())) {
            assertThat(a.state()).isEqualTo(AttestedConnection.State.ATTESTED);
            assertThat(a.report().tcbStatus()).isEqualTo(TcbStatus.UP_TO_DATE);
            assertThat(a.report().certificateChecked()).isTrue();
            assertThat(a.report().reportDataChecked()).isTrue();
            a.outputStream().write("GET /x HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            Http1ResponseReader.Response r = Http1ResponseReader.read(a.socket(), a.inputStream(), 5000, 65536, 1024);
            assertThat(new String(r.body(), StandardCharsets.US_ASCII)).isEqualTo("hello");
            a.close();
            assertThat(a.state()).isEqualTo(AttestedConnection.State.CLOSED);
            assertThrows(IllegalStateException.class, a::outputStream);
        }
        try (AttestedConnection a = c.connect("localhost", server.port())) {
            assertThat(a.state()).isEqualTo(AttestedConnection.State.ATTESTED);
        }
        assertThat(events).containsExactly("fetched", "verified", "cached", "verified");
    }

    @Test
    void hundredConcurrentConnectsShareOneCollateralFetch() throws Exception {
        int before = pccs.requestCount("/tdx/certification/v4/tcb");
        AtlsConnector c = connector();
        ExecutorService pool = Executors.newFixedThreadPool(16);
        List<Future<AttestedConnection.State>> fs = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            fs.add(pool.submit(() -> {
                try (AttestedConnection a = c.connect("127.0.0.1", server.port())) {
                    return a.state();
                }
            }));
        }
        for (Future<AttestedConnection.State> f : fs) {
            assertThat(f.get()).isEqualTo(AttestedConnection.State.ATTESTED);
        }
        pool.shutdown();
        assertThat(pccs.requestCount("/tdx/certification/v4/tcb") - before).isEqualTo(1);
    }

    static Reason rejectedBy(DstackTdxPolicy p) {
        return assertThrows(AttestationException.class, () -> connector(p, b -> b).connect("127.0.0.1", server.port()))
                .reason();
    }

    @Test
    void policyMismatchesNameTheirCheck() throws Exception {
        assertThat(rejectedBy(base(cvm).expectedComposeHash("00".repeat(32)).build()))
                .isEqualTo(Reason.APP_COMPOSE_MISMATCH);
        assertThat(rejectedBy(policy(cvm).expectedBootchain(Bootchain.of(cvm.mrTd(), cvm.rtmr(0), "00".repeat(48),
                cvm.rtmr(2))).build())).isEqualTo(Reason.BOOTCHAIN_MISMATCH);
        assertThat(rejectedBy(policy(cvm).osImageHash("11".repeat(32)).build())).isEqualTo(Reason.OS_IMAGE_HASH_MISMATCH);
    }

    /** A CVM that misbehaves, served by its own aTLS server, attested by the connector under the honest policy. */
    static Reason rejectedFrom(UnaryOperator<SimulatedCvm.Builder> change) throws Exception {
        SimulatedCvm bad = change.apply(SimulatedCvm.builder().seed(21)).build();
        // Its own PCCS: a TCB status comes from the platform's collateral, not from the CVM's answer.
        try (AtlsServer s = AtlsServer.builder().certificate(CERT).quoteProvider(SimulatedQuoteProvider.of(bad))
                .checkQuoteReportData(false).build().start(); MockPccs badPccs = MockPccs.start(bad)) {
            DstackTdxPolicy p = policy(cvm).pccsUrl(badPccs.tdxUrl()).build();
            return assertThrows(AttestationException.class, () -> connector(p, b -> b).connect("127.0.0.1", s.port()))
                    .reason();
        }
    }

    @Test
    void misbehavingCvmsAndEachBootchainFieldAreRejectedThroughTheConnector() throws Exception {
        assertThat(rejectedFrom(b -> b.misbehaveRewritePayload("os-image-hash", new byte[32])))
                .isEqualTo(Reason.EVENT_DIGEST_MISMATCH);
        assertThat(rejectedFrom(b -> b.stripRuntimeDigests().misbehaveRewritePayload("compose-hash", new byte[32])))
                .isEqualTo(Reason.RTMR_MISMATCH);
        assertThat(rejectedFrom(b -> b.tcbStatus("OutOfDate"))).isEqualTo(Reason.TCB_STATUS_NOT_ALLOWED);
        assertThat(rejectedFrom(SimulatedCvm.Builder::debugTd)).isEqualTo(Reason.DEBUG_ENABLED);
        assertThat(rejectedFrom(b -> b.misbehaveMeasureCompose("{}".getBytes(StandardCharsets.UTF_8))))
                .isEqualTo(Reason.APP_COMPOSE_MISMATCH);
        assertThat(rejectedFrom(b -> b.keyProvider(SimulatedCvm.KeyProvider.LOCAL_SGX)))
                .isEqualTo(Reason.OS_IMAGE_HASH_MISMATCH);
        String other = "ab".repeat(48);
        List<Bootchain> chains = List.of(Bootchain.of(other, cvm.rtmr(0), cvm.rtmr(1), cvm.rtmr(2)),
                Bootchain.of(cvm.mrTd(), other, cvm.rtmr(1), cvm.rtmr(2)),
                Bootchain.of(cvm.mrTd(), cvm.rtmr(0), other, cvm.rtmr(2)),
                Bootchain.of(cvm.mrTd(), cvm.rtmr(0), cvm.rtmr(1), other));
        List<String> subjects = new ArrayList<>();
        for (Bootchain chain : chains) {
            AttestationException e = assertThrows(AttestationException.class, () -> connector(
                    policy(cvm).expectedBootchain(chain).build(), b -> b).connect("127.0.0.1", server.port()));
            assertThat(e.reason()).isEqualTo(Reason.BOOTCHAIN_MISMATCH);
            subjects.add(e.subject().orElseThrow());
        }
        assertThat(subjects).containsExactly("mrtd", "rtmr0", "rtmr1", "rtmr2");
    }

    @Test
    void trustModes() throws Exception {
        // The platform trust store does not know the self-signed certificate.
        AtlsConnector system = AtlsConnector.builder(policy(cvm).build())
                .insecureIntelRootForTesting(cvm.rootCertificate()).build();
        assertThrows(SSLHandshakeException.class, () -> system.connect("localhost", server.port()));
        // A CA file that holds it works, with hostname verification.
        Path ca = Files.writeString(dir.resolve("ca.pem"), CERT.chainPem());
        AtlsConnector withCa = AtlsConnector.builder(policy(cvm).build()).trustCaFile(ca)
                .insecureIntelRootForTesting(cvm.rootCertificate()).build();
        try (AttestedConnection a = withCa.connect("localhost", server.port())) {
            assertThat(a.state()).isEqualTo(AttestedConnection.State.ATTESTED);
        }
        assertThat(withCa.trustMode()).isEqualTo(AtlsConnector.TrustMode.CA_FILE);
    }

    @TempDir
    Path dir;

    // ---- men in the middle ----------------------------------------------------------------------------------

    /** A TLS-terminating relay with {@code cert} that forwards bytes to the real server over its own session. */
    static ServerSocket relay(ServerCertificate cert) throws Exception {
        SSLServerSocket ss = (SSLServerSocket) serverContext(cert).getServerSocketFactory()
                .createServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread.ofVirtual().start(() -> {
            while (!ss.isClosed()) {
                try {
                    Socket in = ss.accept();
                    SSLContext trustAll = SSLContext.getInstance("TLS");
                    trustAll.init(null, new TrustManager[] {new TrustAll()}, null);
                    SSLSocket out = (SSLSocket) trustAll.getSocketFactory().createSocket("127.0.0.1", server.port());
                    out.setEnabledProtocols(new String[] {"TLSv1.3"});
                    Thread.ofVirtual().start(() -> pump(in, out));
                    Thread.ofVirtual().start(() -> pump(out, in));
                } catch (Exception e) {
                    return;
                }
            }
        });
        return ss;
    }

    static void pump(Socket from, Socket to) {
        try (InputStream i = from.getInputStream(); OutputStream o = to.getOutputStream()) {
            i.transferTo(o);
        } catch (IOException ignored) {
            // one side closed
        }
    }

    @Test
    void certificateSwapIsRejected() throws Exception {
        ServerCertificate own = ServerCertificate.selfSigned(Clock.systemUTC(), Duration.ofDays(1), "localhost");
        try (ServerSocket mitm = relay(own)) {
            AttestationException e = assertThrows(AttestationException.class,
                    () -> connector().connect("127.0.0.1", mitm.getLocalPort()));
            assertThat(e.reason()).isEqualTo(Reason.CERTIFICATE_NOT_IN_EVENT_LOG);
        }
    }

    @Test
    void relayOfAGenuineQuoteFromAnotherSessionIsRejected() throws Exception {
        // Even with the server's own key (stolen), the relay's two sessions have different exporters.
        try (ServerSocket mitm = relay(CERT)) {
            AttestationException e = assertThrows(AttestationException.class,
                    () -> connector().connect("127.0.0.1", mitm.getLocalPort()));
            assertThat(e.reason()).isEqualTo(Reason.REPORT_DATA_MISMATCH);
        }
    }

    // ---- hostile servers ------------------------------------------------------------------------------------

    interface Behaviour {
        void answer(InputStream in, OutputStream out) throws Exception;
    }

    /** A TLS 1.3 server that reads the quote request and then behaves as told. */
    static ServerSocket hostile(Behaviour b) throws Exception {
        SSLServerSocket ss = (SSLServerSocket) serverContext(CERT).getServerSocketFactory()
                .createServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread.ofVirtual().start(() -> {
            while (!ss.isClosed()) {
                try (Socket s = ss.accept()) {
                    InputStream in = s.getInputStream();
                    int state = 0;
                    while (state < 4) {
                        int c = in.read();
                        state = (c == '\r' && (state == 0 || state == 2)) || (c == '\n' && (state == 1 || state == 3))
                                ? state + 1 : 0;
                    }
                    in.readNBytes(80);
                    b.answer(in, s.getOutputStream());
                } catch (Exception ignored) {
                    // next
                }
            }
        });
        return ss;
    }

    static Throwable against(Behaviour b) throws Exception {
        try (ServerSocket ss = hostile(b)) {
            AtlsConnector c = connector(policy(cvm).build(), x -> x.attestTimeout(Duration.ofMillis(1500)));
            long t0 = System.nanoTime();
            Throwable t = assertThrows(Exception.class, () -> c.connect("127.0.0.1", ss.getLocalPort()));
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
            return t;
        }
    }

    static void write(OutputStream o, String s) throws IOException {
        o.write(s.getBytes(StandardCharsets.US_ASCII));
        o.flush();
    }

    @Test
    void hostileServersEndWithinTheTimeoutWithAReason() throws Exception {
        assertThat(against((in, out) -> Thread.sleep(10_000))).isInstanceOf(SocketTimeoutException.class);
        assertThat(against((in, out) -> {
            for (int i = 0; i < 100; i++) {
                write(out, "H");
                Thread.sleep(1000);
            }
        })).isInstanceOf(SocketTimeoutException.class).hasMessageContaining("within 1500 ms");
        assertThat(((AttestationException) against((in, out) ->
                write(out, "HTTP/1.1 200 OK\r\nContent-Length: 10000000000\r\n\r\n"))).reason())
                .isEqualTo(Reason.MALFORMED_RESPONSE);
        assertThat(against((in, out) -> write(out, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")))
                .isInstanceOf(AttestationException.class).hasMessageContaining("malformed chunk size");
        AttestationException e500 = (AttestationException) against((in, out) ->
                write(out, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 20\r\n\r\n{\"detail\":\"broken!\"}"));
        assertThat(e500.reason()).isEqualTo(Reason.QUOTE_REQUEST_FAILED);
        assertThat(e500.getMessage()).contains("500").contains("broken!");
        assertThat(against((in, out) -> write(out, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"quo")))
                .isInstanceOf(AttestationException.class).hasMessageContaining("connection closed after");
        assertThat(((AttestationException) against((in, out) ->
                write(out, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"))).reason())
                .isEqualTo(Reason.MALFORMED_RESPONSE);
    }

    // ---- helpers --------------------------------------------------------------------------------------------

    static SSLContext serverContext(ServerCertificate c) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("k", privateKey(c), new char[0], c.chain().toArray(new Certificate[0]));
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, new char[0]);
        SSLContext ctx = SSLContext.getInstance("TLSv1.3");
        ctx.init(kmf.getKeyManagers(), null, null);
        return ctx;
    }

    /** The key through the package-private accessor (tests only). */
    static java.security.PrivateKey privateKey(ServerCertificate c) throws Exception {
        var m = ServerCertificate.class.getDeclaredMethod("privateKey");
        m.setAccessible(true);
        return (java.security.PrivateKey) m.invoke(c);
    }

    static final class TrustAll implements X509TrustManager {
        public void checkClientTrusted(java.security.cert.X509Certificate[] c, String a) { }

        public void checkServerTrusted(java.security.cert.X509Certificate[] c, String a) { }

        public java.security.cert.X509Certificate[] getAcceptedIssuers() {
            return new java.security.cert.X509Certificate[0];
        }
    }
}
