package dev.atlas.dstack.ra.prpc;

import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpsExchange;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * Mounts a {@link PrpcDispatcher} on a JDK {@code HttpServer}/{@code HttpsServer} context:
 * {@code server.createContext("/prpc", new PrpcHttpHandler(dispatcher))}. The path given to the dispatcher is
 * the request path below the context path; on an {@code HttpsServer} whose {@code SSLParameters} want or need
 * client authentication, the client's certificate chain reaches {@link PrpcContext#peerCertificates()}.
 *
 * <p>The body is read up to the dispatcher's limit plus one byte and no further (a larger declared
 * {@code Content-Length} is not read at all), so an oversized body costs at most the limit in memory.
 */
public final class PrpcHttpHandler implements HttpHandler {
    private final PrpcDispatcher dispatcher;
    /** One shared, never-written array standing for any body over the limit (the dispatcher only reads its length). */
    private volatile byte[] tooLarge;

    public PrpcHttpHandler(PrpcDispatcher dispatcher) {
        this.dispatcher = Objects.requireNonNull(dispatcher, "dispatcher");
    }

    @Override
    public void handle(HttpExchange exchange) throws IOException {
        try {
            PrpcRequest request = toRequest(exchange, dispatcher.maxBodyBytes(), this);
            PrpcResponse response = dispatcher.dispatch(request);
            write(exchange, response, request.httpMethod().equalsIgnoreCase("HEAD"));
        } finally {
            exchange.close();
        }
    }

    /** Turns an exchange into a request relative to the context path, reading at most {@code maxBody + 1} bytes. */
    public static PrpcRequest toRequest(HttpExchange exchange, int maxBody) throws IOException {
        return toRequest(exchange, maxBody, (PrpcHttpHandler) null);
    }

    private static PrpcRequest toRequest(HttpExchange exchange, int maxBody, PrpcHttpHandler owner)
            throws IOException {
        String rawPath = exchange.getRequestURI().getRawPath();
        String context = exchange.getHttpContext().getPath();
        String rel = rawPath == null ? "/" : rawPath;
        if (rel.startsWith(context)) {
            rel = rel.substring(context.length());
        }
        if (!rel.startsWith("/")) {
            rel = "/" + rel;
        }
        Map<String, String> headers = new TreeMap<>();
        Headers h = exchange.getRequestHeaders();
        for (Map.Entry<String, List<String>> e : h.entrySet()) {
            if (e.getKey() != null && !e.getValue().isEmpty()) {
                headers.putIfAbsent(e.getKey().toLowerCase(Locale.ROOT), e.getValue().get(0));
            }
        }
        byte[] body = readBody(exchange, headers.get("content-length"), maxBody, owner);
        return new PrpcRequest(exchange.getRequestMethod(), rel, exchange.getRequestURI().getRawQuery(),
                headers.get("content-type"), body, headers, peerCertificates(exchange));
    }

    private static byte[] readBody(HttpExchange exchange, String contentLength, int maxBody, PrpcHttpHandler owner)
            throws IOException {
        if (contentLength != null) {
            try {
                if (Long.parseLong(contentLength.trim()) > maxBody) {
                    // too large: not read; the dispatcher refuses it by its length
                    return owner == null ? new byte[maxBody + 1] : owner.tooLargeMarker();
                }
            } catch (NumberFormatException e) {
                // the JDK server already rejects a bad Content-Length; read with the limit anyway
            }
        }
        try (InputStream in = exchange.getRequestBody()) {
            return in.readNBytes(maxBody + 1);
        }
    }

    private byte[] tooLargeMarker() {
        byte[] m = tooLarge;
        if (m == null) {
            m = new byte[dispatcher.maxBodyBytes() + 1]; // allocated once, on the first oversized request
            tooLarge = m;
        }
        return m;
    }

    private static Optional<List<X509Certificate>> peerCertificates(HttpExchange exchange) {
        if (!(exchange instanceof HttpsExchange)) {
            return Optional.empty();
        }
        SSLSession session = ((HttpsExchange) exchange).getSSLSession();
        if (session == null) {
            return Optional.empty();
        }
        try {
            Certificate[] chain = session.getPeerCertificates();
            List<X509Certificate> out = new ArrayList<>();
            for (Certificate c : chain) {
                if (c instanceof X509Certificate) {
                    out.add((X509Certificate) c);
                }
            }
            return out.isEmpty() ? Optional.empty() : Optional.of(out);
        } catch (SSLPeerUnverifiedException e) {
            return Optional.empty();
        }
    }

    /** Writes a response (no body for HEAD or an empty body). */
    public static void write(HttpExchange exchange, PrpcResponse response, boolean head) throws IOException {
        Headers out = exchange.getResponseHeaders();
        response.headers().forEach(out::set);
        if (response.contentType() != null) {
            out.set("Content-Type", response.contentType());
        }
        byte[] body = response.body();
        if (head || body.length == 0) {
            exchange.sendResponseHeaders(response.status(), -1);
            return;
        }
        exchange.sendResponseHeaders(response.status(), body.length);
        try (OutputStream os = exchange.getResponseBody()) {
            os.write(body);
        }
    }
}
