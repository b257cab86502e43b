package dev.atlas.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BiFunction;

/**
 * A guest agent for the CLI tests on a Unix socket: reads one request (head and Content-Length body), hands
 * the method name and the JSON body to {@code handler}, writes its {@link Reply}, closes. The dstack-guest
 * tests' FakeAgent pattern, kept small.
 */
final class FakeGuestAgent implements AutoCloseable {
    record Reply(int status, String body) {
        static Reply ok(String body) {
            return new Reply(200, body);
        }
    }

    final List<String> methods = new CopyOnWriteArrayList<>();
    final List<String> bodies = new CopyOnWriteArrayList<>();
    private final ServerSocketChannel server;
    private final BiFunction<String, String, Reply> handler;
    private final Path socket;

    private FakeGuestAgent(ServerSocketChannel server, Path socket, BiFunction<String, String, Reply> handler) {
        this.server = server;
        this.socket = socket;
        this.handler = handler;
        Thread t = new Thread(this::loop, "fake-guest-agent");
        t.setDaemon(true);
        t.start();
    }

    static FakeGuestAgent start(Path socket, BiFunction<String, String, Reply> handler) throws IOException {
        ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        s.bind(UnixDomainSocketAddress.of(socket));
        return new FakeGuestAgent(s, socket, handler);
    }

    String endpoint() {
        return socket.toString();
    }

    private void loop() {
        while (server.isOpen()) {
            try (SocketChannel c = server.accept()) {
                String[] req = read(c);
                methods.add(req[0]);
                bodies.add(req[1]);
                Reply r;
                try {
                    r = handler.apply(req[0], req[1]);
                } catch (RuntimeException e) {
                    r = new Reply(500, "{}");
                }
                byte[] b = r.body().getBytes(StandardCharsets.UTF_8);
                String head = "HTTP/1.1 " + r.status() + " X\r\nContent-Type: application/json\r\nContent-Length: "
                        + b.length + "\r\nConnection: close\r\n\r\n";
                c.write(ByteBuffer.wrap(head.getBytes(StandardCharsets.US_ASCII)));
                c.write(ByteBuffer.wrap(b));
            } catch (IOException e) {
                if (!server.isOpen()) {
                    return;
                }
            }
        }
    }

    /** {method, body} of one request. */
    private static String[] read(SocketChannel c) throws IOException {
        ByteArrayOutputStream acc = new ByteArrayOutputStream();
        ByteBuffer buf = ByteBuffer.allocate(8192);
        int headEnd = -1;
        int length = 0;
        while (true) {
            buf.clear();
            int n = c.read(buf);
            if (n < 0) {
                break;
            }
            acc.write(buf.array(), 0, n);
            String s = acc.toString(StandardCharsets.ISO_8859_1);
            if (headEnd < 0 && (headEnd = s.indexOf("\r\n\r\n")) >= 0) {
                for (String line : s.substring(0, headEnd).split("\r\n")) {
                    if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
                        length = Integer.parseInt(line.substring(15).strip());
                    }
                }
            }
            if (headEnd >= 0 && acc.size() >= headEnd + 4 + length) {
                break;
            }
        }
        String s = acc.toString(StandardCharsets.UTF_8);
        String first = s.substring(0, Math.max(0, s.indexOf("\r\n")));
        String[] parts = first.split(" ");
        String method = parts.length > 1 ? parts[1].substring(parts[1].lastIndexOf('/') + 1) : "";
        String body = headEnd >= 0 ? s.substring(Math.min(s.length(), headEnd + 4)) : "";
        return new String[] {method, body};
    }

    @Override
    public void close() throws IOException {
        server.close();
        Files.deleteIfExists(socket);
    }
}
