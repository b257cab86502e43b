package dev.atlas.server;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.atlas.server.internal.SafeAtlsServerListener;
import dev.atlas.server.internal.TdxQuoteHandler;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Forwards requests to an upstream HTTP application (inside the CVM, typically {@code http://127.0.0.1:PORT}),
 * streaming bodies both ways.
 *
 * <p>Hop-by-hop headers (RFC 9110 §7.6.1, plus those named in {@code Connection}) are dropped both ways;
 * {@code X-Forwarded-For}, {@code X-Real-IP}, {@code X-Forwarded-Proto: https} and {@code X-Forwarded-Host} are
 * set from the connection (client-sent values are replaced, since this server is the edge). No redirects are
 * followed. An unreachable upstream is 502, one that does not answer within the response timeout is 504.
 */
public final class ReverseProxyHandler implements HttpHandler {
    private static final Set<String> HOP_BY_HOP = Set.of("connection", "keep-alive", "proxy-authenticate",
            "proxy-authorization", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "host",
            "content-length", "expect", "x-forwarded-for", "x-real-ip", "x-forwarded-proto", "x-forwarded-host");

    private final URI upstream;
    private final HttpClient client;
    private final Duration responseTimeout;
    private final AtlsServerListener listener;

    private ReverseProxyHandler(URI upstream, Duration connectTimeout, Duration responseTimeout,
            AtlsServerListener listener) {
        String s = upstream.getScheme();
        if (!"http".equals(s) && !"https".equals(s) || upstream.getHost() == null) {
            throw new IllegalArgumentException("upstream must be an absolute http(s) URL: " + upstream);
        }
        if (upstream.getRawQuery() != null || upstream.getRawFragment() != null || upstream.getRawUserInfo() != null) {
            throw new IllegalArgumentException("upstream must not have a query, fragment or user info: " + upstream);
        }
        this.upstream = upstream;
        this.responseTimeout = responseTimeout;
        this.listener = listener;
        this.client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(connectTimeout)
                .followRedirects(HttpClient.Redirect.NEVER).build();
    }

    /** A proxy to {@code upstream} with a 10 s connect timeout and a 300 s wait for response headers. */
    public static ReverseProxyHandler to(URI upstream) {
        return to(upstream, Duration.ofSeconds(10), Duration.ofSeconds(300), AtlsServerListener.NONE);
    }

    /** A proxy with explicit timeouts and a listener for upstream failures. */
    public static ReverseProxyHandler to(URI upstream, Duration connectTimeout, Duration responseTimeout,
            AtlsServerListener listener) {
        return new ReverseProxyHandler(Objects.requireNonNull(upstream), connectTimeout, responseTimeout,
                SafeAtlsServerListener.wrap(Objects.requireNonNull(listener)));
    }

    /** The upstream base URL. */
    public URI upstream() {
        return upstream;
    }

    @Override
    public void handle(HttpExchange ex) throws IOException {
        // Not try-with-resources: an exception must leave the exchange open so that the caller can still answer
        // (AtlsServer sends 413 when the body limit trips); the JDK server closes it after a thrown handler.
        long t0 = System.nanoTime();
        URI in = ex.getRequestURI();
        if (in.getRawPath() == null || !in.getRawPath().startsWith("/")) {
            error(ex, 400, "Bad Request");
            return;
        }
        String base = upstream.toString().endsWith("/")
                ? upstream.toString().substring(0, upstream.toString().length() - 1) : upstream.toString();
        URI target = URI.create(base + in.getRawPath() + (in.getRawQuery() != null ? "?" + in.getRawQuery() : ""));
        HttpRequest.Builder rb = HttpRequest.newBuilder(target).timeout(responseTimeout);
        Set<String> connectionListed = connectionTokens(ex.getRequestHeaders().get("Connection"));
        for (Map.Entry<String, List<String>> h : ex.getRequestHeaders().entrySet()) {
            String name = h.getKey().toLowerCase(Locale.ROOT);
            if (HOP_BY_HOP.contains(name) || connectionListed.contains(name)) {
                continue;
            }
            for (String v : h.getValue()) {
                rb.header(h.getKey(), v);
            }
        }
        String clientIp = ex.getRemoteAddress().getAddress().getHostAddress();
        rb.header("X-Forwarded-For", clientIp).header("X-Real-IP", clientIp).header("X-Forwarded-Proto", "https");
        String host = ex.getRequestHeaders().getFirst("Host");
        if (host != null) {
            rb.header("X-Forwarded-Host", host);
        }
        rb.method(ex.getRequestMethod(), publisher(ex));

        HttpResponse<InputStream> r;
        try {
            r = client.send(rb.build(), HttpResponse.BodyHandlers.ofInputStream());
        } catch (HttpTimeoutException e) {
            listener.applicationFailed(TdxQuoteHandler.call(ex), e, since(t0));
            error(ex, 504, "Gateway Timeout");
            return;
        } catch (ConnectException e) {
            listener.applicationFailed(TdxQuoteHandler.call(ex), e, since(t0));
            error(ex, 502, "Bad Gateway");
            return;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            error(ex, 502, "Bad Gateway");
            return;
        } catch (IOException e) {
            listener.applicationFailed(TdxQuoteHandler.call(ex), e, since(t0));
            error(ex, 502, "Bad Gateway");
            return;
        }
        Set<String> respConnection = connectionTokens(r.headers().allValues("Connection"));
        for (Map.Entry<String, List<String>> h : r.headers().map().entrySet()) {
            String name = h.getKey().toLowerCase(Locale.ROOT);
            if (name.startsWith(":") || HOP_BY_HOP.contains(name) || respConnection.contains(name)) {
                continue;
            }
            for (String v : h.getValue()) {
                ex.getResponseHeaders().add(h.getKey(), v);
            }
        }
        long length = r.headers().firstValueAsLong("Content-Length").orElse(-2);
        boolean noBody = "HEAD".equals(ex.getRequestMethod()) || r.statusCode() == 204 || r.statusCode() == 304
                || length == 0;
        try (InputStream body = r.body()) {
            ex.sendResponseHeaders(r.statusCode(), noBody ? -1 : (length > 0 ? length : 0));
            if (!noBody) {
                try (OutputStream out = ex.getResponseBody()) {
                    body.transferTo(out);
                }
            }
        }
        ex.close();
    }

    /**
     * A body of known length is streamed (the server already refused one over the limit, and the JDK server stops
     * at the declared length). A chunked body is read here first, through the server's limit, so that an
     * over-long one fails on this thread and is answered 413; it costs at most the limit in memory.
     */
    private static HttpRequest.BodyPublisher publisher(HttpExchange ex) throws IOException {
        String cl = ex.getRequestHeaders().getFirst("Content-Length");
        boolean chunked = ex.getRequestHeaders().containsKey("Transfer-Encoding");
        if (chunked) {
            return HttpRequest.BodyPublishers.ofByteArray(ex.getRequestBody().readAllBytes());
        }
        if (cl == null) {
            return HttpRequest.BodyPublishers.noBody();
        }
        long length;
        try {
            // AtlsServer already refused anything but ASCII digits within its limit (400/413); used on its own,
            // this handler still takes only plain digits (Long.parseLong alone would accept a sign).
            String t = cl.strip();
            if (t.isEmpty() || !t.chars().allMatch(c -> c >= '0' && c <= '9')) {
                throw new NumberFormatException();
            }
            length = Long.parseLong(t);
        } catch (NumberFormatException e) {
            throw new IOException("malformed Content-Length");
        }
        if (length == 0) {
            return HttpRequest.BodyPublishers.noBody();
        }
        // The client closes the stream when it is done or fails; the exchange's stream must stay open so that
        // the server can still answer on this connection.
        HttpRequest.BodyPublisher stream = HttpRequest.BodyPublishers.ofInputStream(
                () -> new java.io.FilterInputStream(ex.getRequestBody()) {
                    @Override
                    public void close() {
                        // left open on purpose
                    }
                });
        return HttpRequest.BodyPublishers.fromPublisher(stream, length);
    }

    private static Set<String> connectionTokens(List<String> values) {
        Set<String> out = new HashSet<>();
        if (values != null) {
            for (String v : values) {
                for (String t : v.split(",")) {
                    out.add(t.strip().toLowerCase(Locale.ROOT));
                }
            }
        }
        return out;
    }

    private static void error(HttpExchange ex, int status, String detail) throws IOException {
        TdxQuoteHandler.send(ex, status, "{\"detail\":\"" + detail + "\"}");
        ex.close();
    }

    @Override
    public String toString() {
        return "ReverseProxyHandler[" + upstream + "]";
    }

    private static Duration since(long t0) {
        return Duration.ofNanos(System.nanoTime() - t0);
    }
}
