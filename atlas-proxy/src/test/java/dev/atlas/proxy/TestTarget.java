package dev.atlas.proxy;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.CopyOnWriteArrayList;

/** A TCP target on 127.0.0.1 that runs a handler per connection on a virtual thread. */
final class TestTarget implements AutoCloseable {
    interface Handler {
        void handle(Socket s) throws IOException;
    }

    final ServerSocket server;
    final CopyOnWriteArrayList<Socket> accepted = new CopyOnWriteArrayList<>();

    TestTarget(Handler h) throws IOException {
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
                            // the test decides what matters
                        }
                    });
                } catch (IOException e) {
                    return;
                }
            }
        });
    }

    static TestTarget echo() throws IOException {
        return new TestTarget(s -> {
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            byte[] buf = new byte[65536];
            for (int n; (n = in.read(buf)) > 0; ) {
                out.write(buf, 0, n);
            }
            s.shutdownOutput();
        });
    }

    int port() {
        return server.getLocalPort();
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (Socket s : accepted) {
            s.close();
        }
    }
}
