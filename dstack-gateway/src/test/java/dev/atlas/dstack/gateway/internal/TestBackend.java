package dev.atlas.dstack.gateway.internal;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Plain TCP backends on 127.0.0.1 for the proxy tests: echo, HTTP/1.1, stall, reset. */
final class TestBackend implements AutoCloseable {
    interface Handler {
        void handle(Socket s) throws IOException;
    }

    private final ServerSocket server;
    private final List<Socket> accepted = new CopyOnWriteArrayList<>();

    TestBackend(Handler h) throws IOException {
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread.ofVirtual().start(() -> {
            while (!server.isClosed()) {
                try {
                    Socket s = server.accept();
                    accepted.add(s);
                    Thread.ofVirtual().start(() -> {
                        try (s) {
                            h.handle(s);
                        } catch (IOException ignored) {
                            // the peer went away
                        }
                    });
                } catch (IOException e) {
                    return;
                }
            }
        });
    }

    InetSocketAddress address() {
        return (InetSocketAddress) server.getLocalSocketAddress();
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (Socket s : accepted) {
            s.close();
        }
    }

    static TestBackend echo() throws IOException {
        return new TestBackend(s -> s.getInputStream().transferTo(s.getOutputStream()));
    }

    /** Answers one HTTP/1.1 request with {@code <name> <request line>} and closes. */
    static TestBackend http(String name) throws IOException {
        return new TestBackend(s -> {
            String head = readHead(s.getInputStream());
            String line = head.substring(0, head.indexOf("\r\n"));
            byte[] body = (name + " " + line).getBytes(StandardCharsets.UTF_8);
            OutputStream o = s.getOutputStream();
            o.write(("HTTP/1.1 200 OK\r\nContent-Length: " + body.length + "\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            o.write(body);
            o.flush();
        });
    }

    /** Accepts and then neither reads nor writes until closed. */
    static TestBackend stall() throws IOException {
        return new TestBackend(s -> {
            try {
                new java.util.concurrent.CountDownLatch(1).await(); // parked for good (a virtual thread)
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }

    /** Accepts and resets at once. */
    static TestBackend reset() throws IOException {
        return new TestBackend(s -> {
            s.setSoLinger(true, 0);
            s.close();
        });
    }

    static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int c;
        while ((c = in.read()) >= 0) {
            b.write(c);
            byte[] x = b.toByteArray();
            int n = x.length;
            if (n >= 4 && x[n - 4] == '\r' && x[n - 3] == '\n' && x[n - 2] == '\r' && x[n - 1] == '\n') {
                break;
            }
            if (n > 16384) {
                throw new IOException("header too long");
            }
        }
        return b.toString(StandardCharsets.ISO_8859_1);
    }
}
