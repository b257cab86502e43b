package dev.atlas.dstack.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.atlas.client.AtlsConnector;
import dev.atlas.client.AttestedConnection;
import dev.atlas.dstack.gateway.GatewayConfig;
import dev.atlas.server.testing.SimulatedAtlsServer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.io.StringWriter;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManagerFactory;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The guide's four {@code curl} examples through the real proxy and router, with the guide's dev settings and the
 * loopback transport: {@code <app>} (HTTP/1.1 to port 80), {@code <app>-8080}, {@code <app>-443s} (passthrough,
 * carrying an aTLS session that attests end to end with atlas-client) and {@code <app>-8080g} (TLS terminated with
 * ALPN h2, h2c to the backend); then two instances of one app with one killed mid-test.
 *
 * <p>The gateway here is put together from its parts (GatewayConfig, InstanceRegistry, LoopbackTransport,
 * GatewayRouter, CertStore, ProxyServer); instances are registered in the registry directly. The clients are
 * plain TLS sockets (curl's stand-in: SNI set explicitly, the connection to the proxy's 127.0.0.1 port, as
 * {@code curl --resolve} would), Netty's h2 client for {@code -g} and atlas-client's {@link AtlsConnector}.
 */
class GatewayRoutingEndToEndTest {
    private static final String DOMAIN = "gw.test";

    @TempDir
    static Path dir;

    private static final List<AutoCloseable> closers = new ArrayList<>();
    private static GatewayConfig config;
    private static InstanceRegistry registry;
    private static GatewayRouter router;
    private static ProxyServer proxy;
    private static int proxyPort;
    private static X509Certificate gatewayCert;
    private static SSLContext clientTls;

    @BeforeAll
    static void gateway() throws Exception {
        KeyPair k = ecKey();
        gatewayCert = wildcard(k);
        Files.writeString(dir.resolve("gw-cert.pem"), pem(gatewayCert));
        Files.writeString(dir.resolve("gw-key.pem"), pem(new JcaPKCS8Generator(k.getPrivate(), null)));
        clientTls = clientTls();
        config = GatewayConfig.parse("""
                [tls]
                key = "rpc.key"
                certs = "rpc.cert"
                [tls.mutual]
                ca_certs = "ca.cert"
                [core.debug]
                insecure_skip_attestation = true
                key_file = ""
                insecure_loopback_transport = true
                [core.wg]
                ip = "10.7.0.1/24"
                reserved_net = ["10.7.0.1/32"]
                client_ip_range = "10.7.0.0/24"
                [core.proxy]
                listen_addr = "127.0.0.1"
                listen_port = 0
                cert_chain = "gw-cert.pem"
                cert_key = "gw-key.pem"
                base_domain = "%s"
                [core.proxy.timeouts]
                connect = "2s"
                [core.recycle]
                enabled = false
                """.formatted(DOMAIN), dir);
        Clock clock = Clock.systemUTC();
        registry = new InstanceRegistry(config.wg(), Optional.empty(), clock);
        LoopbackTransport wg = track(new LoopbackTransport(clock));
        registry.addListener(app -> {
            try {
                wg.apply(registry.all());
            } catch (dev.atlas.dstack.ra.RaException e) {
                throw new IllegalStateException(e);
            }
        });
        router = track(GatewayRouter.builder(RouteSettings.from(config)).registry(registry).wg(wg).clock(clock)
                .build());
        CertStore certs = CertStore.fromConfig(config.proxy(), clock);
        proxy = track(ProxyServer.start(config, router, certs, null, clock, new SimpleMeterRegistry()));
        proxyPort = proxy.proxyAddresses().get(0).getPort();
    }

    @AfterAll
    static void close() throws Exception {
        for (int i = closers.size() - 1; i >= 0; i--) {
            closers.get(i).close();
        }
    }

    private static <T extends AutoCloseable> T track(T c) {
        closers.add(c);
        return c;
    }

    /** A registered instance: its ids and the address its apps bind (127.b.c.d). */
    private record Cvm(String appId, String instanceId, InetAddress vm) {}

    private static Cvm register(String appId) throws Exception {
        String instanceId = HexFormat.of().formatHex(random(20));
        Instance i = registry.register(instanceId, appId, "", Base64.getEncoder().encodeToString(random(32)),
                Optional.of(PortPolicy.OPEN));
        return new Cvm(appId, instanceId, GatewayRouter.backendAddress(i.clientIp(), true));
    }

    /** An HTTP/1.1 app on {@code vm:port} answering "{@code name}:{@code port} {@code path}". */
    private static HttpServer http(InetAddress vm, int port, String name) throws IOException {
        HttpServer s = HttpServer.create(new InetSocketAddress(vm, port), 64);
        s.createContext("/", ex -> {
            byte[] b = (name + ":" + port + " " + ex.getRequestURI().getPath()).getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, b.length);
            try (OutputStream o = ex.getResponseBody()) {
                o.write(b);
            }
        });
        s.start();
        track(() -> s.stop(0));
        return s;
    }

    /** A response of {@link #curl}: status and body. */
    private record Reply(int status, String body) {}

    /**
     * curl https://{@code sni}{@code path} through the proxy: a new TLS connection to 127.0.0.1 with that SNI (as
     * {@code curl --resolve}), the certificate checked against the ZT-domain wildcard, one HTTP/1.1 request with
     * {@code Connection: close}.
     */
    private static Reply curl(String sni, String path) throws Exception {
        try (Socket tcp = new Socket(InetAddress.getLoopbackAddress(), proxyPort);
             javax.net.ssl.SSLSocket s = (javax.net.ssl.SSLSocket) clientTls.getSocketFactory()
                     .createSocket(tcp, sni, proxyPort, true)) {
            tcp.setSoTimeout(10_000);
            SSLParameters p = s.getSSLParameters();
            p.setServerNames(List.of(new SNIHostName(sni)));
            p.setEndpointIdentificationAlgorithm("HTTPS");
            s.setSSLParameters(p);
            s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: " + sni + "\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            String all = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            int sp = all.indexOf(' ');
            int end = all.indexOf("\r\n\r\n");
            if (!all.startsWith("HTTP/1.1 ") || end < 0) {
                throw new IOException("not an HTTP/1.1 response: " + all);
            }
            return new Reply(Integer.parseInt(all.substring(sp + 1, sp + 4)), all.substring(end + 4));
        }
    }

    @Test
    void theGuidesFourCurlExamples() throws Exception {
        String app = HexFormat.of().formatHex(random(20));
        Cvm cvm = register(app);
        http(cvm.vm(), 80, "plain");
        http(cvm.vm(), 8080, "http8080");
        String h2App = HexFormat.of().formatHex(random(20));
        Cvm h2 = register(h2App);
        H2cBackend grpc = track(new H2cBackend(h2.vm(), 8080, "h2c-backend"));
        SimulatedAtlsServer atls = track(SimulatedAtlsServer.builder()
                .server(b -> b.listen(new InetSocketAddress(cvm.vm(), 443))).start());

        // curl https://<app>.<base_domain>/  → port 80, TLS terminated here, HTTP/1.1
        Reply plain = curl(app + "." + DOMAIN, "/hello");
        assertThat(plain.status()).isEqualTo(200);
        assertThat(plain.body()).isEqualTo("plain:80 /hello");

        // curl https://<app>-8080.<base_domain>/
        assertThat(curl(app + "-8080." + DOMAIN, "/x").body())
                .isEqualTo("http8080:8080 /x");
        // by instance id as well (the VMM's dashboard links)
        assertThat(curl(cvm.instanceId() + "-8080." + DOMAIN, "/i").body())
                .isEqualTo("http8080:8080 /i");

        // curl --http2 https://<app>-8080g.<base_domain>/  → ALPN h2 here, h2c with prior knowledge behind
        assertThat(h2Post(h2App + "-8080g." + DOMAIN, "/grpc.Service/Method")).isEqualTo("200 h2 h2c-backend");
        assertThat(grpc.port()).isEqualTo(8080);

        // curl https://<app>-443s.<base_domain>/ : passthrough; the app's own (attested) TLS, end to end
        AtlsConnector connector = AtlsConnector.builder(atls.policy()).trustAttestedCertificate()
                .insecureIntelRootForTesting(atls.cvm().rootCertificate()).build();
        Socket tcp = new Socket(InetAddress.getLoopbackAddress(), proxyPort);
        try (AttestedConnection a = connector.attest(tcp, app + "-443s." + DOMAIN, 443)) {
            assertThat(a.state()).isEqualTo(AttestedConnection.State.ATTESTED);
            assertThat(a.socket().getSession().getPeerCertificates()[0])
                    .as("the app's certificate, not the gateway's").isNotEqualTo(gatewayCert);
            OutputStream out = a.outputStream();
            out.write(("GET / HTTP/1.1\r\nHost: " + app + "-443s." + DOMAIN + "\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            String response = new String(a.inputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(response).startsWith("HTTP/1.1 200").endsWith(SimulatedAtlsServer.HELLO);
        }
    }

    @Test
    void twoInstancesOfOneAppWithOneKilledMidTest() throws Exception {
        String app = HexFormat.of().formatHex(random(20));
        Cvm a = register(app);
        Cvm b = register(app);
        HttpServer sa = http(a.vm(), 8080, "a");
        http(b.vm(), 8080, "b");
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 6; i++) {
            Reply r = curl(app + "-8080." + DOMAIN, "/");
            assertThat(r.status()).isEqualTo(200);
            seen.add(r.body());
        }
        assertThat(seen).isSubsetOf("a:8080 /", "b:8080 /");
        sa.stop(0); // instance a dies: connection refused at its address; it is still registered and "healthy"
        for (int i = 0; i < 6; i++) {
            Reply r = curl(app + "-8080." + DOMAIN, "/");
            assertThat(r.status()).as("request %d after the kill", i).isEqualTo(200);
            assertThat(r.body()).isEqualTo("b:8080 /");
        }
        // the dead instance addressed directly: refused (reset), never another instance
        assertThat(curlFails(a.instanceId() + "-8080." + DOMAIN)).isTrue();
        assertThat(router.connectionCounts()).doesNotContainKey(a.instanceId());
    }

    @Test
    void unknownAppsAndPortsRefusedByPolicyAreResetNeverRoutedElsewhere() throws Exception {
        String app = HexFormat.of().formatHex(random(20));
        String instanceId = HexFormat.of().formatHex(random(20));
        Instance i = registry.register(instanceId, app, "", Base64.getEncoder().encodeToString(random(32)),
                Optional.of(new PortPolicy(List.of(new PortPolicy.Port(8080, false)), true)));
        http(GatewayRouter.backendAddress(i.clientIp(), true), 8080, "restricted");
        http(GatewayRouter.backendAddress(i.clientIp(), true), 9090, "hidden");
        assertThat(curl(app + "-8080." + DOMAIN, "/").body())
                .isEqualTo("restricted:8080 /");
        assertThat(curlFails(app + "-9090." + DOMAIN)).as("restrict_mode").isTrue();
        assertThat(curlFails(HexFormat.of().formatHex(random(20)) + "-8080." + DOMAIN)).as("unknown app").isTrue();
        // (an uppercase id is refused by the router, GatewayRouterTest; the JDK's TLS client cannot send one here)
    }

    /** curl --http2: TLS with ALPN h2 only (Netty's client), one POST; answers "status x-proto body". */
    private static String h2Post(String sni, String path) throws Exception {
        io.netty.handler.ssl.SslContext ctx = io.netty.handler.ssl.SslContextBuilder.forClient()
                .sslProvider(io.netty.handler.ssl.SslProvider.JDK).trustManager(gatewayCert)
                .applicationProtocolConfig(new io.netty.handler.ssl.ApplicationProtocolConfig(
                        io.netty.handler.ssl.ApplicationProtocolConfig.Protocol.ALPN,
                        io.netty.handler.ssl.ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                        io.netty.handler.ssl.ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, "h2"))
                .build();
        io.netty.channel.EventLoopGroup group = new io.netty.channel.MultiThreadIoEventLoopGroup(1,
                io.netty.channel.nio.NioIoHandler.newFactory());
        java.util.concurrent.CompletableFuture<String> answer = new java.util.concurrent.CompletableFuture<>();
        try {
            io.netty.channel.Channel ch = new io.netty.bootstrap.Bootstrap().group(group)
                    .channel(io.netty.channel.socket.nio.NioSocketChannel.class)
                    .handler(new io.netty.channel.ChannelInitializer<io.netty.channel.Channel>() {
                        @Override
                        protected void initChannel(io.netty.channel.Channel c) {
                            c.pipeline().addLast(ctx.newHandler(c.alloc(), sni, proxyPort),
                                    io.netty.handler.codec.http2.Http2FrameCodecBuilder.forClient().build(),
                                    new io.netty.handler.codec.http2.Http2MultiplexHandler(
                                            new io.netty.channel.ChannelInboundHandlerAdapter()));
                        }
                    }).connect(InetAddress.getLoopbackAddress(), proxyPort).sync().channel();
            io.netty.handler.ssl.SslHandler ssl = ch.pipeline().get(io.netty.handler.ssl.SslHandler.class);
            ssl.handshakeFuture().sync();
            assertThat(ssl.applicationProtocol()).isEqualTo("h2");
            StringBuilder got = new StringBuilder();
            io.netty.handler.codec.http2.Http2StreamChannel stream =
                    new io.netty.handler.codec.http2.Http2StreamChannelBootstrap(ch).handler(
                            new io.netty.channel.SimpleChannelInboundHandler<
                                    io.netty.handler.codec.http2.Http2StreamFrame>() {
                                @Override
                                protected void channelRead0(io.netty.channel.ChannelHandlerContext x,
                                                            io.netty.handler.codec.http2.Http2StreamFrame f) {
                                    if (f instanceof io.netty.handler.codec.http2.Http2HeadersFrame h) {
                                        got.append(h.headers().status()).append(' ')
                                                .append(h.headers().get("x-proto")).append(' ');
                                        if (h.isEndStream()) {
                                            answer.complete(got.toString());
                                        }
                                    } else if (f instanceof io.netty.handler.codec.http2.Http2DataFrame d) {
                                        got.append(d.content().toString(StandardCharsets.UTF_8));
                                        if (d.isEndStream()) {
                                            answer.complete(got.toString());
                                        }
                                    }
                                }
                            }).open().sync().getNow();
            stream.writeAndFlush(new io.netty.handler.codec.http2.DefaultHttp2HeadersFrame(
                    new io.netty.handler.codec.http2.DefaultHttp2Headers().method("POST").path(path).scheme("https")
                            .authority(sni), true));
            String out = answer.get(10, java.util.concurrent.TimeUnit.SECONDS);
            ch.close().sync();
            return out;
        } finally {
            group.shutdownGracefully(0, 0, java.util.concurrent.TimeUnit.MILLISECONDS);
        }
    }

    private static boolean curlFails(String sni) {
        try {
            curl(sni, "/");
            return false;
        } catch (Exception e) {
            return true;
        }
    }

    // ---- PKI: the ZT-domain wildcard (with 127.0.0.1 for the JDK client's host check) ---------------------------

    private static SSLContext clientTls() throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setCertificateEntry("gw", gatewayCert);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(ks);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
    }

    private static KeyPair ecKey() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        return g.generateKeyPair();
    }

    private static X509Certificate wildcard(KeyPair k) throws Exception {
        Instant now = Instant.now();
        JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(new X500Name("CN=*." + DOMAIN),
                BigInteger.valueOf(new SecureRandom().nextLong() & Long.MAX_VALUE),
                Date.from(now.minus(Duration.ofDays(1))), Date.from(now.plus(Duration.ofDays(7))),
                new X500Name("CN=*." + DOMAIN), k.getPublic());
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
        b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
                new GeneralName(GeneralName.dNSName, "*." + DOMAIN),
                new GeneralName(GeneralName.iPAddress, "127.0.0.1")}));
        return new JcaX509CertificateConverter().getCertificate(
                b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(k.getPrivate())));
    }

    private static String pem(Object o) throws IOException {
        StringWriter w = new StringWriter();
        try (JcaPEMWriter p = new JcaPEMWriter(w)) {
            p.writeObject(o);
        }
        return w.toString();
    }

    private static byte[] random(int n) {
        byte[] b = new byte[n];
        new SecureRandom().nextBytes(b);
        return b;
    }
}
