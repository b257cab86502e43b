package dev.atlas.tdx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.atlas.tdx.AttestationException.Reason;
import dev.atlas.tdx.internal.Hex;
import dev.atlas.testing.SharedTestData;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The collateral client against a loopback server that answers like a PCCS, with the real sample collateral. */
class CollateralClientTest {
    private static final Instant SAMPLE_TIME = Instant.ofEpochSecond(1752919234L);
    private HttpServer server;
    private ExecutorService executor;
    private final Map<String, AtomicInteger> hits = new ConcurrentHashMap<>();
    private volatile String mode = "ok";
    private volatile Collateral sample;

    /** Loads the real sample (skipping the test when ../shared is absent); call first, outside any lambda. */
    private Quote requireSample() throws AttestationException {
        sample = Collateral.fromJson(SharedTestData.text("dcap/tdx_quote_collateral.json"));
        return Quote.parse(SharedTestData.bytes("dcap/tdx_quote"));
    }

    @BeforeEach
    void start() throws Exception {
        executor = Executors.newFixedThreadPool(8);
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(executor);
        server.createContext("/", this::handle);
        server.start();
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.stop(0);
        }
        if (executor != null) {
            executor.shutdownNow();
        }
    }

    private String base() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    /** Percent-encodes like Intel: {@code +} as %2B and spaces as %20. */
    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    private void handle(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath();
        String query = ex.getRequestURI().getQuery();
        hits.computeIfAbsent(path, k -> new AtomicInteger()).incrementAndGet();
        try {
            if ("slow".equals(mode)) {
                Thread.sleep(5000);
            }
            byte[] body;
            switch (path) {
                case "/sgx/certification/v4/pckcrl":
                    if (!"ca=platform&encoding=der".equals(query)) {
                        send(ex, 400, new byte[0]);
                        return;
                    }
                    ex.getResponseHeaders().add("SGX-PCK-CRL-Issuer-Chain", enc(sample.pckCrlIssuerChain()));
                    body = sample.pckCrl();
                    break;
                case "/tdx/certification/v4/tcb":
                    if (!"fmspc=B0C06F000000".equals(query)) {
                        send(ex, 404, new byte[0]);
                        return;
                    }
                    ex.getResponseHeaders().add("TCB-Info-Issuer-Chain", enc(sample.tcbInfoIssuerChain()));
                    body = ("{\"tcbInfo\":" + sample.tcbInfo() + ",\"signature\":\""
                            + Hex.encode(sample.tcbInfoSignature()) + "\"}").getBytes(StandardCharsets.UTF_8);
                    if ("malformed".equals(mode)) {
                        body = "{\"tcbInfo\":{\"id\":".getBytes(StandardCharsets.UTF_8);
                    }
                    if ("huge".equals(mode)) {
                        body = new byte[3 << 20];
                    }
                    break;
                case "/tdx/certification/v4/qe/identity":
                    if ("404".equals(mode)) {
                        send(ex, 404, "not here".getBytes(StandardCharsets.UTF_8));
                        return;
                    }
                    ex.getResponseHeaders().add("SGX-Enclave-Identity-Issuer-Chain", enc(sample.qeIdentityIssuerChain()));
                    body = ("{\"enclaveIdentity\":" + sample.qeIdentity() + ",\"signature\":\""
                            + Hex.encode(sample.qeIdentitySignature()) + "\"}").getBytes(StandardCharsets.UTF_8);
                    break;
                case "/sgx/certification/v4/rootcacrl":
                    body = Hex.encode(sample.rootCaCrl()).getBytes(StandardCharsets.US_ASCII);
                    break;
                default:
                    send(ex, 404, new byte[0]);
                    return;
            }
            send(ex, 200, body);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            ex.close();
        }
    }

    private static void send(HttpExchange ex, int status, byte[] body) throws IOException {
        ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        if (body.length > 0) {
            try (OutputStream o = ex.getResponseBody()) {
                o.write(body);
            }
        }
    }

    private CollateralClient client() {
        return CollateralClient.builder().baseUrl(base() + "/tdx/certification/v4/").requestTimeout(Duration.ofSeconds(1))
                .maxResponseBytes(1 << 20).build();
    }

    @Test
    void cacheKey_isTheQuotesFmspcCaAndTee_underTheNormalizedBaseUrl() throws Exception {
        dev.atlas.testing.DcapEvidence ev = dev.atlas.testing.DcapEvidence.tdx().build();
        CollateralClient c = CollateralClient.builder().baseUrl("https://pccs.example/tdx/certification/v4/").build();
        assertThat(c.cacheKey(Quote.parse(ev.quote())))
                .isEqualTo(new CollateralCache.Key("https://pccs.example", "00906ed50000", "platform", TeeType.TDX));
        AttestationException e = assertThrows(AttestationException.class, () -> c.cacheKey(Quote.parse(
                dev.atlas.testing.DcapEvidence.tdx().certificationDataType(3).build().quote())));
        assertThat(e.reason()).isEqualTo(Reason.UNSUPPORTED_CERTIFICATION_DATA);
    }

    @Test
    void fetch_returnsTheSampleCollateralByteExact_andItVerifies() throws Exception {
        Quote q = requireSample();
        Collateral fetched = client().fetch(q);
        assertThat(fetched.toJson()).isEqualTo(sample.toJson());
        assertThat(QuoteVerifier.create().verify(q.toByteArray(), fetched, SAMPLE_TIME).status())
                .isEqualTo(TcbStatus.UP_TO_DATE);
    }

    @Test
    void http404_failsWithTheStatus() throws Exception {
        Quote q = requireSample();
        mode = "404";
        AttestationException e = assertThrows(AttestationException.class,
                () -> client().fetch(q));
        assertThat(e.reason()).isEqualTo(Reason.COLLATERAL_FETCH_FAILED);
        assertThat(e.getMessage()).contains("HTTP 404");
    }

    @Test
    void malformedBody_fails() throws Exception {
        Quote q = requireSample();
        mode = "malformed";
        AttestationException e = assertThrows(AttestationException.class,
                () -> client().fetch(q));
        assertThat(e.reason()).isEqualTo(Reason.COLLATERAL_FETCH_FAILED);
        assertThat(e.getMessage()).contains("malformed body");
    }

    @Test
    void oversizedBody_failsAtTheLimit() throws Exception {
        Quote q = requireSample();
        mode = "huge";
        AttestationException e = assertThrows(AttestationException.class,
                () -> client().fetch(q));
        assertThat(e.reason()).isEqualTo(Reason.COLLATERAL_FETCH_FAILED);
        assertThat(e.getMessage()).contains("exceeds");
    }

    @Test
    void slowServer_failsWithinTheDeadline() throws Exception {
        Quote q = requireSample();
        mode = "slow";
        long t0 = System.nanoTime();
        AttestationException e = assertThrows(AttestationException.class,
                () -> client().fetch(q));
        assertThat(e.reason()).isEqualTo(Reason.COLLATERAL_FETCH_FAILED);
        // Bounded well below the server's 5 s stall (1 s request deadline plus 1 s grace).
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofMillis(4500));
    }

    @Test
    void cache_concurrentMisses_fetchOnce_andServeUntilExpiry() throws Exception {
        Quote q = requireSample();
        Clock clock = Clock.fixed(SAMPLE_TIME, ZoneOffset.UTC);
        CollateralCache cache = CollateralCache.inMemory(Duration.ofHours(1), clock);
        CollateralCache.Key key = new CollateralCache.Key(base(), "B0C06F000000", "platform", TeeType.TDX);
        QuoteVerifier verifier = QuoteVerifier.create();
        CollateralClient client = client();
        AtomicInteger fetches = new AtomicInteger();
        CountDownLatch go = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(8);
        List<Future<Collateral>> results = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            results.add(pool.submit(() -> {
                go.await();
                return cache.get(key, () -> {
                    fetches.incrementAndGet();
                    return client.fetch(q);
                }, c -> verifier.verify(q.toByteArray(), c, SAMPLE_TIME));
            }));
        }
        go.countDown();
        for (Future<Collateral> f : results) {
            assertThat(f.get().toJson()).isEqualTo(sample.toJson());
        }
        pool.shutdown();
        assertThat(fetches.get()).isEqualTo(1);
        assertThat(hits.get("/tdx/certification/v4/tcb").get()).isEqualTo(1);
    }

    @Test
    void cache_neverStoresCollateralThatFailedTheCheck() throws Exception {
        Quote q = requireSample();
        CollateralCache cache = CollateralCache.inMemory(Duration.ofHours(1), Clock.fixed(SAMPLE_TIME, ZoneOffset.UTC));
        CollateralCache.Key key = new CollateralCache.Key(base(), "B0C06F000000", "platform", TeeType.TDX);
        AtomicInteger fetches = new AtomicInteger();
        for (int i = 0; i < 2; i++) {
            AttestationException e = assertThrows(AttestationException.class, () -> cache.get(key, () -> {
                fetches.incrementAndGet();
                return sample;
            }, c -> {
                throw new AttestationException(Reason.QUOTE_SIGNATURE_INVALID, "rejected by the check");
            }));
            assertThat(e.reason()).isEqualTo(Reason.QUOTE_SIGNATURE_INVALID);
        }
        assertThat(fetches.get()).isEqualTo(2);
    }

    @Test
    void cache_expiresAtTheCollateralsEarliestNextUpdate() throws Exception {
        requireSample();
        Instant[] now = {SAMPLE_TIME};
        Clock clock = new Clock() {
            @Override
            public ZoneOffset getZone() {
                return ZoneOffset.UTC;
            }

            @Override
            public Clock withZone(java.time.ZoneId zone) {
                return this;
            }

            @Override
            public Instant instant() {
                return now[0];
            }
        };
        CollateralCache cache = CollateralCache.inMemory(Duration.ofDays(30), clock);
        CollateralCache.Key key = new CollateralCache.Key(base(), "B0C06F000000", "platform", TeeType.TDX);
        AtomicInteger fetches = new AtomicInteger();
        CollateralCache.Fetcher f = () -> {
            fetches.incrementAndGet();
            return sample;
        };
        cache.get(key, f, c -> { });
        cache.get(key, f, c -> { });
        assertThat(fetches.get()).isEqualTo(1);
        now[0] = Instant.parse("2025-07-19T10:00:35Z"); // the PCK CRL's nextUpdate
        AttestationException e = assertThrows(AttestationException.class, () -> cache.get(key, f, c -> { }));
        assertThat(e.reason()).isEqualTo(Reason.COLLATERAL_EXPIRED);
        assertThat(fetches.get()).isEqualTo(2);
    }

    @Test
    void diskCache_entriesAreRecheckedBeforeUse(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        requireSample();
        Clock clock = Clock.fixed(SAMPLE_TIME, ZoneOffset.UTC);
        CollateralCache.Key key = new CollateralCache.Key(base(), "B0C06F000000", "platform", TeeType.TDX);
        CollateralCache.onDisk(Duration.ofHours(1), clock, dir).get(key, () -> sample, c -> { });
        AtomicInteger checks = new AtomicInteger();
        AtomicInteger fetches = new AtomicInteger();
        Collateral c = CollateralCache.onDisk(Duration.ofHours(1), clock, dir).get(key, () -> {
            fetches.incrementAndGet();
            return sample;
        }, x -> checks.incrementAndGet());
        assertThat(c.toJson()).isEqualTo(sample.toJson());
        assertThat(fetches.get()).isZero();
        assertThat(checks.get()).isEqualTo(1);
    }

    @Test
    void percentDecoding_keepsPlusSigns() {
        assertThat(dev.atlas.tdx.internal.PercentDecoder.decode("a+b%2Bc%20d")).isEqualTo("a+b+c d");
        assertThrows(IllegalArgumentException.class, () -> dev.atlas.tdx.internal.PercentDecoder.decode("%zz"));
    }

    @Test
    void baseUrl_isNormalized() {
        assertThat(CollateralClient.normalizeBaseUrl("https://pccs.example/sgx/certification/v4/"))
                .isEqualTo("https://pccs.example");
        assertThrows(IllegalArgumentException.class, () -> CollateralClient.normalizeBaseUrl("file:///etc/passwd"));
    }
}
