package dev.atlas.dstack.vmm.internal;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.prpc.AdminAuth;
import dev.atlas.dstack.ra.prpc.PrpcDispatcher;
import dev.atlas.dstack.ra.prpc.PrpcRequest;
import dev.atlas.dstack.ra.prpc.PrpcResponse;
import dev.atlas.dstack.vmm.internal.web.Dashboard;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerDomainSocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The VMM's HTTP listener on Netty ({@code unix:PATH} or TCP): {@code [auth]} first for every route (upstream's
 * {@code HttpAuthFairing} guards the whole surface), then {@code /prpc/<Method>} through the
 * {@link PrpcDispatcher}, {@code GET /logs}, and the dashboard ({@code /}, {@code /v1}, {@code /beta},
 * {@code /res/<path>}). pRPC calls and log reads run on virtual threads, never on the event loop.
 */
final class VmmHttp implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("dev.atlas.dstack.vmm");
    /** The request limit: the pRPC body limit plus room for headers. */
    static final int MAX_REQUEST = PrpcDispatcher.DEFAULT_MAX_BODY_BYTES + 64 * 1024;

    private final EventLoopGroup group;
    private final Channel server;
    private final ExecutorService workers = Executors.newVirtualThreadPerTaskExecutor();
    private final Optional<Path> unixPath;

    VmmHttp(ListenAddress address, boolean reuse, AdminAuth auth, PrpcDispatcher dispatcher, VmLogs logs,
            Dashboard dashboard) throws RaException {
        this.group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        this.unixPath = address.unixPath();
        ServerBootstrap b = new ServerBootstrap().group(group).childHandler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline().addLast(new HttpServerCodec(8192, 16 * 1024, 16 * 1024),
                        new HttpObjectAggregator(MAX_REQUEST), new Handler(auth, dispatcher, logs, dashboard));
            }
        });
        SocketAddress bindTo;
        if (unixPath.isPresent()) {
            Path p = unixPath.get();
            try {
                if (p.getParent() != null) {
                    Files.createDirectories(p.getParent());
                }
                if (reuse) {
                    Files.deleteIfExists(p); // a stale socket of a previous run
                }
            } catch (IOException e) {
                group.shutdownGracefully(0, 0, java.util.concurrent.TimeUnit.SECONDS);
                throw new RaException(RaException.Reason.CONFIG_INVALID, "address", "cannot prepare the socket "
                        + p + ": " + e.getClass().getSimpleName());
            }
            b.channel(NioServerDomainSocketChannel.class);
            bindTo = UnixDomainSocketAddress.of(p);
        } else {
            b.channel(NioServerSocketChannel.class).option(ChannelOption.SO_REUSEADDR, reuse);
            bindTo = new InetSocketAddress(address.host(), address.port());
        }
        try {
            this.server = b.bind(bindTo).syncUninterruptibly().channel();
        } catch (RuntimeException e) {
            group.shutdownGracefully(0, 0, java.util.concurrent.TimeUnit.SECONDS);
            throw new RaException(RaException.Reason.CONFIG_INVALID, "address", "cannot bind " + bindTo + ": "
                    + e.getMessage());
        }
    }

    SocketAddress address() {
        SocketAddress a = server.localAddress();
        if (unixPath.isPresent() && !(a instanceof UnixDomainSocketAddress)) {
            return UnixDomainSocketAddress.of(unixPath.get());
        }
        return a;
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
        workers.shutdownNow();
        unixPath.ifPresent(p -> {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // best effort
            }
        });
    }

    private final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final AdminAuth auth;
        private final PrpcDispatcher dispatcher;
        private final VmLogs logs;
        private final Dashboard dashboard;

        Handler(AdminAuth auth, PrpcDispatcher dispatcher, VmLogs logs, Dashboard dashboard) {
            this.auth = auth;
            this.dispatcher = dispatcher;
            this.logs = logs;
            this.dashboard = dashboard;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            boolean keepAlive = HttpUtil.isKeepAlive(req);
            if (!req.decoderResult().isSuccess()) {
                send(ctx, text(400, "bad request"), false);
                return;
            }
            String uri = req.uri();
            int q = uri.indexOf('?');
            String path = q < 0 ? uri : uri.substring(0, q);
            String query = q < 0 ? "" : uri.substring(q + 1);
            Map<String, String> headers = new TreeMap<>();
            req.headers().forEach(h -> headers.putIfAbsent(h.getKey().toLowerCase(Locale.ROOT), h.getValue()));
            String method = req.method().name();
            AdminAuth.Result r = auth.check(method, headers, query);
            if (!r.allowed()) {
                FullHttpResponse resp = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                        HttpResponseStatus.UNAUTHORIZED, Unpooled.EMPTY_BUFFER);
                r.rejection().headers().forEach((k, v) -> resp.headers().set(k, v));
                resp.headers().set("X-App-Version", VmmRpc.VERSION);
                send(ctx, resp, keepAlive);
                return;
            }
            String routedQuery = r.rawQuery();
            if (path.startsWith("/prpc/")) {
                byte[] body = ByteBufUtil.getBytes(req.content());
                PrpcRequest pr = new PrpcRequest(method, path.substring(5), routedQuery,
                        headers.get("content-type"), body, headers, Optional.empty());
                ctx.channel().config().setAutoRead(false);
                workers.execute(() -> {
                    PrpcResponse resp = dispatcher.dispatch(pr);
                    FullHttpResponse out = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                            HttpResponseStatus.valueOf(resp.status()),
                            method.equals("HEAD") ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(resp.body()));
                    if (resp.contentType() != null) {
                        out.headers().set(HttpHeaderNames.CONTENT_TYPE, resp.contentType());
                    }
                    resp.headers().forEach((k, v) -> out.headers().set(k, v));
                    ctx.executor().execute(() -> {
                        send(ctx, out, keepAlive);
                        ctx.channel().config().setAutoRead(true);
                    });
                });
                return;
            }
            if (!method.equals("GET") && !method.equals("HEAD")) {
                send(ctx, text(404, "Not found"), keepAlive);
                return;
            }
            switch (path) {
                case "/", "/v1", "/beta" -> {
                    FullHttpResponse out = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                            Unpooled.wrappedBuffer(dashboard.page()));
                    out.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/html; charset=utf-8");
                    send(ctx, out, keepAlive);
                }
                case "/logs" -> workers.execute(() -> logs.serve(ctx, routedQuery, keepAlive));
                default -> {
                    if (path.startsWith("/res/")) {
                        Optional<Dashboard.Resource> res = dashboard.resource(path.substring(5));
                        if (res.isPresent()) {
                            FullHttpResponse out = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                                    HttpResponseStatus.OK, Unpooled.wrappedBuffer(res.get().bytes()));
                            out.headers().set(HttpHeaderNames.CONTENT_TYPE, res.get().contentType());
                            send(ctx, out, keepAlive);
                            return;
                        }
                    }
                    send(ctx, text(404, "Not found"), keepAlive);
                }
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            LOG.log(System.Logger.Level.DEBUG, "VMM HTTP connection error: {0}", cause.toString());
            ctx.close();
        }
    }

    static FullHttpResponse text(int status, String body) {
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(status),
                Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
        return r;
    }

    static void send(ChannelHandlerContext ctx, FullHttpResponse r, boolean keepAlive) {
        r.headers().set(HttpHeaderNames.CONTENT_LENGTH, r.content().readableBytes());
        r.headers().set("X-App-Version", VmmRpc.VERSION);
        if (keepAlive) {
            r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
            ctx.writeAndFlush(r);
        } else {
            r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            ctx.writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
        }
    }

    /** Starts a chunked {@code text/plain} response (for {@code /logs}). */
    static void startStream(ChannelHandlerContext ctx) {
        HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
        r.headers().set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        r.headers().set("X-App-Version", VmmRpc.VERSION);
        ctx.writeAndFlush(r);
    }

    /** Writes one chunk; returns false when the client is gone. */
    static boolean chunk(ChannelHandlerContext ctx, byte[] data) {
        if (!ctx.channel().isActive()) {
            return false;
        }
        try {
            ctx.writeAndFlush(new DefaultHttpContent(Unpooled.wrappedBuffer(data))).sync();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } catch (RuntimeException e) {
            return false;
        }
        return ctx.channel().isActive();
    }

    /** Ends a chunked response. */
    static void endStream(ChannelHandlerContext ctx, boolean keepAlive) {
        if (keepAlive) {
            ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
        } else {
            ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener(ChannelFutureListener.CLOSE);
        }
    }
}
