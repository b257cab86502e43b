package dev.atlas.proxy.internal;

import io.netty.channel.ChannelInitializer;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.ssl.SslContext;

/** The client-side pipeline: optional TLS, an HTTP/1.1 codec with small limits, then {@link FrontendHandler}. */
public final class AtlsProxyChannels extends ChannelInitializer<SocketChannel> {
    /** Per-channel outbound buffer marks: above 256 KiB the other side stops reading until below 64 KiB. */
    public static final WriteBufferWaterMark WATER_MARK = new WriteBufferWaterMark(
            Integer.getInteger("atls.proxy.lowWater", 64 * 1024), Integer.getInteger("atls.proxy.highWater", 256 * 1024));
    /**
     * Reads grow from 2 KiB up to this many bytes when a connection streams (idle ones stay small). 256 KiB: a
     * streaming tunnel then needs a quarter of the system calls of 64 KiB reads, for the same bytes.
     */
    public static final io.netty.channel.RecvByteBufAllocator READS = new io.netty.channel.AdaptiveRecvByteBufAllocator(
            64, 2048, Integer.getInteger("atls.proxy.maxRead", 256 * 1024));
    /** Request line, header block and body limits of the HTTP phase. */
    static final int MAX_INITIAL_LINE = 4096;
    static final int MAX_HEADER_BYTES = 8192;
    static final int MAX_BODY_BYTES = 8192;

    private final ProxyRuntime rt;
    private final SslContext ssl;
    private final boolean servesAdmin;
    private final boolean servesTunnels;

    public AtlsProxyChannels(ProxyRuntime rt, SslContext ssl, boolean servesAdmin, boolean servesTunnels) {
        this.rt = rt;
        this.ssl = ssl;
        this.servesAdmin = servesAdmin;
        this.servesTunnels = servesTunnels;
    }

    @Override
    protected void initChannel(SocketChannel ch) {
        if (ssl != null) {
            ch.pipeline().addLast("tls", ssl.newHandler(ch.alloc()));
        }
        ch.pipeline().addLast("http", new HttpServerCodec(MAX_INITIAL_LINE, MAX_HEADER_BYTES, 8192));
        ch.pipeline().addLast("aggregate", new HttpObjectAggregator(MAX_BODY_BYTES));
        ch.pipeline().addLast("front", new FrontendHandler(rt, servesAdmin, servesTunnels));
    }
}
