package dev.atlas.proxy;

import dev.atlas.proxy.internal.AtlsProxyChannels;
import dev.atlas.proxy.internal.JsonLogListener;
import dev.atlas.proxy.internal.MetricsListener;
import dev.atlas.proxy.internal.PemTls;
import dev.atlas.proxy.internal.ProxyRuntime;
import dev.atlas.proxy.internal.SafeProxyListener;
import dev.atlas.proxy.internal.Transport;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The WebSocket-to-TCP proxy for browser aTLS clients. A client opens a WebSocket (any path, optional
 * {@code ?target=host:port}); the proxy checks it (see {@link RejectReason} for the order), resolves the target
 * once, connects to that address, answers 101 and then moves bytes both ways: every Binary or Text frame's
 * payload to the target, every target read to the client as one Binary frame. It never terminates the tunnelled
 * TLS, so it never sees plaintext.
 *
 * <pre>{@code
 * try (AtlsProxy p = AtlsProxy.builder(ProxyConfigReader.load(System.getenv(), null, Map.of())).build().start()) {
 *     p.awaitShutdownSignal(); // or p.shutdown() from a hook
 * }
 * }</pre>
 */
public final class AtlsProxy implements AutoCloseable {
    private final ProxyConfig config;
    private final ProxyRuntime rt;
    private final List<ProxyListener> listeners;
    private final ExecutorService resolveExecutor;
    private EventLoopGroup boss;
    private EventLoopGroup workers;
    private Channel main;
    private Channel admin;
    private volatile boolean stopped;

    private AtlsProxy(Builder b) {
        this.config = b.config;
        this.resolveExecutor = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("atls-proxy-dns-", 0).factory());
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
        List<ProxyListener> all = new ArrayList<>();
        if (b.log != null) {
            all.add(new JsonLogListener(b.log, b.clock));
        }
        all.addAll(b.listeners);
        this.listeners = List.copyOf(all);
        ProxyRuntime[] holder = new ProxyRuntime[1];
        MetricsListener metrics = new MetricsListener(registry, () -> holder[0].openTunnels());
        List<ProxyListener> withMetrics = new ArrayList<>(listeners);
        withMetrics.add(0, metrics);
        ProxyListener fanout = fanOut(withMetrics);
        this.rt = new ProxyRuntime(config, fanout, b.resolver, resolveExecutor, registry, b.clock);
        holder[0] = rt;
    }

    private static ProxyListener fanOut(List<ProxyListener> ls) {
        return new SafeProxyListener(ls);
    }

    /** A builder for the given configuration. */
    public static Builder builder(ProxyConfig config) {
        return new Builder(config);
    }

    /**
     * Binds the listener(s) and starts accepting.
     *
     * @throws IOException when a port cannot be bound or the TLS files cannot be read
     */
    public AtlsProxy start() throws IOException {
        SslContext ssl = sslContext(config);
        int threads = config.workerThreads() == 0 ? Runtime.getRuntime().availableProcessors() : config.workerThreads();
        boss = new MultiThreadIoEventLoopGroup(1, Transport.ioHandler());
        workers = new MultiThreadIoEventLoopGroup(threads, Transport.ioHandler());
        boolean separateAdmin = config.adminListen().isPresent();
        try {
            main = bind(config.listen(), new AtlsProxyChannels(rt, ssl, !separateAdmin, true));
            if (separateAdmin) {
                admin = bind(config.adminListen().get(), new AtlsProxyChannels(rt, null, true, false));
            }
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
        rt.setReady();
        rt.listener.started(address(main), admin == null ? null : address(admin), config);
        return this;
    }

    /**
     * Everything {@link #start()} checks before it binds, without binding (what {@code atlas proxy --check}
     * runs): the TLS certificate chain and key are read and parsed and must match, and the listen addresses must
     * resolve, be addresses of this machine, and differ.
     *
     * @throws IOException with a message naming the setting, the file or address, and the problem
     */
    public static void check(ProxyConfig config) throws IOException {
        sslContext(config);
        checkListen(ProxyConfig.Setting.LISTEN, config.listen());
        if (config.adminListen().isPresent()) {
            InetSocketAddress a = config.adminListen().get();
            checkListen(ProxyConfig.Setting.ADMIN_LISTEN, a);
            if (a.getPort() != 0 && a.getPort() == config.listen().getPort()
                    && a.getAddress().equals(config.listen().getAddress())) {
                throw new IOException(ProxyConfig.Setting.ADMIN_LISTEN.env() + ": " + a.getHostString() + ":"
                        + a.getPort() + " is also " + ProxyConfig.Setting.LISTEN.env() + "; give the admin listener "
                        + "another port, or leave it empty to serve health and metrics on the main listener");
            }
        }
    }

    private static void checkListen(ProxyConfig.Setting s, InetSocketAddress a) throws IOException {
        if (a.isUnresolved()) {
            throw new IOException(s.env() + ": cannot resolve " + a.getHostString() + "; use an IP address or a "
                    + "name this machine resolves");
        }
        InetAddress ip = a.getAddress();
        if (!ip.isAnyLocalAddress() && !ip.isLoopbackAddress()
                && java.net.NetworkInterface.getByInetAddress(ip) == null) {
            throw new IOException(s.env() + ": " + ip.getHostAddress() + " is not an address of this machine, so "
                    + "the proxy cannot listen on it; use 127.0.0.1, 0.0.0.0 or one of this host's addresses");
        }
    }

    /** Loads {@code ATLS_PROXY_TLS_CERT} and {@code _KEY} (null without TLS), naming the file in any error. */
    private static SslContext sslContext(ProxyConfig config) throws IOException {
        if (config.tlsCertificate().isEmpty()) {
            return null;
        }
        java.nio.file.Path crt = config.tlsCertificate().get();
        java.nio.file.Path key = config.tlsKey().get();
        readable(ProxyConfig.Setting.TLS_CERT, crt);
        readable(ProxyConfig.Setting.TLS_KEY, key);
        try {
            return PemTls.serverContext(crt, key);
        } catch (IllegalStateException e) {
            throw new IOException("TLS files " + crt + " and " + key + ": " + e.getMessage(), e);
        } catch (IOException | RuntimeException e) {
            String why = e.getMessage() == null ? "unreadable PEM" : e.getMessage();
            throw new IOException("TLS files " + ProxyConfig.Setting.TLS_CERT.env() + "=" + crt + " and "
                    + ProxyConfig.Setting.TLS_KEY.env() + "=" + key + ": " + why
                    + " (expected a PEM certificate chain, leaf first, and its unencrypted PEM private key)", e);
        }
    }

    private static void readable(ProxyConfig.Setting s, java.nio.file.Path p) throws IOException {
        if (!java.nio.file.Files.exists(p)) {
            throw new IOException(s.env() + ": " + p + " does not exist");
        }
        if (!java.nio.file.Files.isRegularFile(p)) {
            throw new IOException(s.env() + ": " + p + " is not a regular file");
        }
        if (!java.nio.file.Files.isReadable(p)) {
            throw new IOException(s.env() + ": " + p + " is not readable by this user");
        }
        if (java.nio.file.Files.size(p) > 1 << 20) {
            throw new IOException(s.env() + ": " + p + " is larger than 1 MiB; expected a PEM file");
        }
    }

    private Channel bind(InetSocketAddress at, AtlsProxyChannels init) throws IOException {
        ServerBootstrap b = new ServerBootstrap()
                .group(boss, workers)
                .channel(Transport.serverChannel())
                .option(ChannelOption.SO_BACKLOG, 4096)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, AtlsProxyChannels.WATER_MARK)
                .childOption(ChannelOption.RCVBUF_ALLOCATOR, AtlsProxyChannels.READS)
                .childHandler(init);
        try {
            return b.bind(at).sync().channel();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while binding " + at, e);
        } catch (Exception e) {
            throw new IOException("cannot listen on " + at.getHostString() + ":" + at.getPort() + ": " + e.getMessage(), e);
        }
    }

    private static InetSocketAddress address(Channel c) {
        return (InetSocketAddress) c.localAddress();
    }

    /** The I/O transport in use: {@code epoll} (Linux native) or {@code nio}. */
    public static String transport() {
        return Transport.name();
    }

    /** The bound tunnel port. */
    public int port() {
        return address(main).getPort();
    }

    /** The bound admin port, or the tunnel port when health and metrics share it. */
    public int adminPort() {
        return admin == null ? port() : address(admin).getPort();
    }

    /** The configuration in force. */
    public ProxyConfig config() {
        return config;
    }

    /** Tunnels open now. */
    public int openTunnels() {
        return rt.openTunnels();
    }

    /** The Prometheus text exposition (what {@code /metrics} serves). */
    public String scrapeMetrics() {
        return rt.registryScrape();
    }

    /**
     * Graceful shutdown: stop accepting and report not ready, let open tunnels finish until the drain deadline,
     * then close the rest with WebSocket Close 1001. Idempotent.
     *
     * @return how many tunnels were still open at the deadline
     */
    public int shutdown(Duration drain) {
        synchronized (this) {
            if (stopped) {
                return 0;
            }
            stopped = true;
        }
        rt.setDraining();
        int forced = 0;
        try {
            if (main != null) {
                main.close().syncUninterruptibly();
            }
            rt.listener.draining(rt.pendingOrOpen(), drain);
            long deadline = System.nanoTime() + drain.toNanos();
            while (rt.pendingOrOpen() > 0 && System.nanoTime() < deadline) {
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            forced = rt.closeAll();
            long closeDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
            while (rt.openTunnels() > 0 && System.nanoTime() < closeDeadline) {
                Thread.onSpinWait();
                try {
                    Thread.sleep(5);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            if (admin != null) {
                admin.close().syncUninterruptibly();
            }
        } finally {
            if (boss != null) {
                boss.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
            }
            if (workers != null) {
                workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
            }
            resolveExecutor.shutdownNow();
            rt.listener.stopped(forced);
        }
        return forced;
    }

    /** {@link #shutdown(Duration)} with the configured drain timeout. */
    @Override
    public void close() {
        shutdown(config.drainTimeout());
    }

    /** Builder: listeners, log stream, clock, resolver. */
    public static final class Builder {
        private final ProxyConfig config;
        private final List<ProxyListener> listeners = new ArrayList<>();
        private PrintStream log = System.out;
        private Clock clock = Clock.systemUTC();
        private ProxyRuntime.Resolver resolver = host -> Arrays.asList(InetAddress.getAllByName(host));

        private Builder(ProxyConfig config) {
            this.config = config;
        }

        /** Adds an observer (after the built-in metrics and log). */
        public Builder listener(ProxyListener l) {
            listeners.add(l);
            return this;
        }

        /** Where the JSON log lines go (default {@code System.out}); null for none. */
        public Builder log(PrintStream out) {
            log = out;
            return this;
        }

        /** The clock for log timestamps. */
        public Builder clock(Clock c) {
            clock = c;
            return this;
        }

        /**
         * Replaces name resolution (default: the JVM resolver). The proxy calls it once per tunnel and connects
         * only to the addresses it returns; tests use it to play a DNS server that answers with a disallowed
         * address.
         */
        public Builder resolver(java.util.function.Function<String, List<InetAddress>> r) {
            resolver = host -> {
                List<InetAddress> a = r.apply(host);
                if (a == null || a.isEmpty()) {
                    throw new java.net.UnknownHostException(host);
                }
                return a;
            };
            return this;
        }

        public AtlsProxy build() {
            return new AtlsProxy(this);
        }
    }
}
