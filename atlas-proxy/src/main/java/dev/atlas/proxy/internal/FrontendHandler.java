package dev.atlas.proxy.internal;

import dev.atlas.proxy.IpRange;
import dev.atlas.proxy.ProxyListener;
import dev.atlas.proxy.RejectReason;
import dev.atlas.proxy.TargetAddress;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshaker;
import io.netty.handler.codec.http.websocketx.WebSocketFrameDecoder;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshaker13;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The HTTP phase of a client connection: health and metrics requests, and a tunnel request's way to its 101.
 * {@link TunnelAdmission} runs the checks before resolution and the resolved-address check (their order decides
 * which refusal a request gets); this handler adds resolution, connect and the upgrade. Only when the target
 * is connected does the client get its 101; every refusal is an HTTP status with the reason name as body.
 */
public final class FrontendHandler extends ChannelInboundHandlerAdapter {
    /** The subprotocol the proxy selects when a client offers it (browsers that carry a token need one). */
    public static final String SUBPROTOCOL = "atls-proxy";
    /** websockify's subprotocol (noVNC and other websockify clients offer it); preferred when offered. */
    public static final String BINARY_SUBPROTOCOL = "binary";
    /** Prefix of the offered subprotocol that carries a bearer token (browsers cannot set Authorization). */
    public static final String TOKEN_SUBPROTOCOL_PREFIX = "atls-proxy.bearer.";

    private final ProxyRuntime rt;
    private final boolean servesAdmin;
    private final boolean servesTunnels;
    private ScheduledFuture<?> handshakeTimer;
    private boolean pending; // a tunnel request is being connected
    private String slotClient; // non-null while this handler holds a slot

    public FrontendHandler(ProxyRuntime rt, boolean servesAdmin, boolean servesTunnels) {
        this.rt = rt;
        this.servesAdmin = servesAdmin;
        this.servesTunnels = servesTunnels;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        if (servesTunnels) {
            handshakeTimer = ctx.executor().schedule(() -> {
                if (!pending && ctx.channel().isActive()) {
                    rt.listener.rejected(new ProxyListener.Rejection(peer(ctx).getHostAddress(), "-",
                            RejectReason.HANDSHAKE_TIMEOUT, "no WebSocket upgrade within "
                            + rt.config.handshakeTimeout().toMillis() + " ms"));
                    ctx.close();
                }
            }, rt.config.handshakeTimeout().toMillis(), TimeUnit.MILLISECONDS);
        }
        ctx.fireChannelActive();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        cancelTimer();
        releaseSlot(); // the client left while its target was being connected
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close(); // TLS or HTTP garbage before a tunnel exists: nothing to keep
    }

    private void cancelTimer() {
        if (handshakeTimer != null) {
            handshakeTimer.cancel(false);
            handshakeTimer = null;
        }
    }

    private void releaseSlot() {
        if (slotClient != null) {
            rt.slots.release(slotClient);
            slotClient = null;
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof FullHttpRequest req)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (pending) { // pipelined request while connecting: not allowed
            req.release();
            return;
        }
        try {
            if (req.decoderResult().isFailure()) {
                Throwable c = req.decoderResult().cause();
                RejectReason r = c instanceof TooLongFrameException ? RejectReason.REQUEST_TOO_LARGE
                        : RejectReason.BAD_HANDSHAKE;
                reject(ctx, peer(ctx).getHostAddress(), "-", r, "malformed HTTP request");
                return;
            }
            boolean upgrade = req.headers().containsValue(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET, true);
            if (!upgrade) {
                admin(ctx, req);
                return;
            }
            if (!servesTunnels) {
                respond(ctx, HttpResponseStatus.NOT_FOUND, "not found\n", null);
                return;
            }
            tunnelRequest(ctx, req);
        } finally {
            req.release();
        }
    }

    private void admin(ChannelHandlerContext ctx, FullHttpRequest req) {
        String path = req.uri();
        int q = path.indexOf('?');
        if (q >= 0) {
            path = path.substring(0, q);
        }
        if (!servesAdmin || req.method() != HttpMethod.GET && req.method() != HttpMethod.HEAD) {
            if (servesTunnels) {
                upgradeRequired(ctx, req);
            } else {
                respond(ctx, HttpResponseStatus.NOT_FOUND, "not found\n", null);
            }
            return;
        }
        switch (path) {
            case "/healthz" -> respond(ctx, HttpResponseStatus.OK, "ok\n", null);
            case "/readyz" -> {
                if (rt.ready) {
                    respond(ctx, HttpResponseStatus.OK, "ready\n", null);
                } else {
                    respond(ctx, HttpResponseStatus.SERVICE_UNAVAILABLE, rt.draining ? "draining\n" : "starting\n", null);
                }
            }
            case "/metrics" -> {
                String text = rt.registry.scrape();
                respond(ctx, HttpResponseStatus.OK, text, r -> r.headers().set(HttpHeaderNames.CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8"));
            }
            default -> {
                if (servesTunnels) {
                    upgradeRequired(ctx, req);
                } else {
                    respond(ctx, HttpResponseStatus.NOT_FOUND, "not found\n", null);
                }
            }
        }
    }

    /** A plain request on the tunnel listener: refused (logged, counted) with 426 and {@code Upgrade: websocket}. */
    private void upgradeRequired(ChannelHandlerContext ctx, FullHttpRequest req) {
        reject(ctx, clientAddress(ctx, req), "-", RejectReason.UPGRADE_REQUIRED, req.method().name()
                + " without Upgrade: websocket; this endpoint carries WebSocket tunnels only"
                + (servesAdmin ? " (health and metrics: GET /healthz, /readyz, /metrics)" : ""));
    }

    private void tunnelRequest(ChannelHandlerContext ctx, FullHttpRequest req) {
        String client = clientAddress(ctx, req);
        TunnelAdmission.Admission admission = rt.admission.admit(client, new NettyRequest(req));
        if (admission instanceof TunnelAdmission.Rejected r) {
            reject(ctx, client, r.target(), r.reason(), r.detail());
            return;
        }
        TunnelAdmission.Accepted accepted = (TunnelAdmission.Accepted) admission;
        slotClient = client;
        TargetAddress target = accepted.target();
        String selected = accepted.subprotocol();
        long maxFrame = rt.config.maxFrameBytes();
        long maxMessage = rt.config.maxMessageBytes();
        WebSocketServerHandshaker hs = new WebSocketServerHandshaker13("ws://proxy/", null, decoderConfig()) {
            @Override
            protected WebSocketFrameDecoder newWebsocketDecoder() {
                return new StreamingFrameDecoder(maxFrame, maxMessage);
            }
        };
        pending = true;
        cancelTimer();
        ctx.channel().config().setAutoRead(false);
        FullHttpRequest kept = req.retainedDuplicate();
        long t0 = System.nanoTime();
        if (target.literalAddress().isPresent()) {
            resolved(ctx, kept, hs, selected, client, target, List.of(target.literalAddress().get()), true, t0);
        } else {
            rt.resolveExecutor.execute(() -> {
                List<InetAddress> addrs;
                try {
                    addrs = rt.resolver.resolve(target.host());
                } catch (Exception e) {
                    ctx.executor().execute(() -> {
                        kept.release();
                        reject(ctx, client, target.toString(), RejectReason.RESOLVE_FAILED, "name did not resolve");
                    });
                    return;
                }
                ctx.executor().execute(() -> resolved(ctx, kept, hs, selected, client, target, addrs, false, t0));
            });
        }
    }

    private WebSocketDecoderConfig decoderConfig() {
        return WebSocketDecoderConfig.newBuilder()
                .maxFramePayloadLength(rt.config.maxFrameBytes())
                .expectMaskedFrames(true)
                .allowMaskMismatch(false)
                .allowExtensions(false)
                .closeOnProtocolViolation(true)
                .withUTF8Validator(false) // text frames are forwarded as bytes, as Atlas does
                .build();
    }

    private void resolved(ChannelHandlerContext ctx, FullHttpRequest req, WebSocketServerHandshaker hs, String sub,
            String client,
            TargetAddress target, List<InetAddress> addrs, boolean literal, long t0) {
        TunnelAdmission.Addresses checked = rt.admission.admitAddresses(target, addrs, literal);
        if (checked.rejected() != null) {
            req.release();
            reject(ctx, client, checked.rejected().target(), checked.rejected().reason(), checked.rejected().detail());
            return;
        }
        connect(ctx, req, hs, sub, client, target, checked.usable(), 0, t0);
    }

    private void connect(ChannelHandlerContext ctx, FullHttpRequest req, WebSocketServerHandshaker hs, String sub,
            String client,
            TargetAddress target, List<InetAddress> addrs, int i, long t0) {
        long left = rt.config.connectTimeout().toMillis() - (System.nanoTime() - t0) / 1_000_000;
        if (!ctx.channel().isActive()) {
            req.release();
            releaseSlot();
            return;
        }
        if (left <= 0) {
            req.release();
            reject(ctx, client, target.toString(), RejectReason.CONNECT_TIMEOUT, "connect timed out");
            return;
        }
        InetSocketAddress to = new InetSocketAddress(addrs.get(i), target.port());
        Bootstrap b = new Bootstrap()
                .group(ctx.channel().eventLoop())
                .channel(Transport.socketChannel())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, left))
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, AtlsProxyChannels.WATER_MARK)
                .option(ChannelOption.RCVBUF_ALLOCATOR, AtlsProxyChannels.READS)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        // the relay is added when the tunnel opens
                    }
                });
        b.connect(to).addListener((ChannelFuture f) -> {
            if (f.isSuccess()) {
                connected(ctx, req, hs, sub, client, target, f.channel(), to, t0);
            } else if (i + 1 < addrs.size()) {
                connect(ctx, req, hs, sub, client, target, addrs, i + 1, t0);
            } else {
                req.release();
                boolean timeout = f.cause() instanceof ConnectTimeoutException;
                reject(ctx, client, target.toString(), timeout ? RejectReason.CONNECT_TIMEOUT
                        : RejectReason.CONNECT_FAILED, timeout ? "connect timed out" : "connection refused or unreachable");
            }
        });
    }

    private void connected(ChannelHandlerContext ctx, FullHttpRequest req, WebSocketServerHandshaker hs, String sub,
            String client, TargetAddress target, Channel backend, InetSocketAddress to, long t0) {
        if (!ctx.channel().isActive()) {
            req.release();
            backend.close();
            releaseSlot();
            return;
        }
        if (rt.draining) {
            req.release();
            backend.close();
            reject(ctx, client, target.toString(), RejectReason.DRAINING, "the proxy is shutting down");
            return;
        }
        Duration connectTime = Duration.ofNanos(System.nanoTime() - t0);
        ChannelFuture done;
        try {
            io.netty.handler.codec.http.HttpHeaders extra = new io.netty.handler.codec.http.DefaultHttpHeaders();
            if (sub != null) {
                extra.set(HttpHeaderNames.SEC_WEBSOCKET_PROTOCOL, sub);
            }
            done = hs.handshake(ctx.channel(), req, extra, ctx.channel().newPromise());
        } catch (RuntimeException e) {
            backend.close();
            reject(ctx, client, target.toString(), RejectReason.BAD_HANDSHAKE, "invalid WebSocket handshake");
            return;
        } finally {
            req.release();
        }
        done.addListener((ChannelFuture f) -> {
            if (!f.isSuccess()) {
                backend.close();
                releaseSlot();
                ctx.close();
                return;
            }
            TunnelState t = new TunnelState(rt, rt.ids.incrementAndGet(), client, target, to, connectTime,
                    ctx.channel(), backend);
            slotClient = null; // the tunnel owns the slot now
            rt.tunnels.put(t.id(), t);
            ctx.pipeline().replace(this, "relay", t.clientRelay());
            if (!rt.config.idleTimeout().isZero()) {
                ctx.pipeline().addBefore("relay", "idle", new IdleStateHandler(0, 0,
                        rt.config.idleTimeout().toMillis(), TimeUnit.MILLISECONDS));
            }
            backend.pipeline().addLast("relay", t.backendRelay());
            rt.listener.tunnelStart(t.summary());
            if (!backend.isActive()) {
                t.finish(dev.atlas.proxy.CloseReason.TARGET_CLOSED, null);
                return;
            }
            ctx.channel().config().setAutoRead(true);
            backend.config().setAutoRead(true);
        });
    }

    /** The request as {@link TunnelAdmission} reads it. */
    private record NettyRequest(FullHttpRequest req) implements TunnelAdmission.Request {
        @Override
        public String method() {
            return req.method().name();
        }

        @Override
        public boolean http11() {
            return HttpVersion.HTTP_1_1.equals(req.protocolVersion());
        }

        @Override
        public List<String> headers(String name) {
            return req.headers().getAll(name);
        }

        @Override
        public boolean hasBody() {
            return req.content().isReadable();
        }

        @Override
        public String uri() {
            return req.uri();
        }
    }

    /**
     * Every value of the {@code target} query parameter, form-decoded ({@code %3A} → {@code :}, {@code +} → space,
     * so a space then fails the target syntax).
     */
    public static List<String> targetParameters(String uri) {
        List<String> out = new ArrayList<>();
        int q = uri.indexOf('?');
        if (q < 0) {
            return out;
        }
        String query = uri.substring(q + 1);
        int hash = query.indexOf('#');
        if (hash >= 0) {
            query = query.substring(0, hash);
        }
        for (String part : query.split("&", -1)) {
            if (part.isEmpty()) {
                continue;
            }
            int eq = part.indexOf('=');
            String name = URLDecoder.decode(eq < 0 ? part : part.substring(0, eq), StandardCharsets.UTF_8);
            if (name.equals("target")) {
                out.add(URLDecoder.decode(eq < 0 ? "" : part.substring(eq + 1), StandardCharsets.UTF_8));
            }
        }
        return out;
    }

    private String clientAddress(ChannelHandlerContext ctx, FullHttpRequest req) {
        InetAddress peer = peer(ctx);
        if (rt.config.trustedProxies().isEmpty() || !inAny(peer, rt.config.trustedProxies())) {
            return Addresses.text(peer);
        }
        List<String> hops = new ArrayList<>();
        for (String h : req.headers().getAll("X-Forwarded-For")) {
            for (String p : h.split(",")) {
                hops.add(p.strip());
            }
        }
        for (int i = hops.size() - 1; i >= 0; i--) {
            InetAddress a = literal(hops.get(i));
            if (a == null) {
                break;
            }
            if (!inAny(a, rt.config.trustedProxies())) {
                return Addresses.text(a);
            }
        }
        return Addresses.text(peer);
    }

    private static InetAddress literal(String s) {
        try {
            if (s.indexOf(':') >= 0) {
                return Inet6Address.ofLiteral(s.startsWith("[") && s.endsWith("]") ? s.substring(1, s.length() - 1) : s);
            }
            return s.split("\\.", -1).length == 4 ? Inet4Address.ofLiteral(s) : null;
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static boolean inAny(InetAddress a, List<IpRange> ranges) {
        for (IpRange r : ranges) {
            if (r.contains(a)) {
                return true;
            }
        }
        return false;
    }

    private static InetAddress peer(ChannelHandlerContext ctx) {
        return ((InetSocketAddress) ctx.channel().remoteAddress()).getAddress();
    }

    private void reject(ChannelHandlerContext ctx, String client, String target, RejectReason reason, String detail) {
        releaseSlot();
        pending = false;
        rt.listener.rejected(new ProxyListener.Rejection(client, target, reason, detail));
        if (!ctx.channel().isActive()) {
            return;
        }
        String body = reason == RejectReason.UNSUPPORTED_SUBPROTOCOL ? reason.name() + "\n" + detail + "\n"
                : reason.name() + "\n";
        respond(ctx, HttpResponseStatus.valueOf(reason.httpStatus()), body, r -> {
            if (reason == RejectReason.UPGRADE_REQUIRED) {
                r.headers().set(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET);
            } else if (reason == RejectReason.UNAUTHORIZED) {
                r.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer");
            } else if (reason == RejectReason.RATE_LIMITED || reason == RejectReason.TOO_MANY_TUNNELS_FOR_CLIENT
                    || reason == RejectReason.TOO_MANY_TUNNELS || reason == RejectReason.DRAINING) {
                r.headers().set(HttpHeaderNames.RETRY_AFTER, "1");
            }
        });
    }

    private static void respond(ChannelHandlerContext ctx, HttpResponseStatus status, String body,
            java.util.function.Consumer<FullHttpResponse> extra) {
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
        r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, r.content().readableBytes());
        r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        r.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-store");
        if (extra != null) {
            extra.accept(r);
        }
        ctx.channel().config().setAutoRead(true);
        ctx.writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
    }
}
