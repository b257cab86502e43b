package dev.atlas.dstack.simulator.internal;

import dev.atlas.dstack.ra.prpc.PrpcDispatcher;
import dev.atlas.dstack.ra.prpc.PrpcRequest;
import dev.atlas.dstack.ra.prpc.PrpcResponse;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.nio.NioServerDomainSocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * One HTTP/1.1 listener (Netty, NIO; a Unix domain socket or TCP) with pRPC mounts, as upstream's Rocket
 * instances: keep-alive with a 10 s idle limit ({@code keep_alive = 10} of {@code dstack.toml}), request heads up
 * to 8 KiB of line and 16 KiB of headers, bodies up to the dispatchers' limit (a larger declared or sent body
 * is answered as Rocket's limit makes pRPC answer: 400 {@code {"error": "failed to read data: payload too
 * large"}}, and the connection is closed), handlers run off the event loop one request at a time per
 * connection (so pipelined answers keep their order), {@code Server: dstack Simulator} as upstream's simulator.
 */
public final class HttpListener implements AutoCloseable {
    /** Idle seconds before a keep-alive connection is closed (upstream's {@code keep_alive = 10}). */
    public static final int KEEP_ALIVE_SECONDS = 10;
    static final int MAX_INITIAL_LINE = 8192;
    static final int MAX_HEADERS = 16 * 1024;
    static final String SERVER = "dstack Simulator";

    /** A pRPC dispatcher mounted at a path prefix ({@code ""} for the root, {@code "/prpc"}). */
    public record Mount(String prefix, PrpcDispatcher dispatcher) {
        public Mount {
            Objects.requireNonNull(prefix);
            Objects.requireNonNull(dispatcher);
            if (prefix.endsWith("/")) {
                throw new IllegalArgumentException("mount prefix must not end with /");
            }
        }
    }

    private final Channel channel;
    private final Path socket;

    private HttpListener(Channel channel, Path socket) {
        this.channel = channel;
        this.socket = socket;
    }

    /**
     * Binds {@code address} (a {@link UnixDomainSocketAddress} — an existing file there is replaced, as
     * upstream's {@code reuse = true} — or an {@link InetSocketAddress}) and serves the mounts.
     */
    public static HttpListener bind(EventLoopGroup group, ExecutorService executor, SocketAddress address,
            List<Mount> mounts, int maxBodyBytes) throws IOException {
        Path socket = null;
        ServerBootstrap b = new ServerBootstrap().group(group);
        if (address instanceof UnixDomainSocketAddress u) {
            socket = u.getPath();
            Files.deleteIfExists(socket);
            b.channel(NioServerDomainSocketChannel.class);
        } else {
            b.channel(NioServerSocketChannel.class);
        }
        List<Mount> ms = List.copyOf(mounts);
        b.childHandler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline()
                        .addLast(new IdleStateHandler(0, 0, KEEP_ALIVE_SECONDS, TimeUnit.SECONDS))
                        .addLast(new HttpServerCodec(MAX_INITIAL_LINE, MAX_HEADERS, 8192))
                        .addLast(new HttpServerKeepAliveHandler())
                        .addLast(new BoundedAggregator(maxBodyBytes))
                        .addLast(new Handler(ms, executor));
            }
        });
        try {
            Channel ch = b.bind(address).syncUninterruptibly().channel();
            return new HttpListener(ch, socket);
        } catch (RuntimeException e) {
            throw new IOException("cannot listen on " + address + ": " + e.getMessage(), e);
        }
    }

    /** The TCP address bound (port 0 resolved), or empty on a Unix socket. */
    public Optional<InetSocketAddress> tcpAddress() {
        return channel.localAddress() instanceof InetSocketAddress a ? Optional.of(a) : Optional.empty();
    }

    /** The Unix socket path, or empty on TCP. */
    public Optional<Path> socket() {
        return Optional.ofNullable(socket);
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
        if (socket != null) {
            try {
                Files.deleteIfExists(socket);
            } catch (IOException ignored) {
                // best effort: the file is replaced at the next bind anyway
            }
        }
    }

    /** Netty's aggregator, answering an oversized body as upstream's pRPC does (400) instead of 413. */
    private static final class BoundedAggregator extends HttpObjectAggregator {
        BoundedAggregator(int max) {
            super(max);
        }

        @Override
        protected void handleOversizedMessage(ChannelHandlerContext ctx, io.netty.handler.codec.http.HttpMessage m) {
            FullHttpResponse resp = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.BAD_REQUEST,
                    Unpooled.copiedBuffer("{\n  \"error\": \"failed to read data: payload too large\"\n}",
                            StandardCharsets.UTF_8));
            resp.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
            resp.headers().set(HttpHeaderNames.SERVER, SERVER);
            resp.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            HttpUtil.setContentLength(resp, resp.content().readableBytes());
            ctx.writeAndFlush(resp).addListener(ChannelFutureListener.CLOSE);
        }
    }

    private static final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final List<Mount> mounts;
        private final ExecutorService executor;
        /** Requests decoded but not yet answered, in arrival order; touched on the event loop only. */
        private final java.util.ArrayDeque<Runnable> pending = new java.util.ArrayDeque<>();
        private boolean busy;
        private boolean closing;

        Handler(List<Mount> mounts, ExecutorService executor) {
            this.mounts = mounts;
            this.executor = executor;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            if (closing) {
                return;
            }
            boolean keepAlive = HttpUtil.isKeepAlive(req);
            HttpVersion version = req.protocolVersion();
            if (!req.decoderResult().isSuccess()) {
                enqueue(ctx, () -> finish(ctx, plain(HttpResponseStatus.BAD_REQUEST, "Bad Request"), false));
                return;
            }
            String uri = req.uri();
            int q = uri.indexOf('?');
            String path = q < 0 ? uri : uri.substring(0, q);
            String query = q < 0 ? null : uri.substring(q + 1);
            Mount mount = null;
            String rel = null;
            for (Mount m : mounts) {
                if (m.prefix().isEmpty() || path.equals(m.prefix()) || path.startsWith(m.prefix() + "/")) {
                    if (mount == null || m.prefix().length() > mount.prefix().length()) {
                        mount = m;
                        rel = path.substring(m.prefix().length());
                    }
                }
            }
            if (mount == null) {
                enqueue(ctx, () -> finish(ctx, plain(HttpResponseStatus.NOT_FOUND, "Not Found"), keepAlive));
                return;
            }
            Map<String, String> headers = new HashMap<>();
            req.headers().forEach(h -> headers.merge(h.getKey().toLowerCase(Locale.ROOT), h.getValue(),
                    (a, b) -> a + ", " + b));
            PrpcRequest pr = new PrpcRequest(req.method().name(), rel, query,
                    req.headers().get(HttpHeaderNames.CONTENT_TYPE), ByteBufUtil.getBytes(req.content()), headers,
                    Optional.empty());
            PrpcDispatcher d = mount.dispatcher();
            enqueue(ctx, () -> {
                try {
                    executor.execute(() -> {
                        PrpcResponse r;
                        try {
                            r = d.dispatch(pr);
                        } catch (RuntimeException e) {
                            r = new PrpcResponse(500, "application/json",
                                    "{\"error\":\"internal error\"}".getBytes(StandardCharsets.UTF_8), Map.of());
                        }
                        FullHttpResponse resp = new DefaultFullHttpResponse(version,
                                HttpResponseStatus.valueOf(r.status()), Unpooled.wrappedBuffer(r.body()));
                        if (r.contentType() != null) {
                            resp.headers().set(HttpHeaderNames.CONTENT_TYPE, r.contentType());
                        }
                        if (r.headers() != null) {
                            r.headers().forEach((k, v) -> resp.headers().set(k, v));
                        }
                        ctx.executor().execute(() -> finish(ctx, resp, keepAlive));
                    });
                } catch (RejectedExecutionException e) {
                    closing = true;
                    ctx.close();
                }
            });
        }

        /** Runs {@code task} now if no request is in progress, else after the ones before it (event loop only). */
        private void enqueue(ChannelHandlerContext ctx, Runnable task) {
            pending.add(task);
            ctx.channel().config().setAutoRead(false);
            if (!busy) {
                next(ctx);
            }
        }

        private void next(ChannelHandlerContext ctx) {
            Runnable t = pending.poll();
            if (t == null) {
                busy = false;
                if (!closing) {
                    ctx.channel().config().setAutoRead(true);
                    ctx.read();
                }
                return;
            }
            busy = true;
            t.run();
        }

        private static FullHttpResponse plain(HttpResponseStatus status, String text) {
            FullHttpResponse resp = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                    Unpooled.copiedBuffer(text, StandardCharsets.UTF_8));
            resp.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
            return resp;
        }

        /** Writes one answer (event loop); then the next queued request, or closes without keep-alive. */
        private void finish(ChannelHandlerContext ctx, FullHttpResponse resp, boolean keepAlive) {
            if (closing) {
                resp.release();
                return;
            }
            resp.headers().set(HttpHeaderNames.SERVER, SERVER);
            HttpUtil.setContentLength(resp, resp.content().readableBytes());
            if (keepAlive) {
                HttpUtil.setKeepAlive(resp, true);
            } else {
                resp.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                closing = true;
                pending.clear();
            }
            ctx.writeAndFlush(resp).addListener((ChannelFutureListener) f -> {
                if (!keepAlive || !f.isSuccess()) {
                    closing = true;
                    ctx.close();
                } else {
                    next(ctx);
                }
            });
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt instanceof IdleStateEvent) {
                ctx.close();
                return;
            }
            super.userEventTriggered(ctx, evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
