package dev.atlas.dstack.gateway.internal;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.handler.codec.dns.DatagramDnsQuery;
import io.netty.handler.codec.dns.DatagramDnsQueryDecoder;
import io.netty.handler.codec.dns.DatagramDnsResponse;
import io.netty.handler.codec.dns.DatagramDnsResponseEncoder;
import io.netty.handler.codec.dns.DefaultDnsQuestion;
import io.netty.handler.codec.dns.DefaultDnsRawRecord;
import io.netty.handler.codec.dns.DnsQuestion;
import io.netty.handler.codec.dns.DnsRecordType;
import io.netty.handler.codec.dns.DnsResponseCode;
import io.netty.handler.codec.dns.DnsSection;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A UDP DNS responder on loopback for the TXT tests (netty-codec-dns): names the test sets answer TXT records (or
 * NXDOMAIN with an optional SOA, SERVFAIL, or nothing at all); every other name is NXDOMAIN without SOA.
 */
final class TinyDnsServer implements AutoCloseable {
    /** How a name is answered. */
    sealed interface Answer permits Txt, NxDomain, ServFail, Silent {}

    record Txt(long ttl, List<String> values) implements Answer {}

    /** NXDOMAIN; {@code soaMinimum < 0}: no SOA in the authority section. */
    record NxDomain(long soaTtl, long soaMinimum) implements Answer {}

    record ServFail() implements Answer {}

    record Silent() implements Answer {}

    final Map<String, Answer> answers = new ConcurrentHashMap<>();
    final Map<String, AtomicInteger> queries = new ConcurrentHashMap<>();
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Channel channel;

    TinyDnsServer() throws InterruptedException {
        channel = new Bootstrap().group(group).channel(NioDatagramChannel.class)
                .handler(new ChannelInitializer<DatagramChannel>() {
                    @Override
                    protected void initChannel(DatagramChannel ch) {
                        ch.pipeline().addLast(new DatagramDnsQueryDecoder(), new DatagramDnsResponseEncoder(),
                                new SimpleChannelInboundHandler<DatagramDnsQuery>() {
                                    @Override
                                    protected void channelRead0(ChannelHandlerContext ctx, DatagramDnsQuery q) {
                                        answer(ctx, q);
                                    }
                                });
                    }
                }).bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)).sync().channel();
    }

    InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    int queries(String name) {
        AtomicInteger n = queries.get(name.toLowerCase(Locale.ROOT));
        return n == null ? 0 : n.get();
    }

    TinyDnsServer txt(String name, long ttl, String... values) {
        answers.put(name.toLowerCase(Locale.ROOT), new Txt(ttl, List.of(values)));
        return this;
    }

    private void answer(ChannelHandlerContext ctx, DatagramDnsQuery q) {
        DnsQuestion question = q.recordAt(DnsSection.QUESTION);
        String name = question.name();
        String key = (name.endsWith(".") ? name.substring(0, name.length() - 1) : name).toLowerCase(Locale.ROOT);
        queries.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
        Answer a = answers.getOrDefault(key, new NxDomain(0, -1));
        if (a instanceof Silent) {
            return;
        }
        DatagramDnsResponse r = new DatagramDnsResponse(q.recipient(), q.sender(), q.id());
        r.setRecursionAvailable(true);
        r.addRecord(DnsSection.QUESTION, new DefaultDnsQuestion(name, question.type()));
        switch (a) {
            case Txt t -> {
                r.setCode(DnsResponseCode.NOERROR);
                if (question.type() == DnsRecordType.TXT) {
                    for (String v : t.values()) {
                        byte[] b = v.getBytes(StandardCharsets.UTF_8);
                        ByteBuf rdata = Unpooled.buffer(b.length + 1).writeByte(b.length).writeBytes(b);
                        r.addRecord(DnsSection.ANSWER, new DefaultDnsRawRecord(name, DnsRecordType.TXT, t.ttl(), rdata));
                    }
                }
            }
            case NxDomain n -> {
                r.setCode(DnsResponseCode.NXDOMAIN);
                if (n.soaMinimum() >= 0) {
                    // mname "." rname "." serial refresh retry expire minimum
                    ByteBuf soa = Unpooled.buffer().writeByte(0).writeByte(0).writeInt(1).writeInt(60).writeInt(60)
                            .writeInt(60).writeInt((int) n.soaMinimum());
                    r.addRecord(DnsSection.AUTHORITY, new DefaultDnsRawRecord("test.", DnsRecordType.SOA,
                            n.soaTtl(), soa));
                }
            }
            case ServFail s -> r.setCode(DnsResponseCode.SERVFAIL);
            case Silent s -> throw new AssertionError();
        }
        ctx.writeAndFlush(r);
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
        group.shutdownGracefully(0, 0, java.util.concurrent.TimeUnit.MILLISECONDS);
    }
}
