package dev.atlas.dstack.gateway.internal;

import dev.atlas.dstack.gateway.AppAddress;
import dev.atlas.dstack.ra.RaException;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.ssl.SslCloseCompletionEvent;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.handler.timeout.WriteTimeoutException;
import io.netty.handler.timeout.WriteTimeoutHandler;
import io.netty.util.ReferenceCountUtil;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * One inbound connection, from the first byte to the relay (see {@link ProxyServer}). Everything runs on the
 * inbound channel's event loop; the backend channel is registered on the same loop, so no state needs locks.
 */
final class ProxyConnection extends ChannelInboundHandlerAdapter {
    private static final System.Logger LOG = ProxyServer.LOG;
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    enum Phase { PP, HELLO, ROUTING, HANDSHAKE, CONNECTING, RELAY, LOCAL, CLOSED }

    final long id;
    private final ProxyServer server;
    private final ProxySettings cfg;
    private final Instant started;

    private Channel in;
    private Channel out;
    private final List<Channel> attempts = new ArrayList<>();
    private ConnectionLease lease;
    private Phase phase;
    private byte[] buf = new byte[2048];
    private int len;
    private final ClientHelloParser hello = new ClientHelloParser();
    private ProxyProtocol.Header ppHeader;
    private SslHandler ssl;
    private final ArrayDeque<Object> pendingToBackend = new ArrayDeque<>();
    private ScheduledFuture<?> phaseTimer;
    private ScheduledFuture<?> totalTimer;
    private boolean clientInputDone;
    private boolean backendInputDone;

    // for connections(): written on the event loop, read by any thread
    private volatile InetSocketAddress client;
    private volatile String sni = "";
    private volatile String mode = "sniffing";
    private volatile String appId;
    private volatile String instanceId;
    private volatile InetSocketAddress backend;
    private volatile long fromClient;
    private volatile long toClient;

    ProxyConnection(ProxyServer server, long id) {
        this.server = server;
        this.cfg = server.settings;
        this.id = id;
        this.started = server.clock.instant();
    }

    ProxyServer.ConnectionInfo info() {
        return new ProxyServer.ConnectionInfo(id, client, started, sni, mode, Optional.ofNullable(appId),
                Optional.ofNullable(instanceId), Optional.ofNullable(backend), fromClient, toClient);
    }

    // ---------------------------------------------------------------- inbound events

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        in = ctx.channel();
        client = (InetSocketAddress) in.remoteAddress();
        server.register(this);
        in.closeFuture().addListener(f -> onInboundClosed());
        totalTimer = schedule(cfg.total(), () -> {
            log("connection kept longer than timeouts.total (" + cfg.total() + "), force closing");
            closeBoth();
        });
        if (cfg.inboundPpEnabled()) {
            phase = Phase.PP;
            phaseTimer = schedule(cfg.ppHeader(), () -> refuse("proxy protocol header timeout ("
                    + cfg.ppHeader() + ", " + len + " bytes received)", "pp_header_timeout"));
        } else {
            ppHeader = ProxyProtocol.fromConnection(client, (InetSocketAddress) in.localAddress());
            startHello();
        }
    }

    private void startHello() {
        phase = Phase.HELLO;
        phaseTimer = schedule(cfg.handshake(), () -> refuse("take sni timeout (" + cfg.handshake() + ", " + len
                + " bytes received without a complete ClientHello)", "sni_timeout"));
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        switch (phase) {
            case PP, HELLO, ROUTING, CONNECTING -> {
                if (ssl != null) { // terminate: decrypted bytes before the backend is connected
                    pendingToBackend.add(msg);
                    return;
                }
                ByteBuf b = (ByteBuf) msg;
                try {
                    if (!append(b)) {
                        return;
                    }
                } finally {
                    b.release();
                }
                if (phase == Phase.PP || phase == Phase.HELLO) {
                    sniff();
                }
            }
            case HANDSHAKE -> pendingToBackend.add(msg);
            case RELAY -> {
                ByteBuf b = (ByteBuf) msg;
                int n = b.readableBytes();
                fromClient += n;
                server.bytesFromClient.increment(n);
                out.write(b, out.voidPromise());
                if (!out.isWritable()) {
                    in.config().setAutoRead(false);
                }
            }
            default -> ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (phase == Phase.RELAY) {
            out.flush();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (phase == Phase.RELAY && in.isWritable() && !backendInputDone) {
            out.config().setAutoRead(true);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof IdleStateEvent) {
            log("idle timeout (" + cfg.idle() + " without a byte in either direction)");
            closeBoth();
        } else if (evt == ChannelInputShutdownEvent.INSTANCE || evt instanceof SslCloseCompletionEvent) {
            clientInputEnded();
        }
        ReferenceCountUtil.release(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (phase == Phase.CLOSED) {
            return;
        }
        if (cause instanceof WriteTimeoutException) {
            log("write timeout to the client (" + cfg.write() + ")");
        } else if (phase == Phase.HANDSHAKE) {
            return; // the handshake future reports it
        } else {
            log("client side error: " + describe(cause));
        }
        closeBoth();
    }

    // ---------------------------------------------------------------- sniffing

    /** Appends to the sniff buffer; false (and refused) past the bound. */
    private boolean append(ByteBuf b) {
        int n = b.readableBytes();
        int limit = ClientHelloParser.MAX_BUFFERED + ProxyProtocol.V2_MAX;
        if (len + n > limit) {
            refuse("more than " + limit + " bytes before the ClientHello ended", "client_hello_too_large");
            return false;
        }
        if (len + n > buf.length) {
            buf = java.util.Arrays.copyOf(buf, Math.min(limit, Math.max(len + n, buf.length * 2)));
        }
        b.readBytes(buf, len, n);
        len += n;
        return true;
    }

    private void sniff() {
        try {
            if (phase == Phase.PP) {
                Optional<ProxyProtocol.Parsed> p = ProxyProtocol.parse(buf, len);
                if (p.isEmpty()) {
                    return;
                }
                ppHeader = p.get().header();
                int used = p.get().length();
                System.arraycopy(buf, used, buf, 0, len - used);
                len -= used;
                phaseTimer.cancel(false);
                startHello();
            }
            Optional<ClientHelloParser.Result> r = hello.feed(buf, len);
            if (r.isEmpty()) {
                return;
            }
            phaseTimer.cancel(false);
            in.config().setAutoRead(false);
            phase = Phase.ROUTING;
            route(r.get().sni());
        } catch (RaException e) {
            refuse((phase == Phase.PP ? "bad proxy protocol header: " : "bad ClientHello: ") + e.detail(),
                    phase == Phase.PP ? "pp_header_invalid" : "client_hello_invalid");
        }
    }

    // ---------------------------------------------------------------- routing

    private void route(Optional<String> name) {
        if (name.isEmpty()) {
            refuse("no sni found", "no_sni");
            return;
        }
        sni = name.get();
        String[] parts;
        AppAddress address;
        try {
            parts = AppAddress.splitSni(sni);
        } catch (RaException e) {
            refuse(e.detail(), "invalid_sni");
            return;
        }
        String base = parts[1];
        if (!server.certStore.hasZtDomain(base)) {
            mode = "passthrough";
            server.router.routeCustomDomain(sni).whenComplete((route, err) -> in.eventLoop().execute(() -> {
                if (phase != Phase.ROUTING) {
                    return; // closed meanwhile
                }
                if (err != null) {
                    Throwable c = err instanceof java.util.concurrent.CompletionException && err.getCause() != null
                            ? err.getCause() : err;
                    refuse("custom domain " + sni + ": " + describe(c), c instanceof RaException ra
                            ? ra.raReason().name().toLowerCase(java.util.Locale.ROOT) : "custom_domain_failed");
                } else if (route == null) {
                    refuse("custom domain " + sni + ": no route", "custom_domain_failed");
                } else {
                    appId = route.appId();
                    server.countRouted("passthrough");
                    connect(route, this::startPassthrough);
                }
            }));
            return;
        }
        try {
            address = AppAddress.parseSubdomain(parts[0]);
        } catch (RaException e) {
            refuse(e.detail(), "invalid_sni");
            return;
        }
        switch (address.id()) {
            case "health" -> {
                if (address.port() != 80) {
                    refuse("Only port 80 is supported for health checks", "reserved_port");
                } else {
                    serveLocally(base, LocalEndpoints.Kind.HEALTH);
                }
                return;
            }
            case "gateway" -> {
                if (address.port() != 80) {
                    refuse("Only port 80 is supported for this node", "reserved_port");
                } else if (server.thisNode == null) {
                    refuse("this-node endpoints are not configured", "no_this_node");
                } else {
                    serveLocally(base, LocalEndpoints.Kind.THIS_NODE);
                }
                return;
            }
            default -> { }
        }
        Route route;
        if (cfg.insecureLocalhostBackend() && address.id().equals("localhost")) {
            route = new Route("localhost", List.of(new Backend("localhost",
                    new InetSocketAddress(LOOPBACK, address.port()), false)));
        } else {
            try {
                route = server.router.route(address);
            } catch (RaException e) {
                refuse("app <" + address.id() + "> port " + address.port() + ": " + e.detail(),
                        e.raReason().name().toLowerCase(java.util.Locale.ROOT));
                return;
            } catch (RuntimeException e) {
                refuse("router failed for <" + address.id() + ">: " + describe(e), "router_error");
                return;
            }
        }
        appId = route.appId();
        if (address.tls()) {
            mode = "passthrough";
            server.countRouted("passthrough");
            connect(route, this::startPassthrough);
        } else {
            mode = address.h2() ? "terminate-h2" : "terminate";
            server.countRouted(mode);
            terminate(route, base, address.h2());
        }
    }

    // ---------------------------------------------------------------- TLS termination

    private void terminate(Route route, String base, boolean h2) {
        Optional<SslContext> ctx = server.certStore.sslContext(base, h2);
        if (ctx.isEmpty()) {
            refuse("no certificate for *." + base, "no_certificate");
            return;
        }
        ssl = ctx.get().newHandler(in.alloc());
        ssl.setHandshakeTimeoutMillis(cfg.handshake().toMillis());
        in.pipeline().addFirst("tls", ssl);
        phase = Phase.HANDSHAKE;
        ssl.handshakeFuture().addListener(f -> {
            if (phase != Phase.HANDSHAKE) {
                return;
            }
            if (!f.isSuccess()) {
                refuse("TLS handshake failed: " + describe(f.cause()), "tls_handshake");
                return;
            }
            in.config().setAutoRead(false);
            phase = Phase.CONNECTING;
            connect(route, this::startTerminated);
        });
        feedBuffered();
    }

    private void serveLocally(String base, LocalEndpoints.Kind kind) {
        Optional<SslContext> ctx = server.certStore.sslContext(base, false);
        if (ctx.isEmpty()) {
            refuse("no certificate for *." + base, "no_certificate");
            return;
        }
        mode = kind == LocalEndpoints.Kind.HEALTH ? "health" : "this-node";
        server.countRouted(mode);
        ssl = ctx.get().newHandler(in.alloc());
        ssl.setHandshakeTimeoutMillis(cfg.handshake().toMillis());
        phase = Phase.LOCAL;
        cancel(phaseTimer);
        var p = in.pipeline();
        p.addFirst("tls", ssl);
        if (cfg.dataTimeoutEnabled()) {
            p.addAfter("tls", "idle", new IdleStateHandler(0, 0, cfg.idle().toMillis(), TimeUnit.MILLISECONDS));
            p.addAfter("idle", "write-timeout", new WriteTimeoutHandler(cfg.write().toMillis(),
                    TimeUnit.MILLISECONDS));
        }
        p.addBefore("proxy", "http", new HttpServerCodec(4096, 8192, 8192));
        p.addBefore("proxy", "keep-alive", new HttpServerKeepAliveHandler());
        p.addBefore("proxy", "aggregate", new HttpObjectAggregator(16 * 1024));
        p.addBefore("proxy", "local", new LocalEndpoints(kind, server.thisNode, server.blocking, this::log));
        p.remove(this);
        ssl.handshakeFuture().addListener(f -> {
            if (!f.isSuccess()) {
                log("refused (" + mode + "): TLS handshake failed: " + describe(f.cause()));
                server.countRefusal("tls_handshake");
                in.close();
            }
        });
        feedBuffered();
    }

    /** Hands the sniffed bytes (ciphertext) to the pipeline head, i.e. to the TLS handler, and reads on. */
    private void feedBuffered() {
        ByteBuf b = in.alloc().buffer(len).writeBytes(buf, 0, len);
        buf = null;
        len = 0;
        in.config().setAutoRead(true);
        in.pipeline().fireChannelRead(b);
        in.pipeline().fireChannelReadComplete();
    }

    // ---------------------------------------------------------------- backend connection

    private void connect(Route route, java.util.function.Consumer<Backend> onConnected) {
        if (phase == Phase.CLOSED) {
            return;
        }
        if (phase == Phase.ROUTING) {
            phase = Phase.CONNECTING;
        }
        List<Backend> candidates = route.candidates();
        int[] remaining = {candidates.size()};
        List<String> errors = new ArrayList<>();
        int connectMillis = (int) Math.min(Integer.MAX_VALUE, cfg.connect().toMillis());
        for (Backend be : candidates) {
            Bootstrap b = new Bootstrap()
                    .group(in.eventLoop())
                    .channel(NetTransport.socketChannel())
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectMillis)
                    .option(ChannelOption.TCP_NODELAY, true)
                    .option(ChannelOption.AUTO_READ, false)
                    .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                    .option(ChannelOption.WRITE_BUFFER_WATER_MARK, ProxyServer.waterMark(cfg))
                    .handler(new BackendSide());
            ChannelFuture cf = b.connect(be.address());
            attempts.add(cf.channel());
            cf.addListener((ChannelFutureListener) f -> {
                if (phase != Phase.CONNECTING || out != null) {
                    f.channel().close();
                    return;
                }
                if (!f.isSuccess()) {
                    errors.add(be.address().getAddress().getHostAddress() + ":" + be.address().getPort() + " "
                            + describe(f.cause()));
                    if (--remaining[0] == 0) {
                        refuse("failed to connect to app <" + route.appId() + ">: " + String.join("; ", errors),
                                "connect_failed");
                    }
                    return;
                }
                out = f.channel();
                for (Channel other : attempts) {
                    if (other != out) {
                        other.close();
                    }
                }
                attempts.clear();
                backend = be.address();
                instanceId = be.instanceId();
                lease = server.router.acquire(be);
                ConnectionLease l = lease;
                out.closeFuture().addListener(x -> l.close());
                onConnected.accept(be);
            });
        }
    }

    private void startPassthrough(Backend be) {
        if (be.proxyProtocol()) {
            out.write(Unpooled.wrappedBuffer(ProxyProtocol.encode(ppHeader)), out.voidPromise());
        }
        ByteBuf b = out.alloc().buffer(len).writeBytes(buf, 0, len);
        fromClient += len;
        server.bytesFromClient.increment(len);
        buf = null;
        len = 0;
        out.write(b, out.voidPromise());
        startRelay();
    }

    private void startTerminated(Backend be) {
        if (be.proxyProtocol()) {
            out.write(Unpooled.wrappedBuffer(ProxyProtocol.encode(ppHeader)), out.voidPromise());
        }
        while (!pendingToBackend.isEmpty()) {
            ByteBuf b = (ByteBuf) pendingToBackend.poll();
            fromClient += b.readableBytes();
            server.bytesFromClient.increment(b.readableBytes());
            out.write(b, out.voidPromise());
        }
        startRelay();
    }

    private void startRelay() {
        phase = Phase.RELAY;
        if (cfg.dataTimeoutEnabled()) {
            out.pipeline().addFirst("write-timeout", new WriteTimeoutHandler(cfg.write().toMillis(),
                    TimeUnit.MILLISECONDS));
            in.pipeline().addBefore("proxy", "idle", new IdleStateHandler(0, 0, cfg.idle().toMillis(),
                    TimeUnit.MILLISECONDS));
            in.pipeline().addBefore("proxy", "write-timeout", new WriteTimeoutHandler(cfg.write().toMillis(),
                    TimeUnit.MILLISECONDS));
        }
        out.flush();
        if (clientInputDone) {
            halfClose(out, false);
        } else {
            in.config().setAutoRead(out.isWritable());
        }
        out.config().setAutoRead(in.isWritable());
    }

    /** The backend side of the relay (one instance per connect attempt; the winner's carries the data). */
    private final class BackendSide extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (phase != Phase.RELAY || ctx.channel() != out) {
                ReferenceCountUtil.release(msg);
                return;
            }
            ByteBuf b = (ByteBuf) msg;
            int n = b.readableBytes();
            toClient += n;
            server.bytesToClient.increment(n);
            in.write(b, in.voidPromise());
            if (!in.isWritable()) {
                out.config().setAutoRead(false);
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            if (phase == Phase.RELAY && ctx.channel() == out) {
                in.flush();
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (phase == Phase.RELAY && ctx.channel() == out && out.isWritable() && !clientInputDone) {
                in.config().setAutoRead(true);
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt == ChannelInputShutdownEvent.INSTANCE && ctx.channel() == out) {
                backendInputEnded();
            }
            ReferenceCountUtil.release(evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (ctx.channel() == out && phase != Phase.CLOSED) {
                // the backend is gone: flush what it sent, then close the client side
                in.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (ctx.channel() != out || phase == Phase.CLOSED) {
                ctx.close();
                return;
            }
            if (cause instanceof WriteTimeoutException) {
                log("write timeout to the backend " + backend + " (" + cfg.write() + ")");
            } else {
                log("backend " + backend + " error: " + describe(cause));
            }
            closeBoth();
        }
    }

    // ---------------------------------------------------------------- closing

    private void clientInputEnded() {
        if (clientInputDone) {
            return;
        }
        clientInputDone = true;
        switch (phase) {
            case PP, HELLO -> refuse("client closed before the ClientHello was complete (" + len + " bytes)",
                    "no_sni");
            case RELAY -> {
                halfClose(out, false);
                if (backendInputDone) {
                    closeBoth();
                }
            }
            default -> { } // startRelay forwards it
        }
    }

    private void backendInputEnded() {
        if (backendInputDone) {
            return;
        }
        backendInputDone = true;
        halfClose(in, ssl != null);
        if (clientInputDone) {
            closeBoth();
        }
    }

    /** Flushes {@code ch} and shuts its output down (TLS: close_notify first), within {@code shutdown}. */
    private void halfClose(Channel ch, boolean tls) {
        ChannelFuture flushed = ch.writeAndFlush(Unpooled.EMPTY_BUFFER);
        ScheduledFuture<?> guard = cfg.dataTimeoutEnabled() ? schedule(cfg.shutdown(), () -> {
            log("shutdown timeout (" + cfg.shutdown() + ")");
            closeBoth();
        }) : null;
        flushed.addListener(f -> {
            ChannelFuture done;
            if (tls) {
                done = ssl.closeOutbound();
            } else if (ch instanceof DuplexChannel d && ch.isActive()) {
                done = d.shutdownOutput();
            } else {
                done = ch.close();
            }
            done.addListener(x -> cancel(guard));
        });
    }

    private void closeBoth() {
        if (in != null) {
            in.close();
        }
        if (out != null) {
            out.close();
        }
    }

    private void onInboundClosed() {
        Phase was = phase;
        phase = Phase.CLOSED;
        cancel(phaseTimer);
        cancel(totalTimer);
        for (Channel a : attempts) {
            a.close();
        }
        attempts.clear();
        if (out != null) {
            if (was == Phase.RELAY) {
                out.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
            } else {
                out.close();
            }
        }
        while (!pendingToBackend.isEmpty()) {
            ReferenceCountUtil.release(pendingToBackend.poll());
        }
        server.unregister(this);
    }

    /** Refuses the connection with a reset and one log line naming the reason. */
    private void refuse(String why, String key) {
        if (phase == Phase.CLOSED) {
            return;
        }
        phase = Phase.CLOSED;
        log("refused: " + why);
        server.countRefusal(key);
        cancel(phaseTimer);
        if (in.isActive()) {
            try {
                in.config().setOption(ChannelOption.SO_LINGER, 0);
            } catch (RuntimeException ignored) {
                // not every transport supports it; a plain close still ends the connection
            }
        }
        in.close();
        if (out != null) {
            out.close();
        }
    }

    void log(String message) {
        LOG.log(System.Logger.Level.INFO, "proxy #" + id + " from " + clientText() + (sni.isEmpty() ? "" : " sni="
                + sni) + ": " + message);
    }

    private String clientText() {
        InetSocketAddress c = client;
        String peer = c == null ? "?" : (c.getAddress() instanceof Inet4Address ? c.getAddress().getHostAddress()
                : "[" + c.getAddress().getHostAddress() + "]") + ":" + c.getPort();
        ProxyProtocol.Header h = ppHeader;
        return cfg.inboundPpEnabled() && h != null ? h.display() + " via " + peer : peer;
    }

    private ScheduledFuture<?> schedule(Duration d, Runnable r) {
        return in.eventLoop().schedule(r, d.toNanos(), TimeUnit.NANOSECONDS);
    }

    private static void cancel(ScheduledFuture<?> f) {
        if (f != null) {
            f.cancel(false);
        }
    }

    static String describe(Throwable t) {
        if (t == null) {
            return "unknown";
        }
        Throwable c = t;
        if (c instanceof io.netty.handler.codec.DecoderException && c.getCause() != null) {
            c = c.getCause();
        }
        if (c instanceof RaException ra) {
            return ra.detail();
        }
        String m = c.getMessage();
        return c.getClass().getSimpleName() + (m == null ? "" : ": " + m);
    }
}
