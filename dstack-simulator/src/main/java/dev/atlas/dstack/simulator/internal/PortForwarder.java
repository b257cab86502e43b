package dev.atlas.dstack.simulator.internal;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One host port of a simulated CVM (QEMU's {@code hostfwd=tcp:<addr>:<host_port>-:<vm_port>} in user-mode
 * networking, {@code vmm/src/app/qemu.rs}): accepts on the host address and relays each connection, both ways,
 * to the VM address and port, on virtual threads. A connection the VM side refuses is closed at once, as QEMU's
 * slirp does.
 */
public final class PortForwarder implements AutoCloseable {
    private final ServerSocketChannel server;
    private final InetSocketAddress target;
    private final PrintStream log;
    private final Set<SocketChannel> open = ConcurrentHashMap.newKeySet();
    private final Thread acceptor;
    private volatile boolean closed;

    private PortForwarder(ServerSocketChannel server, InetSocketAddress target, PrintStream log) {
        this.server = server;
        this.target = target;
        this.log = log;
        this.acceptor = Thread.ofVirtual().name("hostfwd-" + target.getPort()).start(this::acceptLoop);
    }

    public static PortForwarder start(InetSocketAddress listen, InetSocketAddress target, PrintStream log)
            throws IOException {
        ServerSocketChannel s = ServerSocketChannel.open();
        try {
            s.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            s.bind(listen, 128);
        } catch (IOException e) {
            s.close();
            throw new IOException("cannot bind host port " + listen + " (forwarded to " + target + "): "
                    + e.getMessage(), e);
        }
        return new PortForwarder(s, target, log);
    }

    public InetSocketAddress localAddress() {
        try {
            return (InetSocketAddress) server.getLocalAddress();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private void acceptLoop() {
        while (!closed) {
            SocketChannel c;
            try {
                c = server.accept();
            } catch (IOException e) {
                if (!closed) {
                    log.println("[dstack-simulator] hostfwd " + target.getPort() + ": accept failed: " + e.getMessage());
                }
                return;
            }
            Thread.ofVirtual().start(() -> relay(c));
        }
    }

    private void relay(SocketChannel client) {
        open.add(client);
        SocketChannel vm;
        try {
            vm = SocketChannel.open(target);
            vm.setOption(StandardSocketOptions.TCP_NODELAY, true);
            client.setOption(StandardSocketOptions.TCP_NODELAY, true);
        } catch (IOException e) {
            closeQuietly(client);
            open.remove(client);
            return;
        }
        open.add(vm);
        Thread up = Thread.ofVirtual().start(() -> pump(client, vm));
        pump(vm, client);
        try {
            up.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        closeQuietly(client);
        closeQuietly(vm);
        open.remove(client);
        open.remove(vm);
    }

    private static void pump(SocketChannel from, SocketChannel to) {
        ByteBuffer buf = ByteBuffer.allocate(16 * 1024);
        try {
            while (from.read(buf) >= 0) {
                buf.flip();
                while (buf.hasRemaining()) {
                    to.write(buf);
                }
                buf.clear();
            }
            to.shutdownOutput();
        } catch (IOException e) {
            closeQuietly(from);
            closeQuietly(to);
        }
    }

    private static void closeQuietly(SocketChannel c) {
        try {
            c.close();
        } catch (IOException ignored) {
            // closing
        }
    }

    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // closing
        }
        for (SocketChannel c : open) {
            closeQuietly(c);
        }
        acceptor.interrupt();
    }
}
