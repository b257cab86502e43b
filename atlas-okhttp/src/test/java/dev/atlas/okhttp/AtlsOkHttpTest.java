package dev.atlas.okhttp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.atlas.client.AtlsConnector;
import dev.atlas.dstack.AttestationReport;
import dev.atlas.dstack.Bootchain;
import dev.atlas.dstack.DstackTdxPolicy;
import dev.atlas.server.AtlsServer;
import dev.atlas.server.ServerCertificate;
import dev.atlas.server.testing.SimulatedQuoteProvider;
import dev.atlas.tdx.AttestationException.Reason;
import dev.atlas.tdx.TcbStatus;
import dev.atlas.testing.MockPccs;
import dev.atlas.testing.SimulatedCvm;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** OkHttp over attested connections, end to end against the simulated CVM behind the aTLS server. */
class AtlsOkHttpTest {
    static SimulatedCvm cvm;
    static MockPccs pccs;
    static AtlsServer server;
    static final AtomicInteger QUOTES = new AtomicInteger();
    static final AtomicInteger APP_HITS = new AtomicInteger();

    @BeforeAll
    static void start() throws Exception {
        cvm = SimulatedCvm.builder().seed(31).build();
        server = AtlsServer.builder()
                .certificate(ServerCertificate.selfSigned(Clock.systemUTC(), Duration.ofDays(1), "localhost", "127.0.0.1"))
                .quoteProvider(counting(SimulatedQuoteProvider.of(cvm)))
                .handler(ex -> {
                    APP_HITS.incrementAndGet();
                    byte[] in = ex.getRequestBody().readAllBytes();
                    byte[] b = ("{\"path\":\"" + ex.getRequestURI().getPath() + "\",\"bytes\":" + in.length + "}")
                            .getBytes(StandardCharsets.UTF_8);
                    ex.sendResponseHeaders(200, b.length);
                    try (OutputStream o = ex.getResponseBody()) {
                        o.write(b);
                    }
                }).build().start();
        pccs = MockPccs.start(cvm);
    }

    /**
     * Counts quotes when the provider makes them, i.e. before the response leaves the server (a listener
     * called after sending would race with the test's assertion).
     */
    static dev.atlas.server.QuoteProvider counting(dev.atlas.server.QuoteProvider inner) {
        return new dev.atlas.server.QuoteProvider() {
            @Override
            public dev.atlas.server.GetQuoteResponse getQuote(byte[] reportData) throws IOException {
                QUOTES.incrementAndGet();
                return inner.getQuote(reportData);
            }

            @Override
            public void emitEvent(String event, byte[] payload) throws IOException {
                inner.emitEvent(event, payload);
            }
        };
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
        if (pccs != null) {
            pccs.close();
        }
    }

    static AtlsConnector connector(String composeHash) throws IOException {
        try {
            DstackTdxPolicy p = DstackTdxPolicy.builder()
                    .expectedBootchain(Bootchain.of(cvm.mrTd(), cvm.rtmr(0), cvm.rtmr(1), cvm.rtmr(2)))
                    .expectedComposeHash(composeHash).osImageHash(cvm.osImageHash())
                    .pccsUrl(pccs.tdxUrl()).cacheCollateral(true).build();
            return AtlsConnector.builder(p).trustAttestedCertificate().insecureIntelRootForTesting(cvm.rootCertificate())
                    .build();
        } catch (dev.atlas.tdx.AttestationException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void requestsRunOnOneAttestedConnectionAndCarryTheReport() throws Exception {
        AtlsConnector c = connector(cvm.composeHash());
        OkHttpClient client = AtlsOkHttp.configure(new OkHttpClient.Builder(), host -> c).build();
        int quotesBefore = QUOTES.get();
        String url = "https://127.0.0.1:" + server.port();
        for (int i = 0; i < 5; i++) {
            Request req = new Request.Builder().url(url + "/v1/chat/completions")
                    .post(RequestBody.create("{\"n\":" + i + "}", MediaType.get("application/json"))).build();
            try (Response r = client.newCall(req).execute()) {
                assertThat(r.code()).isEqualTo(200);
                assertThat(r.protocol()).isEqualTo(okhttp3.Protocol.HTTP_1_1);
                assertThat(r.body().string()).contains("/v1/chat/completions");
                AttestationReport report = AtlsOkHttp.report(r).orElseThrow();
                assertThat(report.tcbStatus()).isEqualTo(TcbStatus.UP_TO_DATE);
                assertThat(report.composeHash()).contains(cvm.composeHash());
            }
        }
        assertThat(QUOTES.get() - quotesBefore).isEqualTo(1); // one attestation per connection, not per request
        client.connectionPool().evictAll();
    }

    @Test
    void aFailedAttestationSendsNoRequest() throws Exception {
        AtlsConnector wrong = connector("00".repeat(32));
        OkHttpClient client = AtlsOkHttp.configure(new OkHttpClient.Builder(), host -> wrong).build();
        int hitsBefore = APP_HITS.get();
        Request req = new Request.Builder().url("https://127.0.0.1:" + server.port() + "/secret")
                .post(RequestBody.create("do not leak", MediaType.get("text/plain"))).build();
        AttestationFailedException e = assertThrows(AttestationFailedException.class, () -> client.newCall(req).execute());
        assertThat(e.reason()).isEqualTo(Reason.APP_COMPOSE_MISMATCH);
        assertThat(APP_HITS.get()).isEqualTo(hitsBefore);
        assertThat(client.connectionPool().connectionCount()).isZero();
    }

    @Test
    void aHostWithoutAPolicyIsRefused() {
        OkHttpClient client = AtlsOkHttp.configure(new OkHttpClient.Builder(), host -> null).build();
        Request req = new Request.Builder().url("https://127.0.0.1:" + server.port() + "/").build();
        IOException e = assertThrows(IOException.class, () -> client.newCall(req).execute());
        assertThat(e).hasMessageContaining("no attestation policy for 127.0.0.1");
    }

    @Test
    void thePublicSurfaceIsWhatACallerCanReach() {
        // The constructor is private, so instance methods could never be called: only the two static entry
        // points are public.
        assertThat(java.util.Arrays.stream(AtlsOkHttp.class.getDeclaredMethods())
                .filter(m -> java.lang.reflect.Modifier.isPublic(m.getModifiers())).map(java.lang.reflect.Method::getName))
                .containsExactlyInAnyOrder("configure", "report");
        assertThat(AtlsOkHttp.class.getConstructors()).isEmpty();
    }
}
