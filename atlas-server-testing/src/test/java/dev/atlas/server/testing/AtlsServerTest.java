package dev.atlas.server.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.atlas.dstack.AttestationReport;
import dev.atlas.dstack.Bootchain;
import dev.atlas.dstack.DstackTdxPolicy;
import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.EventLog;
import dev.atlas.dstack.QuoteResponse;
import dev.atlas.dstack.ReportData;
import dev.atlas.server.AtlsServer;
import dev.atlas.server.AtlsServerListener;
import dev.atlas.server.GetQuoteResponse;
import dev.atlas.server.QuoteProvider;
import dev.atlas.server.ServerCertificate;
import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.CollateralClient;
import dev.atlas.tdx.CollateralSource;
import dev.atlas.tdx.Quote;
import dev.atlas.tdx.QuoteVerifier;
import dev.atlas.tdx.TcbStatus;
import dev.atlas.testing.MockPccs;
import dev.atlas.testing.SharedTestData;
import dev.atlas.testing.SimulatedCvm;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The aTLS endpoint against an independent JSSE client, the spec's bytes and the production verifier. */
class AtlsServerTest {
    static final ObjectMapper MAPPER = new ObjectMapper();
    static final HexFormat HEX = HexFormat.of();
    static SimulatedCvm cvm;
    static MockPccs pccs;
    static AtlsServer server;
    static HttpServer upstream;

    @BeforeAll
    static void start() throws Exception {
        cvm = SimulatedCvm.builder().seed(7).build();
        pccs = MockPccs.start(cvm);
        upstream = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        upstream.createContext("/", ex -> {
            byte[] in = ex.getRequestBody().readAllBytes();
            String echo = "{\"path\":\"" + ex.getRequestURI() + "\",\"bytes\":" + in.length + ",\"xff\":\""
                    + ex.getRequestHeaders().getFirst("X-Forwarded-For") + "\",\"proto\":\""
                    + ex.getRequestHeaders().getFirst("X-Forwarded-Proto") + "\",\"hop\":\""
                    + ex.getRequestHeaders().getFirst("Keep-Alive") + "\"}";
            byte[] b = echo.getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().add("Connection", "close");
            ex.sendResponseHeaders(201, 0); // chunked
            try (OutputStream o = ex.getResponseBody()) {
                o.write(b);
            }
        });
        upstream.start();
        server = AtlsServer.builder()
                .certificate(ServerCertificate.selfSigned(Clock.systemUTC(), Duration.ofDays(1), "localhost", "127.0.0.1"))
                .quoteProvider(SimulatedQuoteProvider.of(cvm))
                .upstream(URI.create("http://127.0.0.1:" + upstream.getAddress().getPort()))
                .maxRequestBodyBytes(1024)
                .build().start();
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
        if (pccs != null) {
            pccs.close();
        }
        if (upstream != null) {
            upstream.stop(0);
        }
    }

    static JsseClient client() throws Exception {
        return JsseClient.connect(server.address(), server.certificate().leaf());
    }

    static String body(byte[] nonce) {
        return "{\"nonce_hex\":\"" + HEX.formatHex(nonce) + "\"}";
    }

    static byte[] nonce() {
        byte[] n = new byte[32];
        new SecureRandom().nextBytes(n);
        return n;
    }

    static DstackTdxPolicy policy(SimulatedCvm c, String pccsUrl) throws AttestationException {
        return DstackTdxPolicy.builder()
                .expectedBootchain(Bootchain.of(c.mrTd(), c.rtmr(0), c.rtmr(1), c.rtmr(2)))
                .appComposeRaw(new String(c.appCompose(), StandardCharsets.UTF_8))
                .osImageHash(c.osImageHash())
                .pccsUrl(pccsUrl)
                .build();
    }

    static AttestationReport verify(SimulatedCvm c, String pccsUrl, String json, byte[] nonce, byte[] ekm,
            byte[] certDer) throws AttestationException {
        DstackTdxPolicy p = policy(c, pccsUrl);
        DstackTdxVerifier v = DstackTdxVerifier.builder()
                .quoteVerifier(QuoteVerifier.builder().insecureTrustAnchorForTesting(c.rootCertificate()).build())
                .collateralSource(CollateralSource.fetching(CollateralClient.builder().baseUrl(p.collateralUrl()).build()))
                .build();
        return v.verify(DstackTdxVerifier.Evidence.builder(QuoteResponse.parse(json))
                .sessionBinding(nonce, ekm).peerCertificate(certDer).build(), p);
    }

    @Test
    void quoteIsBoundToTheConnectionAndVerifiesThroughTheProductionVerifier() throws Exception {
        byte[] nonce = nonce();
        try (JsseClient c = client()) {
            JsseClient.Response r = c.exchange(JsseClient.quoteRequest("localhost", body(nonce)));
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.headers().get("content-type")).isEqualTo("application/json");
            assertThat(r.text()).startsWith("{\"success\":true,\"quote\":{\"quote\":\"04000200") // compact, as FastAPI
                    .endsWith(",\"quote_type\":\"tdx\",\"error\":null}");
            JsonNode root = MAPPER.readTree(r.body());
            assertThat(iterable(root.fieldNames()))
                    .containsExactly("success", "quote", "tcb_info", "timestamp", "quote_type", "error");
            assertThat(iterable(root.get("quote").fieldNames()))
                    .containsExactly("quote", "event_log", "report_data", "vm_config");
            assertThat(root.get("success").booleanValue()).isTrue();
            assertThat(root.get("quote").get("event_log").isTextual()).isTrue();
            assertThat(root.get("quote").get("vm_config").isTextual()).isTrue();
            assertThat(root.get("quote_type").textValue()).isEqualTo("tdx");
            assertThat(root.get("error").isNull()).isTrue();
            assertThat(root.get("tcb_info").get("mrtd").textValue()).isEqualTo(cvm.mrTd());

            // Independent checks: EKM binding, and RTMR3 replay of the returned log.
            Quote q = Quote.parse(HEX.parseHex(root.get("quote").get("quote").textValue()));
            assertThat(q.tdReport().reportDataBytes()).isEqualTo(ReportData.sessionBinding(nonce, c.ekm));
            EventLog log = EventLog.parse(root.get("quote").get("event_log").textValue());
            assertThat(log.replay().get(3)).isEqualTo(q.tdReport().rtmrBytes(3));
            assertThat(log.verify().tlsCertificate().orElseThrow().payloadText().orElseThrow())
                    .isEqualTo(server.certificate().leafSha256Hex());

            // The production verifier, with only the trust anchor and PCCS URL pointing at the simulation.
            AttestationReport report = verify(cvm, pccs.tdxUrl(), r.text(), nonce, c.ekm,
                    c.socket.getSession().getPeerCertificates()[0].getEncoded());
            assertThat(report.tcbStatus()).isEqualTo(TcbStatus.UP_TO_DATE);
            assertThat(report.certificateChecked()).isTrue();
            assertThat(report.reportDataChecked()).isTrue();
            assertThat(pccs.requestCount("/tdx/certification/v4/tcb")).isPositive();

            // The same connection then carries application traffic.
            JsseClient.Response app = c.exchange(("GET /v1/models?x=1 HTTP/1.1\r\nHost: localhost\r\n"
                    + "Keep-Alive: timeout=5\r\nConnection: keep-alive, keep-alive\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            assertThat(app.status()).isEqualTo(201);
            JsonNode echo = MAPPER.readTree(app.body());
            assertThat(echo.get("path").textValue()).isEqualTo("/v1/models?x=1");
            assertThat(echo.get("xff").textValue()).isEqualTo("127.0.0.1");
            assertThat(echo.get("proto").textValue()).isEqualTo("https");
            assertThat(echo.get("hop").textValue()).isEqualTo("null"); // hop-by-hop header not forwarded
        }
    }

    @Test
    void specRequestVectorIsAcceptedByteForByte() throws Exception {
        JsonNode v = MAPPER.readTree(SharedTestData.text("atlas/protocol-vectors.json"));
        String vectorBody = v.get("request_body").get("body").textValue();
        assertThat(vectorBody.length()).isEqualTo(v.get("request_body").get("content_length").intValue());
        byte[] nonce = HEX.parseHex(v.get("report_data").get("nonce_hex").textValue());
        try (JsseClient c = client()) {
            byte[] req = JsseClient.quoteRequest("localhost", vectorBody);
            assertThat(new String(req, StandardCharsets.US_ASCII)).contains("Content-Length: 80\r\n");
            JsseClient.Response r = c.exchange(req);
            assertThat(r.status()).isEqualTo(200);
            QuoteResponse qr = QuoteResponse.parse(r.text());
            assertThat(Quote.parse(qr.quote()).tdReport().reportDataBytes())
                    .isEqualTo(ReportData.sessionBinding(nonce, c.ekm));
        }
        // The server computes report_data = SHA-512(nonce || ekm) exactly as the vectors say.
        for (String k : List.of("report_data", "report_data_2")) {
            JsonNode rd = v.get(k);
            assertThat(HEX.formatHex(ReportData.sessionBinding(HEX.parseHex(rd.get("nonce_hex").textValue()),
                    HEX.parseHex(rd.get("ekm_hex").textValue())))).isEqualTo(rd.get("report_data_hex").textValue());
        }
        // The certificate event the server emits has the vector's digest rule.
        JsonNode ev = v.get("new_tls_certificate_event");
        assertThat(HEX.formatHex(dev.atlas.dstack.EventLogEntry.runtimeDigest(ev.get("event").textValue(),
                ev.get("cert_der_sha256_hex").textValue().getBytes(StandardCharsets.US_ASCII))))
                .isEqualTo(ev.get("digest").textValue());
    }

    static JsseClient.Response post(String body) throws Exception {
        try (JsseClient c = client()) {
            return c.exchange(JsseClient.quoteRequest("localhost", body));
        }
    }

    static JsonNode detail(JsseClient.Response r) throws IOException {
        return MAPPER.readTree(r.body()).get("detail");
    }

    @Test
    void malformedRequestsGetTheReferenceStatuses() throws Exception {
        JsseClient.Response missing = post("{\"report_data_hex\":\"00\"}");
        assertThat(missing.status()).isEqualTo(422);
        assertThat(detail(missing).get(0).get("type").textValue()).isEqualTo("missing");
        assertThat(detail(missing).get(0).get("loc").toString()).isEqualTo("[\"body\",\"nonce_hex\"]");

        assertThat(detail(post("{\"nonce_hex\":\"" + "a".repeat(63) + "\"}")).get(0).get("type").textValue())
                .isEqualTo("value_error");
        assertThat(detail(post("{\"nonce_hex\":\"" + "g".repeat(64) + "\"}")).get(0).get("type").textValue())
                .isEqualTo("value_error");
        assertThat(detail(post("{\"nonce_hex\":" + "1".repeat(64) + "}")).get(0).get("type").textValue())
                .isEqualTo("string_type");
        assertThat(detail(post("{\"nonce_hex\":")).get(0).get("type").textValue()).isEqualTo("json_invalid");
        assertThat(detail(post("[1]")).get(0).get("type").textValue()).isEqualTo("model_attributes_type");
        String dup = "{\"nonce_hex\":\"" + "a".repeat(64) + "\",\"nonce_hex\":\"" + "b".repeat(64) + "\"}";
        assertThat(detail(post(dup)).get(0).get("type").textValue()).isEqualTo("json_invalid");
        // Unknown members are ignored, and upper-case hex is accepted, as pydantic and bytes.fromhex do.
        assertThat(post("{\"extra\":1,\"nonce_hex\":\"" + "AB".repeat(32) + "\"}").status()).isEqualTo(200);

        JsseClient.Response big = post("{\"nonce_hex\":\"" + "a".repeat(64) + "\",\"pad\":\"" + "x".repeat(5000) + "\"}");
        assertThat(big.status()).isEqualTo(413);

        try (JsseClient c = client()) {
            JsseClient.Response get = c.exchange("GET /tdx_quote HTTP/1.1\r\nHost: localhost\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            assertThat(get.status()).isEqualTo(405);
            assertThat(get.headers().get("allow")).isEqualTo("POST");
            assertThat(detail(get).textValue()).isEqualTo("Method Not Allowed");
        }
    }

    @Test
    void tls12AndH2OnlyClientsAreRefusedInTheHandshake() {
        assertThrows(SSLHandshakeException.class,
                () -> JsseClient.connect(server.address(), server.certificate().leaf(), "TLSv1.2").close());
        assertThrows(SSLHandshakeException.class, () -> {
            var ks = java.security.KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setCertificateEntry("s", server.certificate().leaf());
            var tmf = javax.net.ssl.TrustManagerFactory.getInstance("PKIX");
            tmf.init(ks);
            var ctx = javax.net.ssl.SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            try (var s = (javax.net.ssl.SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", server.port())) {
                var p = s.getSSLParameters();
                p.setApplicationProtocols(new String[] {"h2"});
                s.setSSLParameters(p);
                s.startHandshake();
            }
        });
    }

    @Test
    void applicationBodyLimitAndUpstreamFailure() throws Exception {
        try (JsseClient c = client()) {
            JsseClient.Response ok = c.exchange(("POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\n"
                    + "0123456789").getBytes(StandardCharsets.US_ASCII));
            assertThat(MAPPER.readTree(ok.body()).get("bytes").intValue()).isEqualTo(10);
        }
        try (JsseClient c = client()) {
            JsseClient.Response big = c.exchange(("POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2000\r\n\r\n"
                    + "x".repeat(2000)).getBytes(StandardCharsets.US_ASCII));
            assertThat(big.status()).isEqualTo(413);
        }
        try (JsseClient c = client()) {
            JsseClient.Response small = c.exchange(("POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "5\r\nhello\r\n0\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            assertThat(MAPPER.readTree(small.body()).get("bytes").intValue()).isEqualTo(5);
        }
        try (JsseClient c = client()) {
            StringBuilder chunked = new StringBuilder("POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n");
            for (int i = 0; i < 3; i++) {
                chunked.append("200\r\n").append("y".repeat(512)).append("\r\n");
            }
            chunked.append("0\r\n\r\n");
            JsseClient.Response big = c.exchange(chunked.toString().getBytes(StandardCharsets.US_ASCII));
            assertThat(big.status()).isEqualTo(413);
        }
        // An upstream that is not there: 502, and /tdx_quote still works.
        try (AtlsServer s = AtlsServer.builder()
                .certificate(server.certificate())
                .quoteProvider(SimulatedQuoteProvider.of(cvm))
                .upstream(URI.create("http://127.0.0.1:1"))
                .build().start();
             JsseClient c = JsseClient.connect(s.address(), s.certificate().leaf())) {
            JsseClient.Response r = c.exchange("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(r.status()).isEqualTo(502);
            assertThat(c.exchange(JsseClient.quoteRequest("localhost", body(nonce()))).status()).isEqualTo(200);
        }
    }

    @Test
    void withoutAnApplicationOtherPathsAre404() throws Exception {
        try (AtlsServer s = AtlsServer.builder().certificate(server.certificate())
                .quoteProvider(SimulatedQuoteProvider.of(cvm)).build().start();
             JsseClient c = JsseClient.connect(s.address(), s.certificate().leaf())) {
            assertThat(c.exchange("GET /x HTTP/1.1\r\nHost: h\r\n\r\n".getBytes(StandardCharsets.US_ASCII)).status())
                    .isEqualTo(404);
        }
    }

    @Test
    void theServerDoesNotStartWhenItCannotMeasureItsCertificate() {
        QuoteProvider broken = new QuoteProvider() {
            @Override
            public GetQuoteResponse getQuote(byte[] reportData) throws IOException {
                throw new IOException("no agent");
            }

            @Override
            public void emitEvent(String event, byte[] payload) throws IOException {
                throw new IOException("EmitEvent refused");
            }
        };
        AtlsServer s = AtlsServer.builder().certificate(server.certificate()).quoteProvider(broken).build();
        IOException e = assertThrows(IOException.class, s::start);
        assertThat(e.getMessage()).contains("EmitEvent refused");
        assertThrows(IllegalStateException.class, s::address);
    }

    @Test
    void providerFailureIsTheReference500() throws Exception {
        AtomicBoolean fail = new AtomicBoolean();
        QuoteProvider flaky = new QuoteProvider() {
            final SimulatedQuoteProvider inner = SimulatedQuoteProvider.of(cvm);

            @Override
            public GetQuoteResponse getQuote(byte[] reportData) throws IOException {
                if (fail.get()) {
                    throw new IOException("agent down");
                }
                return inner.getQuote(reportData);
            }

            @Override
            public void emitEvent(String event, byte[] payload) throws IOException {
                inner.emitEvent(event, payload);
            }
        };
        List<String> failures = new ArrayList<>();
        try (AtlsServer s = AtlsServer.builder().certificate(server.certificate()).quoteProvider(flaky)
                .listener(new AtlsServerListener() {
                    @Override
                    public void quoteFailed(dev.atlas.server.AtlsServerCall call, Exception cause, Duration took) {
                        failures.add(cause.getMessage());
                    }
                }).build().start();
             JsseClient c = JsseClient.connect(s.address(), s.certificate().leaf())) {
            fail.set(true);
            JsseClient.Response r = c.exchange(JsseClient.quoteRequest("localhost", body(nonce())));
            assertThat(r.status()).isEqualTo(500);
            assertThat(r.text()).isEqualTo("{\"detail\":{\"success\":false,\"error\":\"Failed to obtain TDX quote or "
                    + "TCB info\",\"quote_type\":\"tdx\"}}");
            assertThat(failures).singleElement().asString().contains("agent down");
        }
    }

    @Test
    void aQuoteWithOtherReportDataIsNeverSentUnlessTheTestAsksForIt() throws Exception {
        SimulatedCvm replaying = SimulatedCvm.builder().seed(7).misbehaveReplayQuote().build();
        try (AtlsServer s = AtlsServer.builder().certificate(server.certificate())
                .quoteProvider(SimulatedQuoteProvider.of(replaying)).build().start()) {
            try (JsseClient c = JsseClient.connect(s.address(), s.certificate().leaf())) {
                c.exchange(JsseClient.quoteRequest("localhost", body(nonce()))); // the first quote is honest
            }
            try (JsseClient c = JsseClient.connect(s.address(), s.certificate().leaf())) {
                assertThat(c.exchange(JsseClient.quoteRequest("localhost", body(nonce()))).status()).isEqualTo(500);
            }
        }
    }

    @Test
    void fiftyConcurrentClientsGetDistinctCorrectBindingsWhileEventsAreEmitted() throws Exception {
        int n = 50;
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
        CountDownLatch go = new CountDownLatch(1);
        AtomicBoolean emitting = new AtomicBoolean(true);
        Future<?> emitter = pool.submit(() -> {
            int i = 0;
            while (emitting.get() && i < 200) {
                cvm.emitEvent("test-event-" + i++, new byte[] {(byte) i});
                Thread.onSpinWait();
            }
            return null;
        });
        List<Future<String>> results = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            results.add(pool.submit((Callable<String>) () -> {
                byte[] nonce = nonce();
                go.await();
                try (JsseClient c = client()) {
                    JsseClient.Response r = c.exchange(JsseClient.quoteRequest("localhost", body(nonce)));
                    assertThat(r.status()).isEqualTo(200);
                    QuoteResponse qr = QuoteResponse.parse(r.text());
                    Quote q = Quote.parse(qr.quote());
                    byte[] expected = ReportData.sessionBinding(nonce, c.ekm);
                    assertThat(q.tdReport().reportDataBytes()).isEqualTo(expected);
                    assertThat(qr.eventLog().replay().get(3)).isEqualTo(q.tdReport().rtmrBytes(3));
                    return HEX.formatHex(expected);
                }
            }));
        }
        go.countDown();
        Set<String> bindings = new HashSet<>();
        for (Future<String> f : results) {
            bindings.add(f.get());
        }
        emitting.set(false);
        emitter.get();
        pool.shutdown();
        assertThat(bindings).hasSize(n);
    }

    private static List<String> iterable(java.util.Iterator<String> it) {
        List<String> l = new ArrayList<>();
        it.forEachRemaining(l::add);
        return l;
    }
}
