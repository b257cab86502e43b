package dev.atlas.server;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import dev.atlas.dstack.DstackEvents;
import dev.atlas.server.internal.JdkHttpServerDefaults;
import dev.atlas.server.internal.LimitedInputStream;
import dev.atlas.server.internal.SafeAtlsServerListener;
import dev.atlas.server.internal.TdxQuoteHandler;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;

/**
 * The aTLS endpoint for a JVM service inside a dstack CVM.
 *
 * <p>A TLS 1.3-only HTTPS server (JDK {@code HttpsServer}, one virtual thread per exchange; see
 * {@code docs/server.md} for why not Netty) that:
 * <ul>
 *   <li>measures its certificate first: {@code New TLS Certificate} with the hex SHA-256 of the leaf's DER,
 *       through the {@link QuoteProvider}; if that fails, {@link #start} fails and nothing listens;</li>
 *   <li>answers {@code POST /tdx_quote} like the reference attestation service, with the report data bound to
 *       the exporter of the very connection that carries the request;</li>
 *   <li>hands every other request to the application: an {@link HttpHandler} or a {@link ReverseProxyHandler},
 *       with a request-body limit (413), or answers 404 when there is none.</li>
 * </ul>
 * TLS 1.2 and older are refused in the handshake; ALPN offers only {@code http/1.1}. Idle and request-time
 * limits are the JDK server's (set by {@link JdkHttpServerDefaults} unless the user set them).
 *
 * <pre>{@code
 * try (AtlsServer s = AtlsServer.builder()
 *         .listen(new InetSocketAddress("0.0.0.0", 8443))
 *         .certificate(ServerCertificate.fromPem(chain, key))
 *         .quoteProvider(GuestAgentQuoteProvider.builder().build())
 *         .upstream(URI.create("http://127.0.0.1:8000"))
 *         .build().start()) {
 *     s.awaitTermination();
 * }
 * }</pre>
 */
public final class AtlsServer implements AutoCloseable {
    /** The path clients request the quote from. */
    public static final String QUOTE_PATH = dev.atlas.protocol.AtlsProtocol.QUOTE_PATH;

    static {
        JdkHttpServerDefaults.apply();
    }

    private final Builder config;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final TdxQuoteHandler quoteHandler;
    private final java.util.concurrent.CountDownLatch stopped = new java.util.concurrent.CountDownLatch(1);
    private HttpsServer server;
    private final java.util.concurrent.atomic.AtomicLong calls = new java.util.concurrent.atomic.AtomicLong();

    private AtlsServer(Builder b) {
        this.config = b;
        this.quoteHandler = new TdxQuoteHandler(b.provider, b.clock, b.listener, b.checkQuoteReportData, executor);
    }

    /** A builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** The JVM-wide JDK server limits in effect (idle interval, request time, header limits, connections). */
    public static Map<String, String> jdkServerLimits() {
        return JdkHttpServerDefaults.effective();
    }

    /**
     * Measures the certificate through the provider, then binds and starts serving.
     *
     * @throws IOException when the certificate cannot be measured or the address cannot be bound
     */
    public synchronized AtlsServer start() throws IOException {
        if (server != null) {
            throw new IllegalStateException("already started");
        }
        config.provider.emitEvent(DstackEvents.TLS_CERTIFICATE,
                config.certificate.leafSha256Hex().getBytes(StandardCharsets.US_ASCII));
        HttpsServer s = HttpsServer.create(config.address, config.backlog);
        SSLContext ctx = config.certificate.serverSslContext();
        s.setHttpsConfigurator(new HttpsConfigurator(ctx) {
            @Override
            public void configure(HttpsParameters params) {
                SSLParameters sp = getSSLContext().getDefaultSSLParameters();
                sp.setProtocols(new String[] {"TLSv1.3"});
                sp.setApplicationProtocols(new String[] {"http/1.1"});
                sp.setNeedClientAuth(false);
                params.setSSLParameters(sp);
            }
        });
        s.setExecutor(executor);
        s.createContext("/", this::dispatch);
        s.start();
        this.server = s;
        config.listener.started(address(), config.certificate.leafSha256Hex(), config.provider.description());
        return this;
    }

    /** The bound address (with the real port when 0 was asked for). */
    public InetSocketAddress address() {
        if (server == null) {
            throw new IllegalStateException("not started");
        }
        return server.getAddress();
    }

    /** The bound port. */
    public int port() {
        return address().getPort();
    }

    /** The certificate the server presents (and measured). */
    public ServerCertificate certificate() {
        return config.certificate;
    }

    /** Blocks until {@link #close()} ran. */
    public void awaitTermination() throws InterruptedException {
        stopped.await();
    }

    /** Stops accepting, gives in-flight exchanges up to a second, and stops. */
    @Override
    public synchronized void close() {
        if (server != null) {
            server.stop(1);
            server = null;
            config.listener.stopped();
        }
        executor.shutdownNow();
        stopped.countDown();
    }

    private void dispatch(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath();
        long t0 = System.nanoTime();
        AtlsServerCall call = new AtlsServerCall(calls.incrementAndGet(), ex.getRemoteAddress(), ex.getRequestMethod(),
                path == null ? "" : path, config.clock.instant());
        TdxQuoteHandler.bind(ex, call);
        config.listener.callStart(call);
        Exception failure = null;
        try {
            if (QUOTE_PATH.equals(path)) {
                quoteHandler.handle(ex);
                return;
            }
            if (config.app == null) {
                TdxQuoteHandler.send(ex, 404, "{\"detail\":\"Not Found\"}");
                return;
            }
            int refused = contentLengthStatus(ex.getRequestHeaders().get("Content-Length"), config.maxRequestBodyBytes);
            if (refused == 413) {
                config.listener.requestRejected(call, 413,
                        "declared body over the limit of " + config.maxRequestBodyBytes + " bytes");
                TdxQuoteHandler.send(ex, 413, "{\"detail\":\"Request Entity Too Large\"}");
                return;
            }
            if (refused == 400) {
                config.listener.requestRejected(call, 400,
                        "Content-Length is not one non-negative decimal integer");
                TdxQuoteHandler.send(ex, 400, "{\"detail\":\"Bad Request\"}");
                return;
            }
            ex.setStreams(new LimitedInputStream(ex.getRequestBody(), config.maxRequestBodyBytes), null);
            config.app.handle(ex);
        } catch (LimitedInputStream.LimitExceededException e) {
            config.listener.requestRejected(call, 413, e.getMessage());
            if (ex.getResponseCode() == -1) {
                TdxQuoteHandler.send(ex, 413, "{\"detail\":\"Request Entity Too Large\"}");
            }
        } catch (IOException | RuntimeException e) {
            failure = e;
            config.listener.applicationFailed(call, e, since(t0));
            if (ex.getResponseCode() == -1) {
                TdxQuoteHandler.send(ex, 500, "{\"detail\":\"Internal Server Error\"}");
            }
        } finally {
            ex.close();
            TdxQuoteHandler.unbind(ex);
            if (failure != null) {
                config.listener.callFailed(call, failure, since(t0));
            } else {
                config.listener.callEnd(call, ex.getResponseCode(), since(t0));
            }
        }
    }


    private static java.time.Duration since(long t0) {
        return java.time.Duration.ofNanos(System.nanoTime() - t0);
    }

    /**
     * Judges the request's {@code Content-Length} lines before anything is forwarded: 0 when absent or acceptable,
     * 400 when a value is not a non-negative decimal integer of ASCII digits (signs, inner spaces, other Unicode
     * digits, an empty value, a list) or the lines disagree, 413 when the length is over {@code limit}, however
     * many digits it has (leading zeros included; no parsing that could overflow).
     */
    static int contentLengthStatus(List<String> values, long limit) {
        if (values == null || values.isEmpty()) {
            return 0;
        }
        String first = null;
        for (String v : values) {
            String t = stripOws(v);
            if (t.isEmpty()) {
                return 400;
            }
            for (int i = 0; i < t.length(); i++) {
                char c = t.charAt(i);
                if (c < '0' || c > '9') {
                    return 400;
                }
            }
            int z = 0;
            while (z < t.length() - 1 && t.charAt(z) == '0') {
                z++;
            }
            t = t.substring(z);
            if (first != null && !first.equals(t)) {
                return 400;
            }
            first = t;
        }
        // limit < 2^63, so 19 or more significant digits are always over it
        return first.length() >= 19 || Long.parseLong(first) > limit ? 413 : 0;
    }

    private static String stripOws(String v) {
        int a = 0;
        int b = v.length();
        while (a < b && (v.charAt(a) == ' ' || v.charAt(a) == '\t')) {
            a++;
        }
        while (b > a && (v.charAt(b - 1) == ' ' || v.charAt(b - 1) == '\t')) {
            b--;
        }
        return v.substring(a, b);
    }

    /** Builder. Certificate and quote provider are required. */
    public static final class Builder {
        private InetSocketAddress address = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
        private int backlog = 128;
        private ServerCertificate certificate;
        private QuoteProvider provider;
        private HttpHandler app;
        private URI upstream;
        private long maxRequestBodyBytes = 16L << 20;
        private AtlsServerListener listener = AtlsServerListener.NONE;
        private Clock clock = Clock.systemUTC();
        private boolean checkQuoteReportData = true;

        private Builder() {}

        /** Where to listen (default 127.0.0.1, ephemeral port). */
        public Builder listen(InetSocketAddress a) {
            this.address = Objects.requireNonNull(a);
            return this;
        }

        /** TCP accept backlog (default 128). */
        public Builder backlog(int n) {
            this.backlog = n;
            return this;
        }

        public Builder certificate(ServerCertificate c) {
            this.certificate = Objects.requireNonNull(c);
            return this;
        }

        public Builder quoteProvider(QuoteProvider p) {
            this.provider = Objects.requireNonNull(p);
            return this;
        }

        /** The application for every path but {@code /tdx_quote}. */
        public Builder handler(HttpHandler h) {
            this.app = Objects.requireNonNull(h);
            this.upstream = null;
            return this;
        }

        /** Proxy every path but {@code /tdx_quote} to {@code upstream} (see {@link ReverseProxyHandler}). */
        public Builder upstream(URI upstream) {
            this.upstream = Objects.requireNonNull(upstream);
            this.app = null;
            return this;
        }

        /** Largest application request body (default 16 MiB; {@code /tdx_quote} has its own 4 KiB limit). */
        public Builder maxRequestBodyBytes(long n) {
            if (n < 0) {
                throw new IllegalArgumentException("maxRequestBodyBytes must be >= 0");
            }
            this.maxRequestBodyBytes = n;
            return this;
        }

        /** Observability hooks (also told about upstream failures). */
        public Builder listener(AtlsServerListener l) {
            this.listener = Objects.requireNonNull(l);
            return this;
        }

        /** The clock for the response's {@code timestamp}. */
        public Builder clock(Clock c) {
            this.clock = Objects.requireNonNull(c);
            return this;
        }

        /**
         * Whether the server checks that each quote carries the report data it asked for before sending it
         * (default on). Turn off only to let a deliberately misbehaving simulated CVM reach clients in tests.
         */
        public Builder checkQuoteReportData(boolean on) {
            this.checkQuoteReportData = on;
            return this;
        }

        public AtlsServer build() {
            if (certificate == null) {
                throw new IllegalStateException("certificate is required");
            }
            if (provider == null) {
                throw new IllegalStateException("quoteProvider is required");
            }
            Builder c = new Builder();
            c.address = address;
            c.backlog = backlog;
            c.certificate = certificate;
            c.provider = provider;
            c.maxRequestBodyBytes = maxRequestBodyBytes;
            c.listener = SafeAtlsServerListener.wrap(listener);
            c.clock = clock;
            c.checkQuoteReportData = checkQuoteReportData;
            c.app = upstream != null ? ReverseProxyHandler.to(upstream, java.time.Duration.ofSeconds(10),
                    java.time.Duration.ofSeconds(300), c.listener) : app;
            return new AtlsServer(c);
        }
    }

    /** Convenience for tests and tools: {@link #start()} wrapping the IOException. */
    public AtlsServer startUnchecked() {
        try {
            return start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
