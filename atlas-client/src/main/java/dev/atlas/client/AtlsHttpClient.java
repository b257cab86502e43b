package dev.atlas.client;

import dev.atlas.protocol.Checks;
import dev.atlas.protocol.Http1ResponseReader;
import dev.atlas.dstack.AttestationReport;
import dev.atlas.tdx.AttestationException;
import java.io.Closeable;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/**
 * A small HTTP/1.1 client over attested connections.
 *
 * <ul>
 *   <li>Per-host policies: each host name (Atlas's {@code atls_policy_per_hostname}) has its
 *       {@link AtlsConnector}. A host without one is refused, unless {@link Builder#allowUnattestedHttps()}
 *       lets it use ordinary HTTPS (platform trust store, hostname verification); its responses then carry
 *       no report.</li>
 *   <li>A keep-alive pool per host and port: one attestation per connection, not per request. A pooled
 *       connection is reused only while younger than the session TTL (counted from its attestation; default
 *       5 minutes) and idle for less than the idle timeout (default 50 s, under the reference server's 60 s);
 *       after the TTL a new connection is made, i.e. the server is attested again.</li>
 *   <li>Streaming bodies: the response body is an {@link InputStream} framed by Content-Length or chunked;
 *       closing the {@link Response} after reading it all returns the connection to the pool, closing it
 *       earlier closes the connection.</li>
 *   <li>A request that fails on a reused connection before any response byte (the server closed an idle
 *       connection) is retried once on a new one; request bodies are byte arrays, so this is always safe to
 *       replay.</li>
 * </ul>
 * Thread-safe.
 */
public final class AtlsHttpClient implements AutoCloseable {
    private final Map<String, AtlsConnector> policies;
    private final boolean allowUnattested;
    private final Duration sessionTtl;
    private final Duration idleTimeout;
    private final Duration responseTimeout;
    private final int maxIdlePerHost;
    private final Clock clock;
    private final Map<String, Deque<Pooled>> pool = new HashMap<>(); // guarded by itself
    private volatile boolean closed;

    private AtlsHttpClient(Builder b) {
        this.policies = Map.copyOf(b.policies);
        this.allowUnattested = b.allowUnattested;
        this.sessionTtl = b.sessionTtl;
        this.idleTimeout = b.idleTimeout;
        this.responseTimeout = b.responseTimeout;
        this.maxIdlePerHost = b.maxIdlePerHost;
        this.clock = b.clock;
    }

    /** A builder. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * A request: method, absolute https URI, headers, optional body. The header pairs and the body are copied
     * in and out, so neither the caller nor a reader of the request can change it afterwards.
     *
     * @param method  the method token
     * @param uri     an absolute https URI
     * @param headers name and value pairs
     * @param body    the body, or null
     */
    public record Request(String method, URI uri, List<String[]> headers, byte[] body) {
        public Request {
            Objects.requireNonNull(method);
            Objects.requireNonNull(uri);
            headers = copy(headers);
            body = body == null ? null : body.clone();
            if (!method.chars().allMatch(c -> c > 32 && c < 127)) {
                throw new IllegalArgumentException("invalid method");
            }
            for (String[] h : headers) {
                if (h.length != 2 || h[0].isEmpty() || (h[0] + h[1]).chars().anyMatch(c -> c == '\r' || c == '\n')
                        || h[0].indexOf(':') >= 0) {
                    throw new IllegalArgumentException("invalid header");
                }
            }
        }

        /** A copy of the header pairs. */
        @Override
        public List<String[]> headers() {
            return copy(headers);
        }

        /** A copy of the body, or null. */
        @Override
        public byte[] body() {
            return body == null ? null : body.clone();
        }

        private static List<String[]> copy(List<String[]> headers) {
            return headers.stream().map(h -> h.clone()).toList();
        }

        /** {@code GET uri}. */
        public static Request get(URI uri) {
            return new Request("GET", uri, List.of(), null);
        }

        /** {@code POST uri} with a body and its content type. */
        public static Request post(URI uri, String contentType, byte[] body) {
            return new Request("POST", uri, List.<String[]>of(new String[] {"Content-Type", contentType}), body);
        }
    }

    /**
     * A response with a streaming body. Close it: after the whole body was read the connection goes back to the
     * pool, otherwise it is closed.
     */
    public final class Response implements Closeable {
        private final Http1ResponseReader.Head head;
        private final InputStream body;
        private final AttestationReport report;
        private final Pooled conn;
        private final boolean reusable;
        private boolean closedResponse;

        private Response(Http1ResponseReader.Head head, InputStream body, Pooled conn, boolean reusable) {
            this.head = head;
            this.body = body;
            this.conn = conn;
            this.report = conn.attested == null ? null : conn.attested.report();
            this.reusable = reusable && !"close".equalsIgnoreCase(head.header("Connection"));
        }

        public int status() {
            return head.status();
        }

        /** The first value of a header, or null. */
        public String header(String name) {
            return head.header(name);
        }

        /** The body, framed; -1 at its end. */
        public InputStream body() {
            return body;
        }

        /** The whole body (up to {@code max} bytes, else an IOException). */
        public byte[] bodyBytes(int max) throws IOException {
            byte[] b = body.readNBytes(max + 1);
            if (b.length > max) {
                throw new IOException("response body exceeds " + max + " bytes");
            }
            return b;
        }

        /** The attestation report of the connection that carried this response; null for unattested HTTPS. */
        public AttestationReport report() {
            return report;
        }

        @Override
        public void close() {
            if (closedResponse) {
                return;
            }
            closedResponse = true;
            boolean complete;
            try {
                complete = reusable && body.read() == -1;
            } catch (IOException e) {
                complete = false;
            }
            if (complete) {
                release(conn);
            } else {
                conn.close();
            }
        }
    }

    /**
     * Sends {@code request} and returns the response once its head arrived.
     *
     * @throws AttestationException when a new connection's attestation fails (nothing was sent)
     * @throws IOException          on network or protocol failure, or for a host without a policy
     */
    public Response send(Request request) throws IOException, AttestationException {
        if (closed) {
            throw new IllegalStateException("client closed");
        }
        URI u = request.uri();
        if (!"https".equalsIgnoreCase(u.getScheme()) || u.getHost() == null) {
            throw new IllegalArgumentException("only absolute https URIs: " + u);
        }
        String host = u.getHost().toLowerCase(Locale.ROOT);
        if (host.startsWith("[")) {
            host = host.substring(1, host.length() - 1);
        }
        int port = u.getPort() == -1 ? 443 : u.getPort();
        String key = host + ":" + port;
        for (int attempt = 0; ; attempt++) {
            Pooled c = take(key);
            boolean reused = c != null;
            if (c == null) {
                c = open(host, port);
            }
            try {
                write(c, request, u);
                Http1ResponseReader.Streamed s = Http1ResponseReader.readStreaming(c.socket, c.in,
                        responseTimeout.toMillis(), 64 * 1024, "HEAD".equalsIgnoreCase(request.method()),
                        responseTimeout.toMillis());
                c.lastUsed = clock.instant();
                return new Response(s.head(), new FilterInputStream(s.body()) {
                    @Override
                    public void close() {
                        // closing the body stream does not close the connection; Response.close decides
                    }
                }, c, s.reusable());
            } catch (IOException e) {
                c.abort(); // failed exchange: no graceful TLS close that could wait on the server
                boolean stale = reused && !(e instanceof java.net.SocketTimeoutException);
                if (stale && attempt == 0) {
                    continue; // the server had closed the idle connection: once more on a fresh one
                }
                throw e;
            }
        }
    }

    private void write(Pooled c, Request r, URI u) throws IOException {
        String target = (u.getRawPath() == null || u.getRawPath().isEmpty() ? "/" : u.getRawPath())
                + (u.getRawQuery() != null ? "?" + u.getRawQuery() : "");
        StringBuilder sb = new StringBuilder(r.method()).append(' ').append(target).append(" HTTP/1.1\r\n")
                .append("Host: ").append(u.getRawAuthority()).append("\r\n");
        for (String[] h : r.headers()) {
            String n = h[0].toLowerCase(Locale.ROOT);
            if (n.equals("host") || n.equals("content-length") || n.equals("transfer-encoding") || n.equals("connection")) {
                continue; // set by the client
            }
            sb.append(h[0]).append(": ").append(h[1]).append("\r\n");
        }
        byte[] body = r.body(); // one copy
        if (body != null) {
            sb.append("Content-Length: ").append(body.length).append("\r\n");
        }
        sb.append("\r\n");
        OutputStream out = c.out;
        out.write(sb.toString().getBytes(StandardCharsets.UTF_8));
        if (body != null) {
            out.write(body);
        }
        out.flush();
    }

    private Pooled open(String host, int port) throws IOException, AttestationException {
        AtlsConnector connector = policies.get(host);
        if (connector != null) {
            AttestedConnection a = connector.connect(host, port);
            return new Pooled(host + ":" + port, a, a.socket(), a.inputStream(), a.outputStream(), clock.instant());
        }
        if (!allowUnattested) {
            throw new IOException("no attestation policy for " + host + " (and unattested HTTPS is not allowed)");
        }
        SSLSocket s = (SSLSocket) defaultContext().getSocketFactory().createSocket();
        s.connect(new InetSocketAddress(host, port), 10_000);
        AtlsConnector.configure(s, host, false, true);
        s.setTcpNoDelay(true);
        s.startHandshake();
        return new Pooled(host + ":" + port, null, s, s.getInputStream(), s.getOutputStream(), clock.instant());
    }

    private static SSLContext defaultContext() throws IOException {
        try {
            return SSLContext.getDefault();
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IOException(e);
        }
    }

    private Pooled take(String key) {
        Instant now = clock.instant();
        List<Pooled> expired = new ArrayList<>();
        Pooled found = null;
        synchronized (pool) {
            Deque<Pooled> d = pool.get(key);
            while (d != null && !d.isEmpty()) {
                Pooled p = d.pollFirst();
                if (p.socket.isClosed() || Duration.between(p.since, now).compareTo(sessionTtl) >= 0
                        || Duration.between(p.lastUsed, now).compareTo(idleTimeout) >= 0) {
                    expired.add(p);
                } else {
                    found = p;
                    break;
                }
            }
        }
        expired.forEach(Pooled::close);
        return found;
    }

    private void release(Pooled c) {
        c.lastUsed = clock.instant();
        String key = c.key();
        boolean keep;
        synchronized (pool) {
            Deque<Pooled> d = pool.computeIfAbsent(key, k -> new ArrayDeque<>());
            keep = !closed && d.size() < maxIdlePerHost;
            if (keep) {
                d.addFirst(c);
            }
        }
        if (!keep) {
            c.close();
        }
    }

    /** Number of idle pooled connections (all hosts). */
    public int idleConnections() {
        synchronized (pool) {
            return pool.values().stream().mapToInt(Deque::size).sum();
        }
    }

    /** Closes every pooled connection; later sends fail. */
    @Override
    public void close() {
        closed = true;
        List<Pooled> all = new ArrayList<>();
        synchronized (pool) {
            pool.values().forEach(all::addAll);
            pool.clear();
        }
        all.forEach(Pooled::close);
    }

    /** A pooled connection: attested (with its report) or plain. */
    private final class Pooled {
        final String key;
        final AttestedConnection attested;
        final SSLSocket socket;
        final InputStream in;
        final OutputStream out;
        final Instant since;
        volatile Instant lastUsed;

        Pooled(String key, AttestedConnection attested, SSLSocket socket, InputStream in, OutputStream out,
                Instant since) {
            this.key = key;
            this.attested = attested;
            this.socket = socket;
            this.in = in;
            this.out = out;
            this.since = since;
            this.lastUsed = clock.instant();
        }

        /** The pool key, {@code host:port} as the request named it (no reverse DNS). */
        String key() {
            return key;
        }

        void close() {
            if (attested != null) {
                attested.close();
            } else {
                AttestedConnection.closeWithoutWaiting(socket);
            }
        }

        /** Closes at once (SO_LINGER 0, no TLS close), after a failed exchange. */
        void abort() {
            if (attested != null) {
                attested.abort();
                return;
            }
            try {
                socket.setSoLinger(true, 0);
            } catch (IOException ignored) {
                // closing anyway
            }
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }

    /** Builder. */
    public static final class Builder {
        private final Map<String, AtlsConnector> policies = new HashMap<>();
        private boolean allowUnattested;
        private Duration sessionTtl = Duration.ofMinutes(5);
        private Duration idleTimeout = Duration.ofSeconds(50);
        private Duration responseTimeout = Duration.ofSeconds(60);
        private int maxIdlePerHost = 5;
        private Clock clock = Clock.systemUTC();

        private Builder() {}

        /** The connector (policy) for a host name (case-insensitive; any port). */
        public Builder policy(String host, AtlsConnector connector) {
            policies.put(host.toLowerCase(Locale.ROOT), Objects.requireNonNull(connector));
            return this;
        }

        /** Let hosts without a policy use ordinary HTTPS (off by default). */
        public Builder allowUnattestedHttps() {
            this.allowUnattested = true;
            return this;
        }

        /** How long an attested connection may be reused, counted from its attestation (default 5 min). */
        public Builder sessionTtl(Duration d) {
            this.sessionTtl = Checks.socketTimeout(d);
            return this;
        }

        /** How long a pooled connection may sit idle (default 50 s). */
        public Builder idleTimeout(Duration d) {
            this.idleTimeout = Checks.socketTimeout(d);
            return this;
        }

        /** Deadline for a response head, and for each body read (default 60 s). */
        public Builder responseTimeout(Duration d) {
            this.responseTimeout = Checks.socketTimeout(d);
            return this;
        }

        /** Idle connections kept per host and port (default 5). */
        public Builder maxIdlePerHost(int n) {
            this.maxIdlePerHost = Checks.nonNegative(n, "maxIdlePerHost");
            return this;
        }

        /** Clock for the session TTL and idle timeout. */
        public Builder clock(Clock c) {
            this.clock = Objects.requireNonNull(c);
            return this;
        }

        public AtlsHttpClient build() {
            if (policies.isEmpty() && !allowUnattested) {
                throw new IllegalStateException("no host policy: add policy(host, connector)");
            }
            return new AtlsHttpClient(this);
        }
    }
}
