package dev.atlas.proxy.internal;

import dev.atlas.proxy.InvalidTargetException;
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
import java.util.Locale;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The HTTP phase of a client connection: health and metrics requests, and the checks before a tunnel opens.
 * Order (it decides which refusal a request gets): draining, WebSocket handshake validity, rate limit, tunnel
 * limits, token, Origin, target syntax, allowlist, resolution, resolved address, connect. Only when the target
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
        String rawTarget = "-";
        if (rt.draining) {
            reject(ctx, client, rawTarget, RejectReason.DRAINING, "the proxy is shutting down");
            return;
        }
        String bad = handshakeProblem(req);
        if (bad != null) {
            reject(ctx, client, rawTarget, RejectReason.BAD_HANDSHAKE, bad);
            return;
        }
        Subprotocols sub = Subprotocols.choose(req.headers().getAll(HttpHeaderNames.SEC_WEBSOCKET_PROTOCOL));
        if (sub.refusal() != null) {
            reject(ctx, client, rawTarget, RejectReason.UNSUPPORTED_SUBPROTOCOL, sub.refusal());
            return;
        }
        if (!rt.rate.tryAcquire(client)) {
            reject(ctx, client, rawTarget, RejectReason.RATE_LIMITED, "more than " + rt.config.ratePerClient()
                    + " new tunnels per second (burst " + rt.config.rateBurst() + ")");
            return;
        }
        switch (rt.slots.tryAcquire(client)) {
            case TOTAL_FULL -> {
                reject(ctx, client, rawTarget, RejectReason.TOO_MANY_TUNNELS, rt.config.maxTunnels() + " tunnels open");
                return;
            }
            case CLIENT_FULL -> {
                reject(ctx, client, rawTarget, RejectReason.TOO_MANY_TUNNELS_FOR_CLIENT,
                        rt.config.maxTunnelsPerClient() + " tunnels open for this client");
                return;
            }
            case OK -> slotClient = client;
        }
        if (rt.config.tokenRequired() && !rt.config.tokenMatches(presentedToken(req))) {
            reject(ctx, client, rawTarget, RejectReason.UNAUTHORIZED, "missing or wrong bearer token");
            return;
        }
        if (!rt.config.allowedOrigins().isEmpty()) {
            String origin = req.headers().get(HttpHeaderNames.ORIGIN);
            if (origin == null || req.headers().getAll(HttpHeaderNames.ORIGIN).size() != 1
                    || !rt.config.allowedOrigins().contains(origin.strip().toLowerCase(Locale.ROOT))) {
                reject(ctx, client, rawTarget, RejectReason.ORIGIN_NOT_ALLOWED,
                        origin == null ? "no Origin header" : "Origin not in the allowed list");
                return;
            }
        }
        List<String> targets;
        try {
            targets = targetParameters(req.uri());
        } catch (IllegalArgumentException e) {
            reject(ctx, client, rawTarget, RejectReason.BAD_TARGET, "undecodable query string");
            return;
        }
        TargetAddress target;
        if (targets.size() > 1) {
            reject(ctx, client, abbreviate(String.join(",", targets)), RejectReason.BAD_TARGET,
                    "the target parameter is given more than once");
            return;
        } else if (targets.isEmpty()) {
            if (rt.config.defaultTarget().isEmpty()) {
                reject(ctx, client, rawTarget, RejectReason.NO_TARGET, "no target parameter and no default target");
                return;
            }
            target = rt.config.defaultTarget().get();
        } else {
            rawTarget = abbreviate(targets.get(0));
            try {
                target = TargetAddress.parse(targets.get(0));
            } catch (InvalidTargetException e) {
                reject(ctx, client, rawTarget, RejectReason.BAD_TARGET, e.getMessage());
                return;
            }
        }
        if (!rt.config.allows(target)) {
            reject(ctx, client, target.toString(), RejectReason.TARGET_NOT_ALLOWED, "not in the allowlist");
            return;
        }
        // The subprotocol goes into the 101 as a response header (Netty's own selection reads only the first
        // Sec-WebSocket-Protocol line); it was decided above, before any target connection.
        if (!"13".equals(req.headers().get(HttpHeaderNames.SEC_WEBSOCKET_VERSION, "").strip())) {
            reject(ctx, client, target.toString(), RejectReason.BAD_HANDSHAKE,
                    "unsupported WebSocket version (Sec-WebSocket-Version: 13 required)");
            return;
        }
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
            resolved(ctx, kept, hs, sub.selected(), client, target, List.of(target.literalAddress().get()), true, t0);
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
                ctx.executor().execute(() -> resolved(ctx, kept, hs, sub.selected(), client, target, addrs, false, t0));
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
        List<InetAddress> ok = new ArrayList<>();
        String why = "name resolved to no address";
        for (InetAddress a : addrs) {
            String r = Addresses.refusal(a, literal, rt.config.allowedCidrs());
            if (r == null) {
                ok.add(a);
            } else {
                why = r + " (" + Addresses.text(a) + ")";
            }
        }
        if (ok.isEmpty()) {
            req.release();
            reject(ctx, client, target.toString(), RejectReason.ADDRESS_NOT_ALLOWED, why);
            return;
        }
        connect(ctx, req, hs, sub, client, target, ok, 0, t0);
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
            rt.listener.opened(t.summary());
            if (!backend.isActive()) {
                t.finish(dev.atlas.proxy.CloseReason.TARGET_CLOSED, null);
                return;
            }
            ctx.channel().config().setAutoRead(true);
            backend.config().setAutoRead(true);
        });
    }

    /** Null when the request is a usable RFC 6455 upgrade, else why not. */
    private static String handshakeProblem(FullHttpRequest req) {
        if (req.method() != HttpMethod.GET) {
            return "the upgrade must be a GET";
        }
        if (!HttpVersion.HTTP_1_1.equals(req.protocolVersion())) {
            return "the upgrade must be HTTP/1.1";
        }
        if (!req.headers().containsValue(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE, true)) {
            return "Connection: Upgrade missing";
        }
        if (req.headers().getAll(HttpHeaderNames.SEC_WEBSOCKET_KEY).size() != 1) {
            return "exactly one Sec-WebSocket-Key required";
        }
        if (req.content().isReadable()) {
            return "an upgrade request has no body";
        }
        return null;
    }

    /** The token from {@code Authorization: Bearer} or from an offered {@code atls-proxy.bearer.<token>} subprotocol. */
    static String presentedToken(FullHttpRequest req) {
        List<String> auth = req.headers().getAll(HttpHeaderNames.AUTHORIZATION);
        if (auth.size() > 1) {
            return null;
        }
        if (auth.size() == 1) {
            String a = auth.get(0).strip();
            if (a.length() > 7 && a.regionMatches(true, 0, "Bearer ", 0, 7)) {
                return a.substring(7).strip();
            }
            return null;
        }
        String found = null;
        for (String h : req.headers().getAll(HttpHeaderNames.SEC_WEBSOCKET_PROTOCOL)) {
            for (String p : h.split(",")) {
                String t = p.strip();
                if (t.startsWith(TOKEN_SUBPROTOCOL_PREFIX)) {
                    if (found != null) {
                        return null; // two tokens: ambiguous
                    }
                    found = t.substring(TOKEN_SUBPROTOCOL_PREFIX.length());
                }
            }
        }
        return found;
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

    static String abbreviate(String s) {
        return s.length() <= 120 ? s : s.substring(0, 120) + "…";
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
