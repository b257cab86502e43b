package dev.atlas.dstack.gateway.internal;

import dev.atlas.dstack.gateway.GatewayConfig;
import dev.atlas.dstack.ra.RaException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The gateway's proxy listeners (spec §3.2, §3.5, §3.6; dstack's {@code proxy.rs} and {@code proxy/*.rs}), on
 * Netty with the JDK's TLS engine: per connection, an optional PROXY header ({@code inbound_pp_enabled}, within
 * {@code pp_header}), the ClientHello sniffed within {@code handshake}, then by SNI:
 * <ul>
 *   <li>under a ZT-domain ({@link CertStore#hasZtDomain}): the {@link dev.atlas.dstack.gateway.AppAddress} grammar;
 *       {@code health} and {@code gateway} (port 80 only) are answered here after terminating TLS; {@code localhost}
 *       goes to 127.0.0.1 only with {@code insecure_localhost_backend}; everything else asks the {@link Router}.
 *       {@code s} passes the buffered ClientHello and everything after through to the app; otherwise TLS ends here
 *       (ALPN {@code h2} only for {@code g}) and the decrypted bytes are relayed;</li>
 *   <li>any other SNI is a custom domain: {@link Router#routeCustomDomain}, always passthrough.</li>
 * </ul>
 * The app's candidates are connected in parallel, the first to answer wins ({@code connect} timeout each); a
 * PROXY header goes first when {@link Backend#proxyProtocol()}. The relay keeps {@code TCP_NODELAY} on both sides,
 * stops reading a side while the other cannot take more (backpressure both ways), forwards half-closes, and applies
 * {@code idle}, {@code write} and {@code shutdown} when {@code data_timeout_enabled}, and {@code total} always.
 * Every refusal is a reset (never a default backend) with one log line naming the reason.
 */
public final class ProxyServer implements AutoCloseable {
    static final System.Logger LOG = System.getLogger("dev.atlas.dstack.gateway.proxy");

    /** One live proxied connection, for the dashboard. */
    public record ConnectionInfo(
            long id,
            InetSocketAddress client,
            Instant started,
            String sni,
            String mode,
            Optional<String> appId,
            Optional<String> instanceId,
            Optional<InetSocketAddress> backend,
            long bytesFromClient,
            long bytesToClient) {}

    final ProxySettings settings;
    final Router router;
    final CertStore certStore;
    final ThisNode thisNode;
    final Clock clock;
    final EventLoopGroup group;
    final ExecutorService blocking;
    private final List<Channel> listeners;
    private final ScheduledFuture<?> certReload;
    private final Map<Long, ProxyConnection> live = new ConcurrentHashMap<>();
    private final AtomicLong ids = new AtomicLong();
    private final MeterRegistry meters;
    private final Map<String, Counter> refusals = new ConcurrentHashMap<>();
    private final Map<String, Counter> routed = new ConcurrentHashMap<>();
    final Counter accepted;
    final Counter bytesFromClient;
    final Counter bytesToClient;
    private volatile boolean closed;

    private ProxyServer(Builder b) throws RaException {
        this.settings = b.settings;
        this.router = Objects.requireNonNull(b.router, "router");
        this.certStore = Objects.requireNonNull(b.certStore, "certStore");
        this.thisNode = b.thisNode;
        this.clock = b.clock;
        this.meters = b.meterRegistry;
        this.accepted = Counter.builder("dstack.gateway.proxy.connections")
                .description("inbound proxy connections accepted").register(meters);
        this.bytesFromClient = Counter.builder("dstack.gateway.proxy.bytes").tag("direction", "from_client")
                .description("relayed bytes").register(meters);
        this.bytesToClient = Counter.builder("dstack.gateway.proxy.bytes").tag("direction", "to_client")
                .description("relayed bytes").register(meters);
        Gauge.builder("dstack.gateway.proxy.active", live, Map::size).description("live proxy connections")
                .register(meters);
        if (settings.insecureLocalhostBackend()) {
            LOG.log(System.Logger.Level.WARNING, "core.debug.insecure_localhost_backend = true: the app address "
                    + "\"localhost\" reaches 127.0.0.1 on this host on any port, bypassing port policy. "
                    + "Never use this outside local development");
        }
        this.group = new MultiThreadIoEventLoopGroup(Math.max(2, Runtime.getRuntime().availableProcessors()),
                NetTransport.ioHandler());
        this.blocking = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("gateway-proxy-io-", 0).factory());
        List<Channel> bound = new ArrayList<>();
        try {
            for (int port : settings.listenPorts()) {
                ServerBootstrap sb = new ServerBootstrap()
                        .group(group)
                        .channel(NetTransport.serverChannel())
                        .option(ChannelOption.SO_BACKLOG, 4096)
                        .option(ChannelOption.SO_REUSEADDR, true)
                        .childOption(ChannelOption.TCP_NODELAY, true)
                        .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                        .childOption(ChannelOption.AUTO_READ, true)
                        .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, waterMark(settings))
                        .childHandler(new ChannelInitializer<>() {
                            @Override
                            protected void initChannel(Channel ch) {
                                ch.pipeline().addLast("proxy", new ProxyConnection(ProxyServer.this,
                                        ids.incrementAndGet()));
                            }
                        });
                Channel ch = sb.bind(new InetSocketAddress(settings.listenAddr(), port)).syncUninterruptibly().channel();
                bound.add(ch);
                LOG.log(System.Logger.Level.INFO, "proxy listening on " + ch.localAddress() + " (" + NetTransport.name()
                        + ", TLS " + String.join("/", settings.tlsVersions()) + ", inbound PROXY "
                        + (settings.inboundPpEnabled() ? "on" : "off") + ")");
            }
        } catch (RuntimeException e) {
            bound.forEach(Channel::close);
            group.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
            blocking.shutdownNow();
            throw new RaException(RaException.Reason.CONFIG_INVALID, "core.proxy.listen_port",
                    "cannot bind " + settings.listenAddr().getHostAddress() + ":" + settings.listenPorts() + ": "
                            + e.getMessage(), e);
        }
        this.listeners = List.copyOf(bound);
        long every = settings.certReloadInterval().toMillis();
        this.certReload = certStore.staticCert().isEmpty() ? null : group.next().scheduleWithFixedDelay(
                () -> blocking.execute(this::reloadCertIfChanged), every, every, TimeUnit.MILLISECONDS);
    }

    /**
     * {@code buffer_size} bounds what may queue toward one side before reading from the other side pauses (dstack's
     * relay buffer per direction): high-water mark {@code buffer_size}, low-water mark half of it.
     */
    static WriteBufferWaterMark waterMark(ProxySettings settings) {
        return new WriteBufferWaterMark(settings.bufferSize() / 2, settings.bufferSize());
    }

    /** Starts the proxy of a loaded {@code gateway.toml}. */
    public static ProxyServer start(GatewayConfig config, Router router, CertStore certStore, ThisNode thisNode,
            Clock clock, MeterRegistry meters) throws RaException {
        return builder(ProxySettings.from(config)).router(router).certStore(certStore).thisNode(thisNode)
                .clock(clock).meterRegistry(meters).start();
    }

    public static Builder builder(ProxySettings settings) {
        return new Builder(settings);
    }

    /** The bound listener addresses, in the order of {@code listen_port}. */
    public List<InetSocketAddress> proxyAddresses() {
        return listeners.stream().map(c -> (InetSocketAddress) c.localAddress()).toList();
    }

    /** A snapshot of the live connections, oldest first. */
    public List<ConnectionInfo> connections() {
        return live.values().stream().map(ProxyConnection::info)
                .sorted(Comparator.comparingLong(ConnectionInfo::id)).toList();
    }

    /** The certificate store this proxy terminates with. */
    public CertStore certStore() {
        return certStore;
    }

    /** The settings this proxy runs with. */
    public ProxySettings settings() {
        return settings;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (certReload != null) {
            certReload.cancel(false);
        }
        listeners.forEach(c -> c.close().syncUninterruptibly());
        group.shutdownGracefully(0, 200, TimeUnit.MILLISECONDS).syncUninterruptibly();
        blocking.shutdownNow();
    }

    private void reloadCertIfChanged() {
        try {
            certStore.reloadIfChanged();
        } catch (RaException e) {
            LOG.log(System.Logger.Level.WARNING, "cert_store: keeping the previous static certificate: "
                    + e.detail());
        }
    }

    void register(ProxyConnection c) {
        accepted.increment();
        live.put(c.id, c);
    }

    void unregister(ProxyConnection c) {
        live.remove(c.id);
    }

    void countRefusal(String key) {
        refusals.computeIfAbsent(key, k -> Counter.builder("dstack.gateway.proxy.refusals").tag("reason", k)
                .description("connections refused, by reason").register(meters)).increment();
    }

    void countRouted(String mode) {
        routed.computeIfAbsent(mode, k -> Counter.builder("dstack.gateway.proxy.routed").tag("mode", k)
                .description("connections routed, by mode").register(meters)).increment();
    }

    /** Builder: settings, router, certificate store, this-node content, clock, metrics. */
    public static final class Builder {
        private final ProxySettings settings;
        private Router router;
        private CertStore certStore;
        private ThisNode thisNode;
        private Clock clock = Clock.systemUTC();
        private MeterRegistry meterRegistry = new SimpleMeterRegistry();

        private Builder(ProxySettings settings) {
            this.settings = Objects.requireNonNull(settings, "settings");
        }

        public Builder router(Router v) { router = Objects.requireNonNull(v); return this; }
        public Builder certStore(CertStore v) { certStore = Objects.requireNonNull(v); return this; }
        /** The §3.6 content; without it, {@code gateway.<zt-domain>} is refused. */
        public Builder thisNode(ThisNode v) { thisNode = v; return this; }
        public Builder clock(Clock v) { clock = Objects.requireNonNull(v); return this; }
        public Builder meterRegistry(MeterRegistry v) { meterRegistry = Objects.requireNonNull(v); return this; }

        /**
         * Binds every listener.
         *
         * @throws RaException {@code CONFIG_INVALID} when a port cannot be bound (what was bound is closed)
         */
        public ProxyServer start() throws RaException {
            return new ProxyServer(this);
        }
    }
}
