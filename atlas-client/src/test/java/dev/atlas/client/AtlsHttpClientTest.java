package dev.atlas.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.atlas.server.AtlsServer;
import dev.atlas.server.testing.SimulatedQuoteProvider;
import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.TcbStatus;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The HTTP client over attested connections: pooling, TTL re-attestation, streaming, per-host policies. */
class AtlsHttpClientTest {
    static AtlsServer server;
    static final AtomicInteger QUOTES = new AtomicInteger();

    /** A clock the test moves. */
    static final class MovableClock extends Clock {
        volatile Instant now = Instant.now();

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
            return now;
        }
    }

    @BeforeAll
    static void start() throws Exception {
        AtlsConnectorTest.start();
        server = AtlsServer.builder().certificate(AtlsConnectorTest.CERT)
                .quoteProvider(counting(SimulatedQuoteProvider.of(AtlsConnectorTest.cvm)))
                .handler(ex -> {
                    byte[] in = ex.getRequestBody().readAllBytes();
                    String path = ex.getRequestURI().getPath();
                    byte[] b = ("{\"path\":\"" + path + "\",\"bytes\":" + in.length + "}").getBytes(StandardCharsets.UTF_8);
                    if (path.equals("/big")) {
                        b = "x".repeat(100_000).getBytes(StandardCharsets.US_ASCII);
                    }
                    ex.sendResponseHeaders(200, path.equals("/chunked") || path.equals("/big") ? 0 : b.length);
                    try (OutputStream o = ex.getResponseBody()) {
                        o.write(b);
                    }
                }).build().start();
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
        AtlsConnectorTest.stop();
    }

    static AtlsHttpClient client(Clock clock) throws Exception {
        return AtlsHttpClient.builder().policy("127.0.0.1", AtlsConnectorTest.connector()).clock(clock)
                .sessionTtl(Duration.ofMinutes(5)).build();
    }

    static URI uri(String path) {
        return URI.create("https://127.0.0.1:" + server.port() + path);
    }

    @Test
    void oneAttestationServesManyRequestsUntilTheTtl() throws Exception {
        MovableClock clock = new MovableClock();
        try (AtlsHttpClient c = client(clock)) {
            int before = QUOTES.get();
            for (int i = 0; i < 10; i++) {
                try (AtlsHttpClient.Response r = c.send(AtlsHttpClient.Request.post(uri("/echo/" + i),
                        "application/json", ("{\"i\":" + i + "}").getBytes(StandardCharsets.UTF_8)))) {
                    assertThat(r.status()).isEqualTo(200);
                    assertThat(new String(r.bodyBytes(1 << 16), StandardCharsets.UTF_8)).contains("/echo/" + i);
                    assertThat(r.report().tcbStatus()).isEqualTo(TcbStatus.UP_TO_DATE);
                }
            }
            assertThat(QUOTES.get() - before).isEqualTo(1);
            assertThat(c.idleConnections()).isEqualTo(1);

            clock.now = clock.now.plus(Duration.ofMinutes(5)); // TTL reached: the next request re-attests
            try (AtlsHttpClient.Response r = c.send(AtlsHttpClient.Request.get(uri("/after-ttl")))) {
                r.bodyBytes(1 << 16);
            }
            assertThat(QUOTES.get() - before).isEqualTo(2);
        }
    }

    @Test
    void streamingBodiesAndEarlyClose() throws Exception {
        try (AtlsHttpClient c = client(Clock.systemUTC())) {
            try (AtlsHttpClient.Response r = c.send(AtlsHttpClient.Request.get(uri("/chunked")))) {
                assertThat(r.header("Transfer-Encoding")).isEqualToIgnoringCase("chunked");
                assertThat(new String(r.body().readAllBytes(), StandardCharsets.UTF_8)).contains("/chunked");
            }
            assertThat(c.idleConnections()).isEqualTo(1);
            try (AtlsHttpClient.Response r = c.send(AtlsHttpClient.Request.get(uri("/big")))) {
                assertThat(r.body().readNBytes(10)).hasSize(10); // then closed early: connection not reused
            }
            assertThat(c.idleConnections()).isZero();
            try (AtlsHttpClient.Response r = c.send(AtlsHttpClient.Request.get(uri("/big")))) {
                assertThat(r.body().readAllBytes()).hasSize(100_000);
            }
            assertThat(c.idleConnections()).isEqualTo(1);
        }
    }

    @Test
    void concurrentRequestsShareAFewAttestedConnections() throws Exception {
        try (AtlsHttpClient c = client(Clock.systemUTC())) {
            int before = QUOTES.get();
            ExecutorService pool = Executors.newFixedThreadPool(10);
            List<Future<Integer>> fs = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                int n = i;
                fs.add(pool.submit(() -> {
                    try (AtlsHttpClient.Response r = c.send(AtlsHttpClient.Request.get(uri("/c/" + n)))) {
                        r.bodyBytes(1 << 16);
                        return r.status();
                    }
                }));
            }
            for (Future<Integer> f : fs) {
                assertThat(f.get()).isEqualTo(200);
            }
            pool.shutdown();
            assertThat(QUOTES.get() - before).isBetween(1, 10 + 5); // at most one per concurrent connection
        }
    }

    @Test
    void hostsWithoutAPolicyAndFailedAttestations() throws Exception {
        try (AtlsHttpClient c = client(Clock.systemUTC())) {
            IOException e = assertThrows(IOException.class,
                    () -> c.send(AtlsHttpClient.Request.get(URI.create("https://localhost:" + server.port() + "/"))));
            assertThat(e).hasMessageContaining("no attestation policy for localhost");
            assertThrows(IllegalArgumentException.class,
                    () -> c.send(AtlsHttpClient.Request.get(URI.create("http://127.0.0.1:" + server.port() + "/"))));
        }
        AtlsConnector wrong = AtlsConnectorTest.connector(AtlsConnectorTest.base(AtlsConnectorTest.cvm)
                .expectedComposeHash("00".repeat(32)).build(), b -> b);
        try (AtlsHttpClient c = AtlsHttpClient.builder().policy("127.0.0.1", wrong).build()) {
            AttestationException e = assertThrows(AttestationException.class,
                    () -> c.send(AtlsHttpClient.Request.get(uri("/"))));
            assertThat(e.reason()).isEqualTo(AttestationException.Reason.APP_COMPOSE_MISMATCH);
        }
        assertThrows(IllegalArgumentException.class, () -> new AtlsHttpClient.Request("GET", uri("/"),
                List.<String[]>of(new String[] {"X", "a\r\nInjected: 1"}), null));
    }
}
