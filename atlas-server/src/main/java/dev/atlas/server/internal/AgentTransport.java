package dev.atlas.server.internal;

import dev.atlas.protocol.Http1ResponseReader;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.UnixDomainSocketAddress;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/** How the guest-agent provider reaches the agent: HTTP/1.1 over a Unix socket, or an http(s) URL. */
public interface AgentTransport {
    /** Status and body of one call. */
    record Reply(int status, byte[] body) {
        public String text() {
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    /** {@code POST /<method>} with a JSON body. */
    Reply post(String method, byte[] json) throws IOException;

    /** A transport for {@code endpoint}: {@code http(s)://…}, {@code unix:/path}, or a socket path. */
    static AgentTransport of(String endpoint, Duration timeout, int maxResponseBytes) {
        if (endpoint.startsWith("http://") || endpoint.startsWith("https://")) {
            return new Url(URI.create(endpoint.endsWith("/") ? endpoint : endpoint + "/"), timeout, maxResponseBytes);
        }
        String path = endpoint.startsWith("unix:") ? endpoint.substring(5) : endpoint;
        if (path.isEmpty()) {
            throw new IllegalArgumentException("empty agent socket path");
        }
        return new Unix(Path.of(path), timeout, maxResponseBytes);
    }

    /** HTTP/1.1 over a Unix socket, one request per connection, with a deadline on the whole exchange. */
    final class Unix implements AgentTransport {
        private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "atlas-agent-deadline");
            t.setDaemon(true);
            return t;
        });
        private final Path socket;
        private final Duration timeout;
        private final int maxResponseBytes;

        Unix(Path socket, Duration timeout, int maxResponseBytes) {
            this.socket = socket;
            this.timeout = timeout;
            this.maxResponseBytes = maxResponseBytes;
        }

        @Override
        public Reply post(String method, byte[] json) throws IOException {
            AtomicBoolean timedOut = new AtomicBoolean();
            try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
                ScheduledFuture<?> deadline = TIMER.schedule(() -> {
                    timedOut.set(true);
                    try {
                        ch.close();
                    } catch (IOException ignored) {
                        // the reader sees the close
                    }
                }, timeout.toMillis(), TimeUnit.MILLISECONDS);
                try {
                    String head = "POST /" + method + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                            + "Content-Length: " + json.length + "\r\nConnection: close\r\n\r\n";
                    ByteBuffer out = ByteBuffer.allocate(head.length() + json.length);
                    out.put(head.getBytes(StandardCharsets.US_ASCII)).put(json).flip();
                    while (out.hasRemaining()) {
                        ch.write(out);
                    }
                    ByteArrayOutputStream in = new ByteArrayOutputStream();
                    ByteBuffer buf = ByteBuffer.allocate(16 * 1024);
                    int limit = maxResponseBytes + Http1ResponseReader.MAX_HEAD_BYTES;
                    while (true) {
                        buf.clear();
                        int n = ch.read(buf);
                        if (n < 0) {
                            break;
                        }
                        in.write(buf.array(), 0, n);
                        if (in.size() > limit) {
                            throw new IOException("guest agent response exceeds " + limit + " bytes");
                        }
                    }
                    Http1ResponseReader.Response r;
                    try {
                        r = Http1ResponseReader.parseClosed(in.toByteArray(), maxResponseBytes);
                    } catch (IllegalArgumentException e) {
                        throw new IOException("malformed guest agent response: " + e.getMessage(), e);
                    }
                    return new Reply(r.status(), r.body());
                } finally {
                    deadline.cancel(false);
                }
            } catch (IOException e) {
                if (timedOut.get()) {
                    throw new IOException("guest agent at " + socket + " did not answer " + method + " within "
                            + timeout.toMillis() + " ms", e);
                }
                throw e;
            }
        }

        @Override
        public String toString() {
            return "unix:" + socket;
        }
    }

    /** The agent (or dstack's simulator) at an http(s) URL. */
    final class Url implements AgentTransport {
        private final URI base;
        private final Duration timeout;
        private final int maxResponseBytes;
        private final HttpClient client;

        Url(URI base, Duration timeout, int maxResponseBytes) {
            this.base = base;
            this.timeout = timeout;
            this.maxResponseBytes = maxResponseBytes;
            this.client = HttpClient.newBuilder().connectTimeout(timeout).version(HttpClient.Version.HTTP_1_1)
                    .followRedirects(HttpClient.Redirect.NEVER).build();
        }

        @Override
        public Reply post(String method, byte[] json) throws IOException {
            HttpRequest req = HttpRequest.newBuilder(base.resolve(method)).timeout(timeout)
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(json)).build();
            try {
                HttpResponse<java.io.InputStream> r = client.send(req, HttpResponse.BodyHandlers.ofInputStream());
                try (java.io.InputStream in = r.body()) {
                    byte[] body = in.readNBytes(maxResponseBytes + 1);
                    if (body.length > maxResponseBytes) {
                        throw new IOException("guest agent response exceeds " + maxResponseBytes + " bytes");
                    }
                    return new Reply(r.statusCode(), body);
                }
            } catch (HttpTimeoutException e) {
                throw new IOException("guest agent at " + base + " did not answer " + method + " within "
                        + timeout.toMillis() + " ms", e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while calling the guest agent", e);
            }
        }

        @Override
        public String toString() {
            return base.toString();
        }
    }
}
