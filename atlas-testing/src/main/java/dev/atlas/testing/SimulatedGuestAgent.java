package dev.atlas.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The dstack guest agent's HTTP API ({@code DstackGuest}, mounted at {@code /}) in front of a
 * {@link SimulatedCvm}, on a Unix socket (as {@code /var/run/dstack.sock}) or on a loopback TCP port (as
 * {@code DSTACK_SIMULATOR_ENDPOINT=http://…}).
 *
 * <ul>
 *   <li>{@code POST /GetQuote {"report_data":"<hex, ≤ 64 bytes>"}} →
 *       {@code {"quote","event_log","report_data","vm_config"}} (event log and VM config as JSON strings);</li>
 *   <li>{@code POST /Info} → {@code app_id}, {@code instance_id}, {@code tcb_info} (a JSON string, pretty as
 *       dstack sends it), {@code app_name}, {@code compose_hash}, {@code os_image_hash}, {@code vm_config};</li>
 *   <li>{@code POST /EmitEvent {"event","payload":"<hex>"}} → {@code {}}: the removed-but-still-deployed API of
 *       dstack ≤ 0.5.x; {@link Builder#withoutEmitEvent()} answers 404 as current dstack does;</li>
 *   <li>{@code GET|POST /Version}.</li>
 * </ul>
 * Errors are answered with a 4xx/5xx status and a JSON {@code {"error": …}} body. One request per connection
 * ({@code Connection: close}); request heads over 16 KiB and bodies over 1 MiB are refused.
 */
public final class SimulatedGuestAgent implements AutoCloseable {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final HexFormat HEX = HexFormat.of();
    private static final int MAX_HEAD = 16 * 1024;
    private static final int MAX_BODY = 1 << 20;

    private final SimulatedCvm cvm;
    private final boolean emitEvent;
    private final ServerSocketChannel channel;
    private final Path socketPath;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
    private final Thread acceptor;
    private volatile boolean closed;

    private SimulatedGuestAgent(Builder b) throws IOException {
        this.cvm = b.cvm;
        this.emitEvent = b.emitEvent;
        if (b.socket != null) {
            Files.deleteIfExists(b.socket);
            this.channel = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            channel.bind(UnixDomainSocketAddress.of(b.socket));
            this.socketPath = b.socket;
        } else {
            this.channel = ServerSocketChannel.open();
            channel.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            this.socketPath = null;
        }
        this.acceptor = Thread.ofPlatform().daemon().name("simulated-guest-agent").start(this::acceptLoop);
    }

    /** A builder serving {@code cvm}. */
    public static Builder builder(SimulatedCvm cvm) {
        return new Builder(cvm);
    }

    /** The Unix socket path, or null on TCP. */
    public Path socketPath() {
        return socketPath;
    }

    /** The endpoint in {@code DSTACK_SIMULATOR_ENDPOINT} form: the socket path, or {@code http://127.0.0.1:port}. */
    public String endpoint() {
        if (socketPath != null) {
            return socketPath.toString();
        }
        try {
            return "http://127.0.0.1:" + ((InetSocketAddress) channel.getLocalAddress()).getPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Calls of one method so far (e.g. {@code GetQuote}). */
    public int callCount(String method) {
        AtomicInteger n = calls.get(method);
        return n == null ? 0 : n.get();
    }

    @Override
    public void close() {
        closed = true;
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        executor.shutdownNow();
        if (socketPath != null) {
            try {
                Files.deleteIfExists(socketPath);
            } catch (IOException ignored) {
                // best effort
            }
        }
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                SocketChannel c = channel.accept();
                executor.execute(() -> serve(c));
            } catch (IOException | java.util.concurrent.RejectedExecutionException e) {
                if (!closed) {
                    continue;
                }
                return;
            }
        }
    }

    private void serve(SocketChannel c) {
        try (c) {
            Request r = readRequest(c);
            if (r == null) {
                return;
            }
            Response resp;
            try {
                resp = dispatch(r);
            } catch (IllegalArgumentException e) {
                resp = error(400, e.getMessage());
            } catch (RuntimeException e) {
                resp = error(500, "internal error: " + e);
            }
            write(c, resp);
        } catch (IOException ignored) {
            // client went away
        }
    }

    private record Request(String method, String path, byte[] body) {}

    private record Response(int status, String reason, byte[] body) {}

    private Response dispatch(Request r) throws IOException {
        String name = r.path.startsWith("/") ? r.path.substring(1) : r.path;
        int q = name.indexOf('?');
        if (q >= 0) {
            name = name.substring(0, q);
        }
        calls.computeIfAbsent(name, k -> new AtomicInteger()).incrementAndGet();
        JsonNode body = r.body.length == 0 ? MAPPER.createObjectNode() : parse(r.body);
        switch (name) {
            case "Version":
                return json(200, "{\"version\":\"atlas-simulated-0.5.4\",\"rev\":\"simulated\"}");
            case "GetQuote": {
                requirePost(r);
                String hex = text(body, "report_data");
                byte[] reportData = parseHex(hex, "report_data");
                return json(200, cvm.getQuote(reportData).json());
            }
            case "Info": {
                ObjectNode o = MAPPER.createObjectNode();
                String tcbInfo = MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(
                        MAPPER.readTree(cvm.tcbInfoJson()));
                JsonNode ti = MAPPER.readTree(tcbInfo);
                o.put("app_id", cvm.appId());
                o.put("instance_id", "");
                o.put("app_cert", "");
                o.put("tcb_info", tcbInfo);
                o.put("app_name", "atlas-simulated-app");
                o.put("device_id", ti.path("device_id").asText());
                o.put("mr_aggregated", ti.path("mr_aggregated").asText());
                o.put("os_image_hash", ti.path("os_image_hash").asText());
                o.put("key_provider_info", "");
                o.put("compose_hash", ti.path("compose_hash").asText());
                o.put("vm_config", cvm.vmConfig());
                return json(200, o.toString());
            }
            case "EmitEvent": {
                if (!emitEvent) {
                    return error(404, "method not found: EmitEvent");
                }
                requirePost(r);
                String event = text(body, "event");
                byte[] payload = parseHex(text(body, "payload"), "payload");
                cvm.emitEvent(event, payload);
                return json(200, "{}");
            }
            default:
                return error(404, "method not found: " + name);
        }
    }

    private static void requirePost(Request r) {
        if (!"POST".equals(r.method)) {
            throw new IllegalArgumentException("use POST");
        }
    }

    private static JsonNode parse(byte[] body) {
        try {
            JsonNode n = MAPPER.readTree(body);
            if (n == null || !n.isObject()) {
                throw new IllegalArgumentException("request body must be a JSON object");
            }
            return n;
        } catch (IOException e) {
            throw new IllegalArgumentException("request body is not JSON");
        }
    }

    private static String text(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (v == null || !v.isTextual()) {
            throw new IllegalArgumentException("missing field " + field);
        }
        return v.asText();
    }

    private static byte[] parseHex(String s, String field) {
        try {
            return HEX.parseHex(s);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("invalid hex in " + field);
        }
    }

    private static Response json(int status, String text) {
        return new Response(status, status == 200 ? "OK" : "Error", text.getBytes(StandardCharsets.UTF_8));
    }

    private static Response error(int status, String msg) {
        ObjectNode o = MAPPER.createObjectNode();
        o.put("error", msg);
        return new Response(status, status == 404 ? "Not Found" : status == 400 ? "Bad Request" : "Error",
                o.toString().getBytes(StandardCharsets.UTF_8));
    }

    private static void write(SocketChannel c, Response r) throws IOException {
        String head = "HTTP/1.1 " + r.status + " " + r.reason + "\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + r.body.length + "\r\nConnection: close\r\n\r\n";
        ByteBuffer b = ByteBuffer.allocate(head.length() + r.body.length);
        b.put(head.getBytes(StandardCharsets.US_ASCII)).put(r.body).flip();
        while (b.hasRemaining()) {
            c.write(b);
        }
    }

    /** Reads one request (Content-Length bodies only); null when the client sent nothing usable. */
    private static Request readRequest(SocketChannel c) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        ByteBuffer chunk = ByteBuffer.allocate(8192);
        int headEnd = -1;
        while (headEnd < 0) {
            chunk.clear();
            int n = c.read(chunk);
            if (n < 0) {
                return null;
            }
            buf.write(chunk.array(), 0, n);
            headEnd = indexOf(buf.toByteArray(), "\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            if (headEnd < 0 && buf.size() > MAX_HEAD) {
                return null;
            }
        }
        byte[] all = buf.toByteArray();
        String[] lines = new String(all, 0, headEnd, StandardCharsets.ISO_8859_1).split("\r\n");
        String[] start = lines[0].split(" ");
        if (start.length != 3) {
            return null;
        }
        long length = 0;
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon > 0 && lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT).equals("content-length")) {
                length = Long.parseLong(lines[i].substring(colon + 1).trim());
            }
        }
        if (length < 0 || length > MAX_BODY) {
            return null;
        }
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.write(all, headEnd + 4, Math.min(all.length - headEnd - 4, (int) length));
        while (body.size() < length) {
            chunk.clear();
            int n = c.read(chunk);
            if (n < 0) {
                return null;
            }
            body.write(chunk.array(), 0, Math.min(n, (int) length - body.size()));
        }
        return new Request(start[0], start[1], body.toByteArray());
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    /** Builder: a Unix socket path or loopback TCP, with or without {@code EmitEvent}. */
    public static final class Builder {
        private final SimulatedCvm cvm;
        private Path socket;
        private boolean emitEvent = true;

        private Builder(SimulatedCvm cvm) {
            this.cvm = Objects.requireNonNull(cvm);
        }

        /** Listen on this Unix socket path (an existing file there is replaced). */
        public Builder unixSocket(Path path) {
            this.socket = Objects.requireNonNull(path);
            return this;
        }

        /** Answer {@code EmitEvent} with 404, as current dstack (the API was removed) does. */
        public Builder withoutEmitEvent() {
            this.emitEvent = false;
            return this;
        }

        /** Starts the agent (Unix socket if one was set, else an ephemeral loopback TCP port). */
        public SimulatedGuestAgent start() {
            try {
                return new SimulatedGuestAgent(this);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot start the simulated guest agent", e);
            }
        }
    }
}
