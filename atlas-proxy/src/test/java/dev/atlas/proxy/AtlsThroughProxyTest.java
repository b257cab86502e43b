package dev.atlas.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.atlas.testing.RawWebSocket;

import dev.atlas.client.AtlsConnector;
import dev.atlas.client.AttestedConnection;
import dev.atlas.dstack.DstackTdxPolicy;
import dev.atlas.dstack.PolicyJson;
import dev.atlas.server.AtlsServer;
import dev.atlas.server.ServerCertificate;
import dev.atlas.server.testing.SimulatedQuoteProvider;
import dev.atlas.tdx.TcbStatus;
import dev.atlas.testing.MockPccs;
import dev.atlas.testing.SimulatedCvm;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The proxy is transparent to TLS: the production aTLS client, tunnelled through a WebSocket the way Atlas's
 * browser client is, attests the simulated CVM behind the aTLS server (exporter binding included, which would
 * break if the proxy touched a byte) and then carries an HTTP request on the same connection.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class AtlsThroughProxyTest {

    /**
     * A loopback socket whose bytes travel inside a WebSocket tunnel: what a browser's WASM TLS stack does, as a
     * plain {@link Socket} the JDK's TLS can sit on.
     */
    static Socket tunnelSocket(int proxyPort, String target) throws IOException {
        ServerSocket bridge = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        RawWebSocket ws = RawWebSocket.open(proxyPort, "/?target=" + URLEncoder.encode(target, StandardCharsets.UTF_8));
        if (ws.status != 101) {
            throw new IOException("proxy refused: " + ws.status + " " + ws.body);
        }
        Thread.ofVirtual().start(() -> {
            try (bridge; Socket local = bridge.accept()) {
                Thread up = Thread.ofVirtual().start(() -> {
                    try {
                        InputStream in = local.getInputStream();
                        byte[] buf = new byte[16384];
                        for (int n; (n = in.read(buf)) > 0; ) {
                            ws.send(RawWebSocket.BINARY, true, buf, 0, n);
                        }
                        ws.sendClose(1000);
                    } catch (IOException ignored) {
                        // the other direction notices
                    }
                });
                OutputStream out = local.getOutputStream();
                while (true) {
                    RawWebSocket.Frame f = ws.read();
                    if (f.opcode() == RawWebSocket.CLOSE) {
                        break;
                    }
                    out.write(f.payload());
                    out.flush();
                }
                local.shutdownOutput();
                up.join(5000);
            } catch (IOException | InterruptedException ignored) {
                // test assertions report what went wrong
            } finally {
                try {
                    ws.close();
                } catch (IOException ignored) {
                    // closing
                }
            }
        });
        return new Socket("127.0.0.1", bridge.getLocalPort());
    }

    @Test
    void javaAtlsClientAttestsTheSimulatedCvmThroughTheProxy() throws Exception {
        SimulatedCvm cvm = SimulatedCvm.builder().seed(61).build();
        ServerCertificate cert = ServerCertificate.selfSigned(Clock.systemUTC(), Duration.ofDays(1), "localhost");
        try (AtlsServer server = AtlsServer.builder().certificate(cert).quoteProvider(SimulatedQuoteProvider.of(cvm))
                        .handler(ex -> {
                            byte[] b = "hello through the proxy".getBytes(StandardCharsets.US_ASCII);
                            ex.sendResponseHeaders(200, b.length);
                            try (OutputStream o = ex.getResponseBody()) {
                                o.write(b);
                            }
                        }).build().start();
                MockPccs pccs = MockPccs.start(cvm)) {
            String target = "127.0.0.1:" + server.port();
            ByteArrayOutputStream log = new ByteArrayOutputStream();
            ProxyConfig config = ProxyConfig.builder().listen(new InetSocketAddress("127.0.0.1", 0))
                    .allow(TargetAddress.parseEntry(target)).defaultTarget(TargetAddress.parse(target)).build();
            try (AtlsProxy proxy = AtlsProxy.builder(config).log(new PrintStream(log, true, StandardCharsets.UTF_8))
                    .build().start()) {
                DstackTdxPolicy policy = PolicyJson.parse(cvm.policyJson(pccs.tdxUrl()));
                AtlsConnector connector = AtlsConnector.builder(policy).trustAttestedCertificate()
                        .insecureIntelRootForTesting(cvm.rootCertificate()).build();
                try (AttestedConnection c = connector.attest(tunnelSocket(proxy.port(), target), "localhost",
                        server.port())) {
                    assertThat(c.state()).isEqualTo(AttestedConnection.State.ATTESTED);
                    assertThat(c.report().tcbStatus()).isEqualTo(TcbStatus.UP_TO_DATE);
                    assertThat(c.report().reportDataChecked()).isTrue();
                    assertThat(c.report().certificateChecked()).isTrue();
                    c.outputStream().write("GET /x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                            .getBytes(StandardCharsets.US_ASCII));
                    c.outputStream().flush();
                    String response = new String(c.inputStream().readAllBytes(), StandardCharsets.US_ASCII);
                    assertThat(response).startsWith("HTTP/1.1 200").endsWith("hello through the proxy");
                }
                long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (!log.toString(StandardCharsets.UTF_8).contains("tunnel_close") && System.nanoTime() < end) {
                    Thread.sleep(10);
                }
                assertThat(log.toString(StandardCharsets.UTF_8)).contains("\"event\":\"tunnel_close\"")
                        .doesNotContain("hello through the proxy");
            }
        }
    }
}
