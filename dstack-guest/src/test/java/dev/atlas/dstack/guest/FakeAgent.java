package dev.atlas.dstack.guest;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/**
 * An in-test guest agent on a Unix socket or loopback TCP port 0: reads one request (head + Content-Length
 * body), records its exact bytes, and writes what {@code handler} returns for it, then closes. A handler may
 * also sleep (slow agent) or return anything (hostile agent).
 */
final class FakeAgent implements AutoCloseable {
    /** What the handler writes: raw bytes, optionally dripped with a delay per chunk. */
    record Reply(byte[] bytes, long delayMillisPerChunk, int chunk) {
        static Reply json(int status, String body) {
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            String head = "HTTP/1.1 " + status + " X\r\nContent-Type: application/json\r\nContent-Length: "
                    + b.length + "\r\nConnection: close\r\n\r\n";
            return raw(concat(head.getBytes(StandardCharsets.US_ASCII), b));
        }

        static Reply raw(byte[] b) {
            return new Reply(b, 0, Integer.MAX_VALUE);
        }

        static Reply raw(String s) {
            return raw(s.getBytes(StandardCharsets.UTF_8));
        }

        Reply drip(long delay, int chunk) {
            return new Reply(bytes, delay, chunk);
        }
    }

    final List<String> requests = new CopyOnWriteArrayList<>();
    private final ServerSocketChannel server;
    private final Function<String, Reply> handler;
    private final String endpoint;
    private final Thread thread;
    private Path socket;

    private FakeAgent(ServerSocketChannel server, String endpoint, Function<String, Reply> handler) {
        this.server = server;
        this.endpoint = endpoint;
        this.handler = handler;
        this.thread = new Thread(this::loop, "fake-agent");
        thread.setDaemon(true);
        thread.start();
    }

    static FakeAgent unix(Path socket, Function<String, Reply> handler) throws IOException {
        ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        s.bind(UnixDomainSocketAddress.of(socket));
        FakeAgent a = new FakeAgent(s, socket.toString(), handler);
        a.socket = socket;
        return a;
    }

    static FakeAgent tcp(Function<String, Reply> handler) throws IOException {
        ServerSocketChannel s = ServerSocketChannel.open();
        s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        int port = ((InetSocketAddress) s.getLocalAddress()).getPort();
        return new FakeAgent(s, "http://127.0.0.1:" + port, handler);
    }

    String endpoint() {
        return endpoint;
    }

    private void loop() {
        while (server.isOpen()) {
            try (SocketChannel c = server.accept()) {
                String req = readRequest(c);
                requests.add(req);
                Reply r = handler.apply(req);
                ByteBuffer out = ByteBuffer.wrap(r.bytes());
                while (out.hasRemaining()) {
                    int n = Math.min(r.chunk(), out.remaining());
                    ByteBuffer part = out.slice();
                    part.limit(n);
                    while (part.hasRemaining()) {
                        c.write(part);
                    }
                    out.position(out.position() + n);
                    if (r.delayMillisPerChunk() > 0) {
                        Thread.sleep(r.delayMillisPerChunk());
                    }
                }
            } catch (IOException | InterruptedException e) {
                // client gave up or agent closed
            }
        }
    }

    private static String readRequest(SocketChannel c) throws IOException {
        ByteArrayOutputStream acc = new ByteArrayOutputStream();
        ByteBuffer b = ByteBuffer.allocate(4096);
        int need = -1;
        while (true) {
            String s = acc.toString(StandardCharsets.UTF_8);
            int end = s.indexOf("\r\n\r\n");
            if (end >= 0 && need < 0) {
                int cl = s.toLowerCase().indexOf("content-length: ");
                int len = cl < 0 ? 0 : Integer.parseInt(s.substring(cl + 16, s.indexOf("\r\n", cl)));
                need = end + 4 + len;
            }
            if (need >= 0 && acc.size() >= need) {
                return s;
            }
            b.clear();
            if (c.read(b) < 0) {
                return s;
            }
            acc.write(b.array(), 0, b.position());
        }
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] o = new byte[a.length + b.length];
        System.arraycopy(a, 0, o, 0, a.length);
        System.arraycopy(b, 0, o, a.length, b.length);
        return o;
    }

    @Override
    public void close() throws IOException {
        server.close();
        thread.interrupt();
        if (socket != null) {
            java.nio.file.Files.deleteIfExists(socket);
        }
    }
}
