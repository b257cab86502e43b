package dev.atlas.dstack.vmm.internal;

import java.io.IOException;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** A stand-in host API for tests: a Unix socket that answers every POST with {@code {}} and records the bodies. */
final class NotifySink implements AutoCloseable {
    record Note(String path, String body) {
    }

    private final ServerSocketChannel server;
    private final Path socket;
    private final LinkedBlockingQueue<Note> notes = new LinkedBlockingQueue<>();
    private final List<Note> all = new ArrayList<>();

    NotifySink(Path socket) throws IOException {
        Files.deleteIfExists(socket);
        this.socket = socket;
        this.server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
        Thread.ofVirtual().start(this::loop);
    }

    Path socket() {
        return socket;
    }

    private void loop() {
        while (server.isOpen()) {
            try {
                SocketChannel c = server.accept();
                Thread.ofVirtual().start(() -> serve(c));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(SocketChannel c) {
        try (c) {
            InputStream in = Channels.newInputStream(c);
            StringBuilder head = new StringBuilder();
            while (!head.toString().endsWith("\r\n\r\n")) {
                int b = in.read();
                if (b < 0) {
                    return;
                }
                head.append((char) b);
            }
            String h = head.toString();
            String path = h.substring(h.indexOf(' ') + 1, h.indexOf(' ', h.indexOf(' ') + 1));
            int len = 0;
            for (String line : h.split("\r\n")) {
                if (line.toLowerCase().startsWith("content-length:")) {
                    len = Integer.parseInt(line.substring(15).trim());
                }
            }
            String body = new String(in.readNBytes(len), StandardCharsets.UTF_8);
            Note n = new Note(path, body);
            synchronized (all) {
                all.add(n);
            }
            notes.add(n);
            c.write(ByteBuffer.wrap("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
                    .getBytes(StandardCharsets.US_ASCII)));
        } catch (IOException ignored) {
            // client went away
        }
    }

    /** Waits for the next note whose body contains {@code text}. */
    Note await(String text, Duration timeout) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (true) {
            long left = end - System.nanoTime();
            Note n = notes.poll(Math.max(0, left), TimeUnit.NANOSECONDS);
            if (n == null) {
                throw new AssertionError("no notification containing '" + text + "' within " + timeout + "; got "
                        + all());
            }
            if (n.body().contains(text)) {
                return n;
            }
        }
    }

    List<Note> all() {
        synchronized (all) {
            return List.copyOf(all);
        }
    }

    void clear() {
        notes.clear();
        synchronized (all) {
            all.clear();
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        Files.deleteIfExists(socket);
    }
}
