package dev.atlas.dstack.gateway.internal;

import dev.atlas.dstack.ra.RaException;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.timeout.IdleStateEvent;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import java.util.concurrent.Executor;
import java.util.function.Consumer;

/**
 * The answers the proxy gives itself after terminating TLS (spec §3.6; dstack's {@code proxy/tls_terminate.rs}
 * {@code handle_health_check} and {@code handle_this_node}), HTTP/1.1 only:
 * <ul>
 *   <li>{@code health.<zt-domain>}: {@code GET /} → 200 with an empty body; anything else → 404;</li>
 *   <li>{@code gateway.<zt-domain>}: a method other than GET → 405; {@code GET /health} → 200 (exactly that path,
 *       as dstack checks it before removing the prefix); otherwise the leading {@code /.dstack} prefixes are removed
 *       and {@code /index}, {@code /app-info}, {@code /acme-info} answer the {@link ThisNode} JSON; anything else →
 *       404. When {@link ThisNode} fails (no guest agent, no ACME account) the answer is 500 with an empty body and
 *       a log line (dstack drops the connection).</li>
 * </ul>
 * {@code app-info} and {@code acme-info} may call the guest agent: they run on a blocking executor, and the
 * connection reads no further request until the answer is written.
 */
final class LocalEndpoints extends SimpleChannelInboundHandler<FullHttpRequest> {
    enum Kind { HEALTH, THIS_NODE }

    private final Kind kind;
    private final ThisNode thisNode;
    private final Executor blocking;
    private final Consumer<String> log;

    LocalEndpoints(Kind kind, ThisNode thisNode, Executor blocking, Consumer<String> log) {
        this.kind = kind;
        this.thisNode = thisNode;
        this.blocking = blocking;
        this.log = log;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
        boolean keepAlive = HttpUtil.isKeepAlive(req);
        String path = new QueryStringDecoder(req.uri()).path();
        if (kind == Kind.HEALTH) {
            boolean ok = req.method().equals(HttpMethod.GET) && path.equals("/");
            respond(ctx, ok ? HttpResponseStatus.OK : HttpResponseStatus.NOT_FOUND, null, keepAlive);
            return;
        }
        if (!req.method().equals(HttpMethod.GET)) {
            respond(ctx, HttpResponseStatus.METHOD_NOT_ALLOWED, null, keepAlive);
            return;
        }
        if (path.equals("/health")) {
            respond(ctx, HttpResponseStatus.OK, null, keepAlive);
            return;
        }
        while (path.startsWith("/.dstack")) {
            path = path.substring("/.dstack".length());
        }
        switch (path) {
            case "/index" -> respond(ctx, HttpResponseStatus.OK, thisNode.indexJson(), keepAlive);
            case "/app-info" -> answerLater(ctx, "app-info", thisNode::appInfoJson, keepAlive);
            case "/acme-info" -> answerLater(ctx, "acme-info", thisNode::acmeInfoJson, keepAlive);
            default -> respond(ctx, HttpResponseStatus.NOT_FOUND, null, keepAlive);
        }
    }

    private void answerLater(ChannelHandlerContext ctx, String what, Callable<String> call, boolean keepAlive) {
        ctx.channel().config().setAutoRead(false);
        blocking.execute(() -> {
            String body;
            try {
                body = call.call();
            } catch (RaException e) {
                log.accept("this-node " + what + " failed: " + e.detail());
                body = null;
            } catch (Exception e) {
                log.accept("this-node " + what + " failed: " + ProxyConnection.describe(e));
                body = null;
            }
            String b = body;
            ctx.executor().execute(() -> {
                respond(ctx, b == null ? HttpResponseStatus.INTERNAL_SERVER_ERROR : HttpResponseStatus.OK, b,
                        keepAlive);
                ctx.channel().config().setAutoRead(true);
            });
        });
    }

    private static void respond(ChannelHandlerContext ctx, HttpResponseStatus status, String json,
            boolean keepAlive) {
        byte[] body = json == null ? new byte[0] : json.getBytes(StandardCharsets.UTF_8);
        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                Unpooled.wrappedBuffer(body));
        if (json != null) {
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
        }
        HttpUtil.setContentLength(res, body.length);
        HttpUtil.setKeepAlive(res, keepAlive);
        ctx.writeAndFlush(res);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof IdleStateEvent) {
            ctx.close();
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.accept("this-node connection error: " + ProxyConnection.describe(cause));
        ctx.close();
    }
}
