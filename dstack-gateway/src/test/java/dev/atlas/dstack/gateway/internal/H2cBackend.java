package dev.atlas.dstack.gateway.internal;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamFrame;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * An h2c server with prior knowledge (what a gRPC backend behind {@code -<port>g} speaks): every request is answered
 * 200 with {@code body} and the header {@code x-proto: h2}.
 */
final class H2cBackend implements AutoCloseable {
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Channel channel;

    H2cBackend(InetAddress bind, int port, String body) throws InterruptedException {
        channel = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(Http2FrameCodecBuilder.forServer().build(),
                                new Http2MultiplexHandler(new ChannelInitializer<Channel>() {
                                    @Override
                                    protected void initChannel(Channel stream) {
                                        stream.pipeline().addLast(new SimpleChannelInboundHandler<Http2StreamFrame>() {
                                            @Override
                                            protected void channelRead0(ChannelHandlerContext ctx,
                                                                        Http2StreamFrame f) {
                                                if (f instanceof Http2HeadersFrame h && h.isEndStream()
                                                        || f instanceof io.netty.handler.codec.http2.Http2DataFrame d
                                                        && d.isEndStream()) {
                                                    ctx.write(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers()
                                                            .status("200").add("x-proto", "h2")));
                                                    ctx.writeAndFlush(new DefaultHttp2DataFrame(Unpooled.copiedBuffer(
                                                            body, StandardCharsets.UTF_8), true));
                                                }
                                            }
                                        });
                                    }
                                }));
                    }
                }).bind(new InetSocketAddress(bind, port)).sync().channel();
    }

    int port() {
        return ((InetSocketAddress) channel.localAddress()).getPort();
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
        group.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
    }
}
