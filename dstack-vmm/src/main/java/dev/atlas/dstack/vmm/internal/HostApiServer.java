package dev.atlas.dstack.vmm.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.prpc.PrpcContext;
import dev.atlas.dstack.ra.prpc.PrpcDispatcher;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcJson;
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
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerDomainSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * The host API for guests ({@code host_api.proto}, service {@code HostApi}: {@code Info}, {@code Notify},
 * {@code GetSealingKey}) served as pRPC over HTTP/1.1 on one Unix-domain socket per VM
 * ({@code VmLaunch.hostApiSocket}), with Netty (one NIO event loop for every VM) and dstack-ra's
 * {@link PrpcDispatcher}.
 *
 * <p>Upstream ({@code vmm/src/main.rs} {@code run_host_api}, {@code vmm/src/host_api_service.rs}) serves it on
 * {@code [host_api] address = "vsock:2"}, {@code port = 10000}, mounted at {@code /api}, and identifies the calling
 * VM by the vsock CID of the connection. Here the socket a call arrives on identifies the VM: a guest can only
 * reach its own socket (the simulator backend gives each simulated guest its own path). Methods are served both
 * at {@code /api/HostApi.<Method>} (upstream's mount, what {@code host_api_url = "vsock://2:10000/api"} leads a
 * guest to) and at {@code /HostApi.<Method>}; the {@code HostApi.} prefix is optional as in every pRPC service.
 *
 * <p>{@code GetSealingKey} is forwarded to the {@code [key_provider]} with {@link KeyProviderClient}; without a
 * key provider it answers upstream's {@code "Key provider is not enabled"}. Request bodies are limited to 4 MiB
 * (a 1 MiB quote is 2 MiB of hex); connections idle for 30 s are closed; requests of one connection are handled
 * one at a time, off the event loop.
 */
public final class HostApiServer implements AutoCloseable {
    /** {@code HostInfo.name}, as upstream's VMM answers. */
    public static final String HOST_NAME = "dstack VMM";
    /** The mount path upstream uses ({@code host_api_url = vsock://2:<port>/api}). */
    public static final String MOUNT = "/api";
    static final int MAX_BODY = 4 * 1024 * 1024;
    /** {@code sun_path} holds 108 bytes on Linux, including the terminating NUL. */
    static final int MAX_SOCKET_PATH = 107;
    static final int IDLE_SECONDS = 30;
    private static final System.Logger LOG = System.getLogger("dev.atlas.dstack.vmm.hostapi");

    private final HostApiListener listener;
    private final String version;
    private final Optional<KeyProviderClient> keyProvider;
    private final EventLoopGroup group;
    private final ExecutorService executor;
    private final Map<String, Bound> bound = new ConcurrentHashMap<>();
    private volatile boolean closed;

    private record Bound(Channel channel, Path socket) {}

    private HostApiServer(Builder b) {
        this.listener = b.listener;
        this.version = b.version;
        this.keyProvider = b.keyProvider.map(a -> new KeyProviderClient(a, b.keyProviderTimeout));
        this.group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        this.executor = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("host-api-", 0).factory());
    }

    /**
     * The host API as {@code vmm.toml} configures it: {@code GetSealingKey} forwarded to {@code [key_provider]
     * address:port} when {@code enabled} (30 s timeout), {@code HostInfo.version} = {@code version}.
     * {@code [host_api] address/port} (vsock) are not used: each VM gets its own Unix socket ({@link #bind}).
     *
     * @throws RaException {@code CONFIG_INVALID} when {@code [key_provider] address} is not an IP address
     */
    public static HostApiServer forConfig(dev.atlas.dstack.vmm.VmmConfig config, String version,
            HostApiListener listener) throws RaException {
        Builder b = builder(listener).version(version);
        dev.atlas.dstack.vmm.VmmConfig.KeyProvider kp = config.keyProvider();
        if (kp.enabled()) {
            String a = kp.address();
            if (!a.matches("[0-9.]+|\\[?[0-9a-fA-F:]+\\]?")) {
                throw new RaException(Reason.CONFIG_INVALID, "key_provider.address",
                        "key_provider.address must be an IP address (as upstream's IpAddr), got " + a);
            }
            if (kp.port() < 1 || kp.port() > 65535) {
                throw new RaException(Reason.CONFIG_INVALID, "key_provider.port",
                        "key_provider.port must be 1..65535, got " + kp.port());
            }
            b.keyProvider(new InetSocketAddress(a.replace("[", "").replace("]", ""), kp.port()));
        }
        return b.build();
    }

    /** A builder; {@code listener} receives every {@code Notify}. */
    public static Builder builder(HostApiListener listener) {
        return new Builder(listener);
    }

    /**
     * Serves the host API for {@code vmId} on {@code socket} (an existing file there is replaced; the parent
     * directory must exist). Re-binding a VM id closes its previous socket first.
     *
     * @throws RaException {@code CONFIG_INVALID} when the socket cannot be bound (the message names the path)
     */
    public void bind(String vmId, Path socket) throws RaException {
        Objects.requireNonNull(vmId, "vmId");
        Objects.requireNonNull(socket, "socket");
        if (closed) {
            throw new IllegalStateException("HostApiServer is closed");
        }
        int len = socket.toString().getBytes(StandardCharsets.UTF_8).length;
        if (len > MAX_SOCKET_PATH) {
            throw new RaException(Reason.CONFIG_INVALID, "hostApiSocket", "the host API socket path of VM " + vmId
                    + " is " + len + " bytes, more than a Unix socket allows (" + MAX_SOCKET_PATH + "): " + socket
                    + "; use a shorter run_path");
        }
        unbind(vmId);
        PrpcDispatcher dispatcher = dispatcher(vmId);
        try {
            Files.deleteIfExists(socket);
            Channel ch = new ServerBootstrap().group(group).channel(NioServerDomainSocketChannel.class)
                    .childHandler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel c) {
                            c.pipeline()
                                    .addLast(new IdleStateHandler(0, 0, IDLE_SECONDS, TimeUnit.SECONDS))
                                    .addLast(new HttpServerCodec(8192, 16 * 1024, 8192))
                                    .addLast(new HttpObjectAggregator(MAX_BODY))
                                    .addLast(new Handler(dispatcher, executor));
                        }
                    }).bind(UnixDomainSocketAddress.of(socket)).syncUninterruptibly().channel();
            bound.put(vmId, new Bound(ch, socket));
        } catch (IOException | RuntimeException e) {
            throw new RaException(Reason.CONFIG_INVALID, "hostApiSocket",
                    "cannot listen for the host API of VM " + vmId + " on " + socket + ": " + e.getMessage(), e);
        }
    }

    /** Stops serving {@code vmId} and deletes its socket file; no-op when not bound. */
    public void unbind(String vmId) {
        Bound b = bound.remove(vmId);
        if (b == null) {
            return;
        }
        b.channel().close().syncUninterruptibly();
        try {
            Files.deleteIfExists(b.socket());
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "cannot delete host API socket " + b.socket(), e);
        }
    }

    /** The socket bound for {@code vmId}, if any. */
    public Optional<Path> socket(String vmId) {
        return Optional.ofNullable(bound.get(vmId)).map(Bound::socket);
    }

    /** Closes every VM socket and the worker threads. */
    @Override
    public void close() {
        closed = true;
        for (String id : Map.copyOf(bound).keySet()) {
            unbind(id);
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        executor.shutdownNow();
    }

    /** The pRPC service of one VM. */
    PrpcDispatcher dispatcher(String vmId) {
        return PrpcDispatcher.builder()
                .trimPrefix("HostApi.")
                .maxBodyBytes(MAX_BODY)
                .method("Info", (req, ctx) -> info())
                .method("Notify", (req, ctx) -> notify(vmId, req))
                .method("GetSealingKey", (req, ctx) -> getSealingKey(vmId, req, ctx))
                .onUnexpectedError((m, e) -> LOG.log(System.Logger.Level.WARNING, "host API " + m + " of VM " + vmId + " failed", e))
                .build();
    }

    private ObjectNode info() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("name", HOST_NAME);
        o.put("version", version);
        return o;
    }

    private ObjectNode notify(String vmId, JsonNode req) throws PrpcException {
        String event = PrpcJson.string(req, "event");
        String payload = PrpcJson.string(req, "payload");
        listener.notify(vmId, event, payload);
        return JsonNodeFactory.instance.objectNode();
    }

    private ObjectNode getSealingKey(String vmId, JsonNode req, PrpcContext ctx) throws PrpcException {
        if (keyProvider.isEmpty()) {
            throw new PrpcException("Key provider is not enabled");
        }
        byte[] quote = PrpcJson.bytes(req, "quote");
        KeyProviderClient.Response r;
        try {
            r = keyProvider.get().getKey(quote);
        } catch (RaException e) {
            LOG.log(System.Logger.Level.WARNING, "GetSealingKey of VM " + vmId + ": " + e.getMessage());
            throw new PrpcException("Failed to get sealing key from key provider: " + e.detail());
        }
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("encrypted_key", PrpcJson.hex(r.encryptedKey()));
        o.put("provider_quote", PrpcJson.hex(r.providerQuote()));
        return o;
    }

    /** Options; defaults as upstream's {@code vmm.toml} without {@code [key_provider]}. */
    public static final class Builder {
        final HostApiListener listener;
        String version = "0.0.0";
        Optional<InetSocketAddress> keyProvider = Optional.empty();
        Duration keyProviderTimeout = Duration.ofSeconds(30);

        Builder(HostApiListener listener) {
            this.listener = Objects.requireNonNull(listener, "listener");
        }

        /** {@code HostInfo.version}. */
        public Builder version(String v) {
            this.version = Objects.requireNonNull(v);
            return this;
        }

        /** Enables {@code GetSealingKey}: forwarded to this key provider ({@code [key_provider] address:port}). */
        public Builder keyProvider(InetSocketAddress address) {
            this.keyProvider = Optional.of(address);
            return this;
        }

        /** Connect and I/O timeout towards the key provider (default 30 s, as upstream's provider). */
        public Builder keyProviderTimeout(Duration d) {
            this.keyProviderTimeout = Objects.requireNonNull(d);
            return this;
        }

        public HostApiServer build() {
            return new HostApiServer(this);
        }
    }

    /** One connection: requests dispatched off the event loop, one at a time, answered in order. */
    private static final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final PrpcDispatcher dispatcher;
        private final ExecutorService executor;

        Handler(PrpcDispatcher dispatcher, ExecutorService executor) {
            this.dispatcher = dispatcher;
            this.executor = executor;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            boolean keepAlive = HttpUtil.isKeepAlive(req);
            HttpVersion version = req.protocolVersion();
            if (!req.decoderResult().isSuccess()) {
                write(ctx, text(HttpResponseStatus.BAD_REQUEST, "Bad Request"), false);
                return;
            }
            String uri = req.uri();
            int q = uri.indexOf('?');
            String path = q < 0 ? uri : uri.substring(0, q);
            String query = q < 0 ? null : uri.substring(q + 1);
            if (path.startsWith(MOUNT + "/")) {
                path = path.substring(MOUNT.length());
            }
            Map<String, String> headers = new HashMap<>();
            req.headers().forEach(h -> headers.merge(h.getKey().toLowerCase(Locale.ROOT), h.getValue(),
                    (a, b) -> a + ", " + b));
            PrpcRequest pr = new PrpcRequest(req.method().name(), path, query,
                    req.headers().get(HttpHeaderNames.CONTENT_TYPE), ByteBufUtil.getBytes(req.content()), headers,
                    Optional.empty());
            ctx.channel().config().setAutoRead(false);
            try {
                executor.execute(() -> {
                    PrpcResponse r = dispatcher.dispatch(pr);
                    FullHttpResponse resp = new DefaultFullHttpResponse(version,
                            HttpResponseStatus.valueOf(r.status()), Unpooled.wrappedBuffer(r.body()));
                    if (r.contentType() != null) {
                        resp.headers().set(HttpHeaderNames.CONTENT_TYPE, r.contentType());
                    }
                    r.headers().forEach((k, v) -> resp.headers().set(k, v));
                    ctx.executor().execute(() -> write(ctx, resp, keepAlive));
                });
            } catch (RejectedExecutionException e) {
                ctx.close();
            }
        }

        private static FullHttpResponse text(HttpResponseStatus status, String body) {
            FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                    Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
            r.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
            return r;
        }

        private static void write(ChannelHandlerContext ctx, FullHttpResponse resp, boolean keepAlive) {
            HttpUtil.setContentLength(resp, resp.content().readableBytes());
            if (keepAlive) {
                HttpUtil.setKeepAlive(resp, true);
            } else {
                resp.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            }
            ctx.writeAndFlush(resp).addListener((ChannelFutureListener) f -> {
                if (!keepAlive || !f.isSuccess()) {
                    ctx.close();
                } else {
                    ctx.channel().config().setAutoRead(true);
                    ctx.read();
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
