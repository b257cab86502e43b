package dev.atlas.dstack.ra.prpc;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;

/**
 * A pRPC JSON client: {@code POST {base}/{Method}?json} with a JSON body over the JDK {@code HttpClient} (HTTP/1.1;
 * {@code https} with the caller's {@link SSLContext}, for example one holding an RA-TLS client key for mTLS), as
 * upstream's {@code ra-rpc/src/client.rs} and {@code http-client/src/prpc.rs}.
 *
 * <ul>
 *   <li>200: the body is strict JSON (an empty body is JSON {@code null}, as upstream's clients read it);</li>
 *   <li>400 with {@code {"error": "..."}}: {@link PrpcRemoteException} carrying the server's text;</li>
 *   <li>anything else, a body over {@link Builder#maxResponseBytes}, invalid JSON or a timeout: an
 *       {@link IOException} naming the URL and, when there is one, the status.</li>
 * </ul>
 * Defaults: connect timeout 5 s and request timeout 60 s (upstream's reqwest settings), 16 MiB responses.
 * Thread-safe.
 */
public final class PrpcClient implements AutoCloseable {
    /** Default response limit: 16 MiB. */
    public static final int DEFAULT_MAX_RESPONSE_BYTES = 16 << 20;

    private final URI base;
    private final HttpClient http;
    private final Duration requestTimeout;
    private final int maxResponseBytes;
    private final Map<String, String> headers;
    private final ObjectMapper mapper;

    private PrpcClient(Builder b) {
        this.base = b.base;
        this.requestTimeout = b.requestTimeout;
        this.maxResponseBytes = b.maxResponseBytes;
        this.headers = Map.copyOf(b.headers);
        this.mapper = b.mapper != null ? b.mapper : PrpcJson.newMapper();
        HttpClient.Builder hb = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(b.connectTimeout);
        if (b.sslContext != null) {
            hb.sslContext(b.sslContext);
        }
        if (b.sslParameters != null) {
            hb.sslParameters(b.sslParameters);
        }
        this.http = hb.build();
    }

    /**
     * A builder for a server at {@code base}, for example {@code https://kms:8000/prpc} (a trailing {@code /} is
     * ignored); {@code http} and {@code https} only.
     */
    public static Builder builder(URI base) {
        return new Builder(base);
    }

    /**
     * Releases the underlying {@code HttpClient} (its selector thread and pooled connections) on a JDK where it is
     * closeable (21 and later); on 17 it is left to the garbage collector. In-flight calls complete first.
     */
    @Override
    public void close() {
        Object h = http;
        if (h instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception e) {
                // closing an HttpClient does not fail; nothing to report
            }
        }
    }

    /** The base URI calls go to. */
    public URI base() {
        return base;
    }

    /** The URL of one method: {@code {base}/{method}?json}. */
    public URI methodUri(String method) {
        requireMethod(method);
        String b = base.toString();
        while (b.endsWith("/")) {
            b = b.substring(0, b.length() - 1);
        }
        return URI.create(b + "/" + method + "?json");
    }

    /**
     * Calls {@code method} with {@code request} (a {@link JsonNode}, record, {@code Map}, ... serialized with the
     * binding's mapper; null sends {@code {}}) and returns the response message.
     */
    public JsonNode call(String method, Object request) throws IOException, PrpcRemoteException {
        URI uri = methodUri(method);
        byte[] body = request == null ? "{}".getBytes(java.nio.charset.StandardCharsets.US_ASCII)
                : mapper.writeValueAsBytes(request);
        HttpRequest.Builder rb = HttpRequest.newBuilder(uri)
                .timeout(requestTimeout)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body));
        headers.forEach(rb::header);
        HttpResponse<InputStream> response;
        try {
            response = http.send(rb.build(), HttpResponse.BodyHandlers.ofInputStream());
        } catch (HttpTimeoutException e) {
            throw new IOException("pRPC call POST " + uri + " timed out: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            InterruptedIOException ie = new InterruptedIOException("pRPC call POST " + uri + " interrupted");
            ie.initCause(e);
            throw ie;
        } catch (IOException e) {
            throw new IOException("pRPC call POST " + uri + " failed: " + e, e);
        }
        int status = response.statusCode();
        byte[] data;
        try (InputStream in = response.body()) {
            data = in.readNBytes(maxResponseBytes + 1);
        } catch (IOException e) {
            throw new IOException("pRPC call POST " + uri + ": HTTP " + status + ", reading the body failed: " + e, e);
        }
        if (data.length > maxResponseBytes) {
            throw new IOException("pRPC call POST " + uri + ": HTTP " + status + " response body exceeds the limit of "
                    + maxResponseBytes + " bytes");
        }
        if (status == 200) {
            if (data.length == 0) {
                return StrictJson.NODES.nullNode();
            }
            try {
                return StrictJson.parse(data, 0, data.length);
            } catch (StrictJson.JsonError e) {
                throw new IOException("pRPC call POST " + uri + ": HTTP 200 with an invalid JSON body: "
                        + e.getMessage());
            }
        }
        if (status == 400) {
            String remote = errorText(data);
            if (remote != null) {
                throw new PrpcRemoteException(method, remote);
            }
        }
        throw new IOException("pRPC call POST " + uri + ": HTTP " + status + snippet(data));
    }

    /** {@link #call(String, Object)} converted to {@code type} with the binding's mapper. */
    public <T> T call(String method, Object request, Class<T> type) throws IOException, PrpcRemoteException {
        JsonNode n = call(method, request);
        try {
            return mapper.treeToValue(n, type);
        } catch (IOException | IllegalArgumentException e) {
            throw new IOException("pRPC call " + method + ": the response does not fit " + type.getSimpleName() + ": "
                    + StrictJson.firstLine(e.getMessage()), e);
        }
    }

    /** {@link #call(String, Object)} converted to a generic {@code type} with the binding's mapper. */
    public <T> T call(String method, Object request, TypeReference<T> type) throws IOException, PrpcRemoteException {
        JsonNode n = call(method, request);
        try {
            return mapper.readerFor(type).readValue(n);
        } catch (IOException | IllegalArgumentException e) {
            throw new IOException("pRPC call " + method + ": the response does not fit " + type.getType() + ": "
                    + StrictJson.firstLine(e.getMessage()), e);
        }
    }

    /** The {@code error} string of a {@code {"error": "..."}} body, or null when the body is not that. */
    static String errorText(byte[] data) {
        try {
            JsonNode n = StrictJson.parse(data, 0, data.length);
            if (n.isObject() && n.size() == 1 && n.get("error") != null && n.get("error").isTextual()) {
                return n.get("error").textValue();
            }
        } catch (StrictJson.JsonError e) {
            // not dstack's error shape
        }
        return null;
    }

    private static String snippet(byte[] data) {
        if (data.length == 0) {
            return "";
        }
        String s = new String(data, 0, Math.min(data.length, 200), java.nio.charset.StandardCharsets.UTF_8);
        return ": " + PrpcDispatcher.safe(s);
    }

    private static void requireMethod(String method) {
        Objects.requireNonNull(method, "method");
        if (method.isEmpty() || !method.matches("[A-Za-z0-9_.]+")) {
            throw new IllegalArgumentException("method name `" + PrpcDispatcher.safe(method)
                    + "` must be letters, digits, '_' or '.'");
        }
    }

    public static final class Builder {
        private final URI base;
        private SSLContext sslContext;
        private SSLParameters sslParameters;
        private Duration connectTimeout = Duration.ofSeconds(5);
        private Duration requestTimeout = Duration.ofSeconds(60);
        private int maxResponseBytes = DEFAULT_MAX_RESPONSE_BYTES;
        private final Map<String, String> headers = new LinkedHashMap<>();
        private ObjectMapper mapper;

        private Builder(URI base) {
            Objects.requireNonNull(base, "base");
            String scheme = base.getScheme() == null ? "" : base.getScheme().toLowerCase(Locale.ROOT);
            if (!scheme.equals("http") && !scheme.equals("https")) {
                throw new IllegalArgumentException("pRPC base URI must be http or https, got " + base);
            }
            if (base.getRawQuery() != null || base.getRawFragment() != null || base.getHost() == null) {
                throw new IllegalArgumentException("pRPC base URI needs a host and no query or fragment: " + base);
            }
            this.base = base;
        }

        /** The TLS context for {@code https} (trust, and a client key for mTLS). */
        public Builder sslContext(SSLContext context) {
            this.sslContext = Objects.requireNonNull(context, "context");
            return this;
        }

        /** TLS parameters (protocols, cipher suites, SNI). */
        public Builder sslParameters(SSLParameters parameters) {
            this.sslParameters = Objects.requireNonNull(parameters, "parameters");
            return this;
        }

        public Builder connectTimeout(Duration timeout) {
            this.connectTimeout = positive(timeout, "connectTimeout");
            return this;
        }

        /** The whole-call timeout until the response headers arrive (body reading is bounded by size). */
        public Builder requestTimeout(Duration timeout) {
            this.requestTimeout = positive(timeout, "requestTimeout");
            return this;
        }

        public Builder maxResponseBytes(int bytes) {
            if (bytes < 0 || bytes == Integer.MAX_VALUE) {
                throw new IllegalArgumentException("maxResponseBytes must be in [0, " + (Integer.MAX_VALUE - 1)
                        + "], got " + bytes);
            }
            this.maxResponseBytes = bytes;
            return this;
        }

        /** A header sent with every call, for example {@code Authorization: Bearer <token>}. */
        public Builder header(String name, String value) {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(value, "value");
            headers.put(name, value);
            return this;
        }

        /** {@code Authorization: Bearer <token>} on every call (upstream {@code with_bearer_token}). */
        public Builder bearerToken(String token) {
            return header("Authorization", "Bearer " + Objects.requireNonNull(token, "token"));
        }

        /** The mapper for requests and typed responses (default {@link PrpcJson#newMapper()}). */
        public Builder objectMapper(ObjectMapper mapper) {
            this.mapper = Objects.requireNonNull(mapper, "mapper");
            return this;
        }

        public PrpcClient build() {
            return new PrpcClient(this);
        }

        private static Duration positive(Duration d, String what) {
            Objects.requireNonNull(d, what);
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException(what + " must be positive, got " + d);
            }
            return d;
        }
    }
}
