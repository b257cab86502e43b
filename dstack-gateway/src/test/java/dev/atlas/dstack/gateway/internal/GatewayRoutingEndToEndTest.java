package dev.atlas.dstack.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.atlas.client.AtlsConnector;
import dev.atlas.client.AttestedConnection;
import dev.atlas.dstack.gateway.GatewayConfig;
import dev.atlas.dstack.gateway.GatewayServer;
import dev.atlas.dstack.guest.DstackClient;
import dev.atlas.dstack.simulator.GuestAgentSimulator;
import dev.atlas.dstack.testing.DstackTestbed;
import dev.atlas.testing.SimulatedCvm;
import java.net.URI;
import java.util.Map;
import dev.atlas.server.testing.SimulatedAtlsServer;
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
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
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
 * End to end on loopback: the testbed's KMS, the gateway ({@link GatewayServer}, in its own simulated CVM for its
 * RPC certificate) with the guide's dev settings and the loopback transport, and app CVMs that boot against the KMS
 * and register themselves through {@code RegisterCvm} (§3.3). Then the guide's four {@code curl} examples: {@code <app>} (HTTP/1.1 to port 80), {@code <app>-8080}, {@code <app>-443s} (passthrough,
 * carrying an aTLS session that attests end to end with atlas-client) and {@code <app>-8080g} (TLS terminated with
 * ALPN h2, h2c to the backend); then two instances of one app with one killed mid-test.
 *
 * <p>The apps are servers the test binds on each CVM's {@code vmAddress()} (127.b.c.d). The clients are
 * plain TLS sockets (curl's stand-in: SNI set explicitly, the connection to the proxy's 127.0.0.1 port, as
 * {@code curl --resolve} would), Netty's h2 client for {@code -g} and atlas-client's {@link AtlsConnector}.
 */
class GatewayRoutingEndToEndTest {
    private static final String DOMAIN = "gw.test";

    @TempDir
    static Path dir;

    private static final List<AutoCloseable> closers = new ArrayList<>();
    private static DstackTestbed tb;
    private static GatewayServer gw;
    private static int proxyPort;
    private static X509Certificate gatewayCert;
    private static SSLContext clientTls;
    private static Path compose;
    private static final byte[] GW_APP = HexFormat.of().parseHex("9a7c0ffee0000000000000000000000000001818");
    private static int cvms;

    @BeforeAll
    static void gateway() throws Exception {
        tb = DstackTestbed.start(dir.resolve("tb"));
        closers.add(tb);
        String composeJson = SimulatedCvm.DEFAULT_APP_COMPOSE.replace("\"gateway_enabled\":false",
                "\"gateway_enabled\":true");
        compose = Files.writeString(dir.resolve("app-compose.json"), composeJson);
        tb.allowApp(HexFormat.of().formatHex(GW_APP), sha256(SimulatedCvm.DEFAULT_APP_COMPOSE));
        // the gateway in its own simulated CVM: its RPC certificate comes from its guest agent (rpc_domain)
        GuestAgentSimulator gwCvm = tb.track(tb.cvmBuilder("gateway", GW_APP)
                .internalSocket(dir.resolve("gw.sock")).start());

        KeyPair k = ecKey();
        gatewayCert = wildcard(k);
        Path gwDir = Files.createDirectories(dir.resolve("gw"));
        Files.writeString(gwDir.resolve("gw-cert.pem"), pem(gatewayCert));
        Files.writeString(gwDir.resolve("gw-key.pem"), pem(new JcaPKCS8Generator(k.getPrivate(), null)));
        clientTls = clientTls();
        // the guide's dev settings (insecure_skip_attestation, key_file = ""), the 0.5.x static certificate
        // layout, and our insecure_loopback_transport
        Files.writeString(gwDir.resolve("gateway.toml"), """
                address = "127.0.0.1"
                port = 0
                [tls]
                key = "certs/rpc.key"
                certs = "certs/rpc.crt"
                [tls.mutual]
                ca_certs = "certs/ca.crt"
                [core]
                rpc_domain = "gateway.test"
                [core.debug]
                insecure_skip_attestation = true
                key_file = ""
                insecure_loopback_transport = true
                [core.wg]
                public_key = "%s"
                private_key = "%s"
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
                [core.sync]
                data_dir = "data"
                """.formatted(wgKey(1), wgKey(2), DOMAIN));
        gw = GatewayServer.builder(GatewayConfig.load(gwDir.resolve("gateway.toml")))
                .environment(Map.of("DSTACK_AGENT_ADDRESS", "unix:" + gwCvm.internalSocket().orElseThrow()))
                .start();
        closers.add(gw);
        proxyPort = gw.proxyAddresses().get(0).getPort();
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
    private record Cvm(String appId, String instanceId, InetAddress vm, GuestAgentSimulator agent) {}

    /**
     * A simulated CVM of {@code appId} that boots against the testbed's KMS and registers itself with the gateway
     * (RegisterCvm over mTLS with its KMS-issued certificate, §3.3), in the loopback transport.
     */
    private static Cvm cvm(byte[] appId) throws Exception {
        tb.allowApp(HexFormat.of().formatHex(appId), sha256(Files.readString(compose)));
        int n = ++cvms;
        GuestAgentSimulator a = tb.track(tb.cvmBuilder("app-" + n, appId).compose(compose)
                .internalSocket(dir.resolve("app-" + n + ".sock"))
                .gatewayUrls(List.of(URI.create("https://127.0.0.1:" + gw.rpcAddress().getPort())))
                .insecureGatewayLoopbackTransport().start());
        assertThat(a.gatewayRegistrations()).hasSize(1);
        String instanceId = DstackClient.builder().endpoint("unix:" + a.internalSocket().orElseThrow()).build()
                .info().instanceId();
        return new Cvm(HexFormat.of().formatHex(appId), instanceId, a.vmAddress(), a);
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
        Cvm cvm = cvm(random(20));
        String app = cvm.appId();
        http(cvm.vm(), 80, "plain");
        http(cvm.vm(), 8080, "http8080");
        Cvm h2 = cvm(random(20));
        String h2App = h2.appId();
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
        byte[] appId = random(20);
        Cvm a = cvm(appId);
        Cvm b = cvm(appId);
        String app = a.appId();
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
        // the dead instance addressed directly: refused (reset), never another instance; an unknown app: reset
        assertThat(curlFails(a.instanceId() + "-8080." + DOMAIN)).isTrue();
        assertThat(curlFails(HexFormat.of().formatHex(random(20)) + "-8080." + DOMAIN)).isTrue();
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

    private static String sha256(String s) throws Exception {
        return HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                .digest(s.getBytes(StandardCharsets.UTF_8)));
    }

    private static String wgKey(int n) {
        byte[] b = new byte[32];
        b[0] = (byte) n;
        b[31] = 0x42;
        return Base64.getEncoder().encodeToString(b);
    }

    private static byte[] random(int n) {
        byte[] b = new byte[n];
        new SecureRandom().nextBytes(b);
        return b;
    }
}
