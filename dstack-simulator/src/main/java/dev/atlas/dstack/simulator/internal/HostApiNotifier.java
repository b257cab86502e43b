package dev.atlas.dstack.simulator.internal;

import java.io.IOException;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The guest side of the VMM's host API ({@code host_api.proto}, {@code dstack-util/src/host_api.rs}
 * {@code notify}): {@code POST /api/Notify} with pRPC JSON {@code {"event":..,"payload":..}}. dstack's guests
 * reach the host API over vsock ({@code vsock://2:<port>/api}); a simulated guest uses the VMM's per-VM Unix
 * socket. As dstack's {@code notify_q}, a failed notification is logged and otherwise ignored: the host's view
 * of the boot must never stop the boot.
 */
public final class HostApiNotifier {
    /** dstack-util's host API timeout is 30 s; a local Unix socket needs far less. */
    static final Duration TIMEOUT = Duration.ofSeconds(5);
    private static final int MAX_RESPONSE = 64 * 1024;

    private final Optional<Path> socket;
    private final PrintStream log;

    public HostApiNotifier(Optional<Path> socket, PrintStream log) {
        this.socket = socket;
        this.log = log;
    }

    /** Posts one notification; returns whether the host answered 2xx. */
    public boolean notify(String event, String payload) {
        if (socket.isEmpty()) {
            return false;
        }
        String body = "{\"event\":" + quote(event) + ",\"payload\":" + quote(payload) + "}";
        try (var ex = Executors.newVirtualThreadPerTaskExecutor()) {
            Future<Integer> f = ex.submit(() -> post("/api/Notify", body));
            int status;
            try {
                status = f.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                f.cancel(true);
                log.println("[dstack-simulator] host API " + socket.get() + ": Notify " + event + " timed out after "
                        + TIMEOUT.toSeconds() + " s");
                return false;
            }
            if (status / 100 != 2) {
                log.println("[dstack-simulator] host API " + socket.get() + ": Notify " + event + " answered HTTP "
                        + status);
                return false;
            }
            return true;
        } catch (ExecutionException e) {
            log.println("[dstack-simulator] host API " + socket.get() + ": Notify " + event + " failed: "
                    + e.getCause().getMessage());
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private int post(String path, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        String head = "POST " + path + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + b.length + "\r\nConnection: close\r\n\r\n";
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket.get()));
            ByteBuffer out = ByteBuffer.allocate(head.length() + b.length);
            out.put(head.getBytes(StandardCharsets.US_ASCII)).put(b).flip();
            while (out.hasRemaining()) {
                ch.write(out);
            }
            ByteBuffer in = ByteBuffer.allocate(MAX_RESPONSE);
            while (in.hasRemaining() && ch.read(in) >= 0) {
                if (statusLineComplete(in)) {
                    break;
                }
            }
            String resp = new String(in.array(), 0, in.position(), StandardCharsets.ISO_8859_1);
            int eol = resp.indexOf("\r\n");
            if (eol < 0 || !resp.startsWith("HTTP/1.")) {
                throw new IOException("not an HTTP/1.x response");
            }
            String[] parts = resp.substring(0, eol).split(" ", 3);
            try {
                return Integer.parseInt(parts[1]);
            } catch (RuntimeException e) {
                throw new IOException("bad HTTP status line");
            }
        }
    }

    private static boolean statusLineComplete(ByteBuffer in) {
        String s = new String(in.array(), 0, in.position(), StandardCharsets.ISO_8859_1);
        return s.contains("\r\n\r\n");
    }

    /** A JSON string literal. */
    static String quote(String s) {
        StringBuilder sb = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }
}
