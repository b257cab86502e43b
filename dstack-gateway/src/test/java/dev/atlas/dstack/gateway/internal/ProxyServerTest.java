package dev.atlas.dstack.gateway.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atlas.dstack.ra.RaException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.codec.http2.Http2StreamFrame;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The proxy on loopback with a fake router and small backends: terminate (HTTP/1.1, h2 via ALPN to an h2c backend),
 * passthrough byte relay, PROXY in and out, the reserved ids, and every attack of issue 18 (each must end in a reset
 * with its reason counted, never a byte from a backend). Two proxies per class: {@code main} with roomy timeouts for
 * the functional cases, {@code strict} with 300 ms timeouts and inbound PROXY for the timeout cases.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ProxyServerTest {
    private static final String ZT = "test.example";
    private static final Duration STRICT = Duration.ofMillis(300);

    private static ProxyTestPki pki;
    private static CertStore certs;
    private static FakeRouter router;
    private static SimpleMeterRegistry meters;
    private static SimpleMeterRegistry strictMeters;
    private static ProxyServer main;
    private static ProxyServer strict;
    private static final List<AutoCloseable> closeables = new ArrayList<>();
    private static EventLoopGroup clientGroup;
    private static TestBackend echo;
    private static TestBackend http;
    private static TestBackend stall;
    private static TestBackend reset;
    private static Channel h2c;
    private static ServerSocket neverAccepts;
    private static final List<SocketChannel> backlogFillers = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        pki = new ProxyTestPki();
        certs = CertStore.create(List.of("1.2", "1.3"), Clock.systemUTC());
        ProxyTestPki.Leaf leaf = pki.leaf(ZT);
        certs.put(ZT, leaf.chainPem(), leaf.keyPem());
        echo = TestBackend.echo();
        http = TestBackend.http("app1");
        stall = TestBackend.stall();
        reset = TestBackend.reset();
        closeables.addAll(List.of(echo, http, stall, reset));
        clientGroup = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        h2c = startH2c();
        neverAccepts = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        for (int i = 0; i < 4; i++) { // fill the accept queue: further SYNs are dropped
            SocketChannel c = SocketChannel.open();
            c.configureBlocking(false);
            c.connect(neverAccepts.getLocalSocketAddress());
            backlogFillers.add(c);
        }
        InetSocketAddress closedPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = (InetSocketAddress) s.getLocalSocketAddress();
        }
        router = new FakeRouter()
                .add("app1", 80, false, http.address())
                .add("app1", 8080, false, http.address())
                .add("app1", 443, false, echo.address())
                .add("app2", 443, true, echo.address())
                .add("app3", 50051, false, (InetSocketAddress) h2c.localAddress())
                .add("multi", 443, false, closedPort, echo.address())
                .add("slowfirst", 443, false, (InetSocketAddress) neverAccepts.getLocalSocketAddress(),
                        echo.address())
                .add("dead", 443, false, closedPort)
                .add("never", 443, false, (InetSocketAddress) neverAccepts.getLocalSocketAddress())
                .add("stall", 443, false, stall.address())
                .add("stall", 80, false, stall.address())
                .add("reset", 443, false, reset.address())
                .addCustom("custom.example.org", "app1", echo.address());
        meters = new SimpleMeterRegistry();
        ThisNode node = new ThisNode() {
            @Override
            public String indexJson() {
                return "{\"type\":\"dstack gateway\",\"paths\":[\"/index\",\"/app-info\",\"/acme-info\"]}";
            }

            @Override
            public String appInfoJson() {
                return "{\"app_id\":\"gw\"}";
            }

            @Override
            public String acmeInfoJson() throws RaException {
                throw new RaException(RaException.Reason.AGENT_UNAVAILABLE, "acme", "no ACME account yet");
            }
        };
        main = ProxyServer.builder(ProxySettings.builder()
                        .listenAddr(InetAddress.getLoopbackAddress()).listenPorts(List.of(0, 0))
                        .tlsVersions(List.of("1.2", "1.3")).insecureLocalhostBackend(true).build())
                .router(router).certStore(certs).thisNode(node).meterRegistry(meters).start();
        strictMeters = new SimpleMeterRegistry();
        strict = ProxyServer.builder(ProxySettings.builder()
                        .listenAddr(InetAddress.getLoopbackAddress()).listenPorts(List.of(0))
                        .tlsVersions(List.of("1.3")).inboundPpEnabled(true).allTimeouts(STRICT).build())
                .router(router).certStore(certs).meterRegistry(strictMeters).start();
    }

    @AfterAll
    static void stop() throws Exception {
        if (main != null) {
            main.close();
        }
        if (strict != null) {
            strict.close();
        }
        for (AutoCloseable c : closeables) {
            c.close();
        }
        for (SocketChannel c : backlogFillers) {
            c.close();
        }
        if (neverAccepts != null) {
            neverAccepts.close();
        }
        if (h2c != null) {
            h2c.close();
        }
        if (clientGroup != null) {
            clientGroup.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
        }
    }

    // ---------------------------------------------------------------- helpers

    private static Socket raw(ProxyServer p) throws IOException {
        Socket s = new Socket();
        s.connect(p.proxyAddresses().get(0), 5000);
        s.setSoTimeout(10_000);
        return s;
    }

    private static SSLSocket tls(String sni, String... alpn) throws Exception {
        Socket plain = raw(main);
        SSLSocket s = (SSLSocket) pki.clientContext().getSocketFactory().createSocket(plain, sni,
                plain.getPort(), true);
        SSLParameters p = s.getSSLParameters();
        p.setServerNames(List.of(new SNIHostName(sni)));
        p.setEndpointIdentificationAlgorithm("HTTPS");
        if (alpn.length > 0) {
            p.setApplicationProtocols(alpn);
        }
        s.setSSLParameters(p);
        s.startHandshake();
        return s;
    }

    private static String get(Socket s, String host, String path) throws IOException {
        OutputStream o = s.getOutputStream();
        o.write(("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        o.flush();
        return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
    }

    private static byte[] readN(InputStream in, int n) throws IOException {
        byte[] b = in.readNBytes(n);
        assertEquals(n, b.length, "stream ended early");
        return b;
    }

    /** The proxy closed without sending a byte (a reset, or EOF after one). */
    private static void assertRefused(Socket s) {
        try {
            int r = s.getInputStream().read();
            assertEquals(-1, r, "a refused connection must not carry data");
        } catch (SocketException expected) {
            // connection reset
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static double refusals(SimpleMeterRegistry r, String reason) {
        Counter c = r.find("dstack.gateway.proxy.refusals").tag("reason", reason).counter();
        return c == null ? 0 : c.count();
    }

    private static void refusedWith(ProxyServer p, SimpleMeterRegistry r, byte[] send, String reason)
            throws IOException {
        double before = refusals(r, reason);
        try (Socket s = raw(p)) {
            try {
                s.getOutputStream().write(send);
                s.getOutputStream().flush();
            } catch (SocketException resetWhileWriting) {
                // refused before the whole input was sent
            }
            assertRefused(s);
        }
        assertEquals(before + 1, refusals(r, reason), reason);
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            b.writeBytes(p);
        }
        return b.toByteArray();
    }

    // ---------------------------------------------------------------- terminate

    @Test
    void terminatesHttp11OnTheDefaultPort() throws Exception {
        try (SSLSocket s = tls("app1." + ZT, "h2", "http/1.1")) {
            assertEquals("", s.getApplicationProtocol(), "no ALPN without g");
            String res = get(s, "app1." + ZT, "/hello");
            assertTrue(res.startsWith("HTTP/1.1 200 OK"), res);
            assertTrue(res.endsWith("app1 GET /hello HTTP/1.1"), res);
        }
    }

    @Test
    void terminatesOnAnExplicitPortOnEitherListener() throws Exception {
        Socket plain = new Socket();
        plain.connect(main.proxyAddresses().get(1), 5000);
        SSLSocket s = (SSLSocket) pki.clientContext().getSocketFactory().createSocket(plain, "app1-8080." + ZT,
                plain.getPort(), true);
        SSLParameters p = s.getSSLParameters();
        p.setServerNames(List.of(new SNIHostName("app1-8080." + ZT)));
        s.setSSLParameters(p);
        try (s) {
            String res = get(s, "app1-8080." + ZT, "/x");
            assertTrue(res.endsWith("app1 GET /x HTTP/1.1"), res);
        }
    }

    @Test
    void gSuffixNegotiatesH2AndRelaysToAnH2cBackend() throws Exception {
        String sni = "app3-50051g." + ZT;
        SslContext ctx = SslContextBuilder.forClient().sslProvider(SslProvider.JDK).trustManager(pki.ca)
                .applicationProtocolConfig(new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
                        ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                        ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, "h2"))
                .build();
        CompletableFuture<String> answer = new CompletableFuture<>();
        InetSocketAddress proxy = main.proxyAddresses().get(0);
        Channel ch = new Bootstrap().group(clientGroup).channel(NioSocketChannel.class)
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel c) {
                        c.pipeline().addLast(ctx.newHandler(c.alloc(), sni, proxy.getPort()),
                                Http2FrameCodecBuilder.forClient().build(),
                                new Http2MultiplexHandler(new SimpleChannelInboundHandler<Object>() {
                                    @Override
                                    protected void channelRead0(ChannelHandlerContext x, Object m) { }
                                }));
                    }
                }).connect(proxy).sync().channel();
        try {
            SslHandler ssl = ch.pipeline().get(SslHandler.class);
            ssl.handshakeFuture().sync();
            assertEquals("h2", ssl.applicationProtocol());
            StringBuilder got = new StringBuilder();
            Http2StreamChannel stream = new Http2StreamChannelBootstrap(ch)
                    .handler(new SimpleChannelInboundHandler<Http2StreamFrame>() {
                        @Override
                        protected void channelRead0(ChannelHandlerContext x, Http2StreamFrame f) {
                            if (f instanceof Http2HeadersFrame h) {
                                got.append(h.headers().status()).append(' ');
                                if (h.isEndStream()) {
                                    answer.complete(got.toString());
                                }
                            } else if (f instanceof Http2DataFrame d) {
                                got.append(d.content().toString(StandardCharsets.UTF_8));
                                if (d.isEndStream()) {
                                    answer.complete(got.toString());
                                }
                            }
                        }
                    }).open().sync().getNow();
            stream.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().method("POST")
                    .path("/helloworld.Greeter/SayHello").scheme("https").authority(sni), true));
            assertEquals("200 h2c /helloworld.Greeter/SayHello", answer.get(10, TimeUnit.SECONDS));
        } finally {
            ch.close().sync();
        }
    }

    @Test
    void gSuffixRefusesAClientWithoutH2() {
        assertThrows(IOException.class, () -> tls("app3-50051g." + ZT, "http/1.1").close());
    }

    // ---------------------------------------------------------------- passthrough

    @Test
    void passthroughRelaysTheClientHelloAndEverythingAfterVerbatim() throws Exception {
        byte[] hello = Hellos.jdk("app1-443s." + ZT);
        byte[] tail = "after the hello".getBytes(StandardCharsets.US_ASCII);
        try (Socket s = raw(main)) {
            s.getOutputStream().write(concat(hello, tail));
            assertArrayEquals(concat(hello, tail), readN(s.getInputStream(), hello.length + tail.length));
            ProxyServer.ConnectionInfo info = main.connections().stream()
                    .filter(c -> c.sni().equals("app1-443s." + ZT)).findFirst().orElseThrow();
            assertEquals("passthrough", info.mode());
            assertEquals("app1", info.appId().orElseThrow());
            assertEquals(echo.address(), info.backend().orElseThrow());
            // backpressure both ways: 8 MiB through an echo whose reader is this thread, written by another
            byte[] bulk = new byte[8 << 20];
            new java.util.Random(1).nextBytes(bulk);
            Thread writer = Thread.ofVirtual().start(() -> {
                try {
                    s.getOutputStream().write(bulk);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            assertArrayEquals(bulk, readN(s.getInputStream(), bulk.length));
            writer.join();
        }
    }

    @Test
    void halfCloseIsForwardedBothWays() throws Exception {
        byte[] hello = Hellos.hello("app1-443s." + ZT);
        try (Socket s = raw(main)) {
            s.getOutputStream().write(hello);
            s.shutdownOutput(); // the echo backend sees EOF, finishes echoing, closes; the client sees all, then EOF
            assertArrayEquals(hello, s.getInputStream().readAllBytes());
        }
    }

    @Test
    void helloFragmentedOverOneByteRecordsAndSegments() throws Exception {
        byte[] recs = Hellos.records(Hellos.handshake(Hellos.sniExt("app1-443s." + ZT)), 1);
        try (Socket s = raw(main)) {
            for (byte[] part : Hellos.chunks(recs, 7)) {
                s.getOutputStream().write(part);
                s.getOutputStream().flush();
            }
            assertArrayEquals(recs, readN(s.getInputStream(), recs.length));
        }
    }

    @Test
    void proxyHeaderOutFromTheTcpPeer() throws Exception {
        byte[] hello = Hellos.hello("app2-443s." + ZT);
        try (Socket s = raw(main)) {
            s.getOutputStream().write(hello);
            byte[] expected = ProxyProtocol.encode(ProxyProtocol.fromConnection(
                    (InetSocketAddress) s.getLocalSocketAddress(), (InetSocketAddress) s.getRemoteSocketAddress()));
            assertArrayEquals(concat(expected, hello), readN(s.getInputStream(), expected.length + hello.length));
        }
    }

    @Test
    void proxyHeaderInIsForwardedInItsVersion() throws Exception {
        byte[] v1 = "PROXY TCP4 203.0.113.7 198.51.100.1 40000 443\r\n".getBytes(StandardCharsets.US_ASCII);
        byte[] hello = Hellos.hello("app2-443s." + ZT);
        try (Socket s = raw(strict)) {
            s.getOutputStream().write(concat(v1, hello));
            assertArrayEquals(concat(v1, hello), readN(s.getInputStream(), v1.length + hello.length));
        }
        byte[] v2 = ProxyProtocolTest.v2Ipv4();
        try (Socket s = raw(strict)) {
            s.getOutputStream().write(concat(v2, hello));
            assertArrayEquals(concat(v2, hello), readN(s.getInputStream(), v2.length + hello.length));
        }
        // a backend without pp gets the hello only
        byte[] plain = Hellos.hello("app1-443s." + ZT);
        try (Socket s = raw(strict)) {
            s.getOutputStream().write(concat(v1, plain));
            assertArrayEquals(plain, readN(s.getInputStream(), plain.length));
        }
    }

    @Test
    void parallelConnectFirstWins() throws Exception {
        for (String id : new String[] {"multi", "slowfirst"}) {
            byte[] hello = Hellos.hello(id + "-443s." + ZT);
            try (Socket s = raw(main)) {
                s.getOutputStream().write(hello);
                assertArrayEquals(hello, readN(s.getInputStream(), hello.length), id);
            }
        }
    }

    @Test
    void customDomainIsPassedThrough() throws Exception {
        byte[] hello = Hellos.hello("custom.example.org");
        try (Socket s = raw(main)) {
            s.getOutputStream().write(hello);
            assertArrayEquals(hello, readN(s.getInputStream(), hello.length));
        }
        refusedWith(main, meters, Hellos.hello("unknown.example.org"), "route_dns_failed");
    }

    @Test
    void localhostBehindItsFlag() throws Exception {
        byte[] hello = Hellos.hello("localhost-" + echo.address().getPort() + "s." + ZT);
        try (Socket s = raw(main)) {
            s.getOutputStream().write(hello);
            assertArrayEquals(hello, readN(s.getInputStream(), hello.length));
        }
        // the strict proxy runs without the flag: "localhost" is just an unknown app there
        byte[] v1 = "PROXY UNKNOWN\r\n".getBytes(StandardCharsets.US_ASCII);
        refusedWith(strict, strictMeters, concat(v1, hello), "route_unknown_app");
    }

    // ---------------------------------------------------------------- reserved ids

    @Test
    void healthAndThisNodeEndpoints() throws Exception {
        try (SSLSocket s = tls("health." + ZT)) {
            assertTrue(get(s, "health." + ZT, "/").startsWith("HTTP/1.1 200"));
        }
        try (SSLSocket s = tls("health." + ZT)) {
            assertTrue(get(s, "health." + ZT, "/x").startsWith("HTTP/1.1 404"));
        }
        String[][] cases = {
                {"/health", "HTTP/1.1 200"},
                {"/index", "HTTP/1.1 200"},
                {"/.dstack/index", "HTTP/1.1 200"},
                {"/app-info?x=1", "HTTP/1.1 200"},
                {"/acme-info", "HTTP/1.1 500"},
                {"/.dstack/health", "HTTP/1.1 404"},
                {"/nope", "HTTP/1.1 404"},
        };
        for (String[] c : cases) {
            try (SSLSocket s = tls("gateway." + ZT)) {
                String res = get(s, "gateway." + ZT, c[0]);
                assertTrue(res.startsWith(c[1]), c[0] + " -> " + res);
                if (c[0].endsWith("index")) {
                    assertTrue(res.endsWith("\"paths\":[\"/index\",\"/app-info\",\"/acme-info\"]}"), res);
                }
            }
        }
        try (SSLSocket s = tls("gateway." + ZT)) {
            s.getOutputStream().write(("POST /index HTTP/1.1\r\nHost: g\r\nContent-Length: 0\r\nConnection: close"
                    + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            String res = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
            assertTrue(res.startsWith("HTTP/1.1 405"), res);
        }
        refusedWith(main, meters, Hellos.hello("gateway-8080." + ZT), "reserved_port");
        refusedWith(main, meters, Hellos.hello("health-s." + ZT), "reserved_port");
    }

    // ---------------------------------------------------------------- attacks and refusals

    @Test
    void malformedSnisAreReset() throws Exception {
        refusedWith(main, meters, Hellos.hello("app1-80-x." + ZT), "invalid_sni");
        refusedWith(main, meters, Hellos.hello("app1-443sg." + ZT), "invalid_sni");
        refusedWith(main, meters, Hellos.hello("app1-443gs." + ZT), "invalid_sni");
        refusedWith(main, meters, Hellos.hello("app1-99999." + ZT), "invalid_sni");
        refusedWith(main, meters, Hellos.hello("nodot"), "invalid_sni");
        refusedWith(main, meters, Hellos.records(Hellos.handshake(), 100), "no_sni");
        refusedWith(main, meters, Hellos.records(Hellos.handshake(Hellos.sniExt("a." + ZT, "app1." + ZT)), 16384),
                "client_hello_invalid");
        refusedWith(main, meters, Hellos.records(Hellos.handshake(Hellos.sniExt("app1." + ZT),
                Hellos.padding(17 * 1024)), 16384), "client_hello_invalid");
        refusedWith(main, meters, "GET / HTTP/1.1\r\nHost: app1\r\n\r\n".getBytes(StandardCharsets.US_ASCII),
                "client_hello_invalid");
    }

    @Test
    void unknownAppsAndUppercaseIdsAreReset() throws Exception {
        refusedWith(main, meters, Hellos.hello("nosuchapp-443s." + ZT), "route_unknown_app");
        refusedWith(main, meters, Hellos.hello("nosuchapp." + ZT), "route_unknown_app");
        refusedWith(main, meters, Hellos.hello("APP1-443s." + ZT), "route_unknown_app");
        refusedWith(main, meters, Hellos.hello("app1-9999." + ZT), "route_unknown_app");
    }

    @Test
    void clientHelloThatNeverEndsTimesOut() throws Exception {
        byte[] v1 = "PROXY UNKNOWN\r\n".getBytes(StandardCharsets.US_ASCII);
        byte[] hello = Hellos.hello("app1-443s." + ZT);
        refusedWith(strict, strictMeters, concat(v1, Arrays.copyOf(hello, hello.length - 1)), "sni_timeout");
        refusedWith(strict, strictMeters, new byte[0], "pp_header_timeout");
        refusedWith(strict, strictMeters, "PROXY TCP4 1.2.3.4".getBytes(StandardCharsets.US_ASCII),
                "pp_header_timeout");
        refusedWith(strict, strictMeters, hello, "pp_header_invalid");
    }

    @Test
    void backendThatNeverAcceptsOrIsDownIsReset() throws Exception {
        byte[] v1 = "PROXY UNKNOWN\r\n".getBytes(StandardCharsets.US_ASCII);
        refusedWith(strict, strictMeters, concat(v1, Hellos.hello("never-443s." + ZT)), "connect_failed");
        refusedWith(main, meters, Hellos.hello("dead-443s." + ZT), "connect_failed");
    }

    @Test
    @Timeout(60)
    void backendThatStallsIsCutByTheIdleOrWriteTimeout() throws Exception {
        byte[] v1 = "PROXY UNKNOWN\r\n".getBytes(StandardCharsets.US_ASCII);
        try (Socket s = raw(strict)) {
            s.getOutputStream().write(concat(v1, Hellos.hello("stall-443s." + ZT)));
            assertRefused(s);
        }
        // and one that floods a backend that never reads: backpressure, then the timeouts end it
        try (Socket s = raw(strict)) {
            s.getOutputStream().write(concat(v1, Hellos.hello("stall-443s." + ZT)));
            byte[] chunk = new byte[64 * 1024];
            assertThrows(IOException.class, () -> {
                for (int i = 0; i < 4096; i++) {
                    s.getOutputStream().write(chunk);
                }
            });
        }
    }

    @Test
    void backendThatResetsEndsTheClientConnection() throws Exception {
        try (Socket s = raw(main)) {
            s.getOutputStream().write(Hellos.hello("reset-443s." + ZT));
            assertRefused(s);
        }
    }

    @Test
    void leasesAreReturnedWhenConnectionsEnd() throws Exception {
        int taken = router.leasesTaken.get();
        byte[] hello = Hellos.hello("app1-443s." + ZT);
        try (Socket s = raw(main)) {
            s.getOutputStream().write(hello);
            readN(s.getInputStream(), hello.length);
            assertTrue(router.leasesTaken.get() > taken);
        }
        assertThrows(IllegalArgumentException.class, () -> new Route("x", List.of()));
    }

    // ---------------------------------------------------------------- h2c backend

    private static Channel startH2c() throws InterruptedException {
        return new ServerBootstrap().group(clientGroup).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel c) {
                        c.pipeline().addLast(Http2FrameCodecBuilder.forServer().build(),
                                new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
                                    @Override
                                    protected void initChannel(Http2StreamChannel sc) {
                                        sc.pipeline().addLast(new SimpleChannelInboundHandler<Http2HeadersFrame>() {
                                            @Override
                                            protected void channelRead0(ChannelHandlerContext x, Http2HeadersFrame h) {
                                                x.write(new DefaultHttp2HeadersFrame(
                                                        new DefaultHttp2Headers().status("200")));
                                                ByteBuf body = Unpooled.copiedBuffer("h2c " + h.headers().path(),
                                                        StandardCharsets.UTF_8);
                                                x.writeAndFlush(new DefaultHttp2DataFrame(body, true));
                                            }
                                        });
                                    }
                                }));
                    }
                }).bind(InetAddress.getLoopbackAddress(), 0).sync().channel();
    }
}
