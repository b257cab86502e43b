package dev.atlas.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.atlas.testing.RawWebSocket;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The proxy end to end on loopback: forwarding, every refusal, limits, timeouts, closing, shutdown, logs. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class AtlsProxyTest {
    static final ObjectMapper JSON = new ObjectMapper();
    final List<AutoCloseable> closeables = new ArrayList<>();
    final ByteArrayOutputStream logBytes = new ByteArrayOutputStream();
    final PrintStream log = new PrintStream(logBytes, true, StandardCharsets.UTF_8);

    @AfterEach
    void closeAll() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    <T extends AutoCloseable> T keep(T c) {
        closeables.add(c);
        return c;
    }

    static Map<String, List<InetAddress>> dns(int unused) throws IOException {
        return Map.of(
                "echo.test", List.of(InetAddress.getByName("127.0.0.1")),
                "a.wild.test", List.of(InetAddress.getByName("127.0.0.1")),
                "meta.test", List.of(InetAddress.getByName("169.254.169.254")),
                "inner.test", List.of(InetAddress.getByName("10.1.2.3")),
                "mixed.test", List.of(InetAddress.getByName("10.1.2.3"), InetAddress.getByName("127.0.0.1")));
    }

    AtlsProxy proxy(UnaryOperator<ProxyConfig.Builder> change) throws Exception {
        Map<String, List<InetAddress>> names = dns(0);
        ProxyConfig c = change.apply(ProxyConfig.builder().listen(new java.net.InetSocketAddress("127.0.0.1", 0))
                .noDefaultTarget()).build();
        return keep(AtlsProxy.builder(c).log(log).resolver(names::get).build().start());
    }

    static ProxyConfig.Builder allow(ProxyConfig.Builder b, String... entries) {
        for (String e : entries) {
            try {
                b.allow(TargetAddress.parseEntry(e));
            } catch (InvalidTargetException x) {
                throw new AssertionError(x);
            }
        }
        return b;
    }

    static String q(String target) {
        return "/?target=" + URLEncoder.encode(target, StandardCharsets.UTF_8);
    }

    List<JsonNode> logLines(String event) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        for (String l : logBytes.toString(StandardCharsets.UTF_8).split("\n")) {
            if (!l.isBlank()) {
                JsonNode n = JSON.readTree(l);
                if (event.equals(n.path("event").asText())) {
                    out.add(n);
                }
            }
        }
        return out;
    }

    JsonNode awaitLog(String event, int count) throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < end) {
            List<JsonNode> l = logLines(event);
            if (l.size() >= count) {
                return l.get(count - 1);
            }
            Thread.sleep(10);
        }
        throw new AssertionError("no " + count + " '" + event + "' log line(s): " + logBytes);
    }

    static byte[] sha256(byte[] b) throws Exception {
        return MessageDigest.getInstance("SHA-256").digest(b);
    }

    @Test
    void forwardsByteExactBothWaysFromOneByteTo64MiB() throws Exception {
        TestTarget echo = keep(TestTarget.echo());
        AtlsProxy p = proxy(b -> allow(b, "127.0.0.1:" + echo.port()).maxFrameBytes(1 << 20));
        Random rnd = new Random(7);
        for (int size : new int[] {1, 100, 65536, 64 << 20}) {
            byte[] data = new byte[size];
            rnd.nextBytes(data);
            try (RawWebSocket ws = RawWebSocket.open(p.port(), q("127.0.0.1:" + echo.port()))) {
                assertThat(ws.status).isEqualTo(101);
                CompletableFuture<byte[]> back = CompletableFuture.supplyAsync(() -> {
                    try {
                        return ws.readBytes(size);
                    } catch (IOException e) {
                        throw new RuntimeException(e);
                    }
                }, r -> Thread.ofPlatform().start(r));
                for (int off = 0; off < size; off += 1 << 20) {
                    ws.send(RawWebSocket.BINARY, true, data, off, Math.min(1 << 20, size - off));
                }
                assertThat(sha256(back.get(60, TimeUnit.SECONDS))).as("size " + size).isEqualTo(sha256(data));
                ws.sendClose(1000);
                RawWebSocket.Frame f = ws.read();
                assertThat(f.opcode()).isEqualTo(RawWebSocket.CLOSE);
                assertThat(f.closeCode()).isEqualTo(1000);
            }
        }
        JsonNode last = awaitLog("tunnel_close", 4);
        assertThat(last.get("bytes_to_target").asLong()).isEqualTo(64L << 20);
        assertThat(last.get("bytes_to_client").asLong()).isEqualTo(64L << 20);
        assertThat(last.get("reason").asText()).isEqualTo("CLIENT_CLOSED");
        assertThat(last.get("client").asText()).isEqualTo("127.0.0.1");
        assertThat(last.get("target").asText()).isEqualTo("127.0.0.1:" + echo.port());
        assertThat(last.has("duration_ms")).isTrue();
        String metrics = p.scrapeMetrics();
        assertThat(metrics).contains("atls_proxy_tunnels_opened_total 4.0");
        assertThat(metrics).containsPattern("atls_proxy_transferred_bytes_total\\{direction=\"to_target\"\\} 6.7[0-9]*E7");
    }

    @Test
    void textFramesAndFragmentsAreForwardedAsBytesAndPingsAnswered() throws Exception {
        TestTarget echo = keep(TestTarget.echo());
        AtlsProxy p = proxy(b -> allow(b, "127.0.0.1:" + echo.port()));
        try (RawWebSocket ws = RawWebSocket.open(p.port(), q("127.0.0.1:" + echo.port()))) {
            byte[] hello = "héllo".getBytes(StandardCharsets.UTF_8);
            ws.send(RawWebSocket.TEXT, true, hello, 0, hello.length);
            assertThat(ws.readBytes(hello.length)).isEqualTo(hello);
            byte[] ab = "ab".getBytes(StandardCharsets.US_ASCII);
            ws.send(RawWebSocket.BINARY, false, ab, 0, 1);
            ws.send(RawWebSocket.CONTINUATION, true, ab, 1, 1);
            assertThat(ws.readBytes(2)).isEqualTo(ab);
            ws.send(RawWebSocket.PING, true, ab, 0, 2);
            RawWebSocket.Frame pong = ws.read();
            assertThat(pong.opcode()).isEqualTo(RawWebSocket.PONG);
            assertThat(pong.payload()).isEqualTo(ab);
        }
    }

    @Test
    void defaultTargetIsUsedWithoutParameterAndRefusedWhenAbsent() throws Exception {
        TestTarget echo = keep(TestTarget.echo());
        TargetAddress t = TargetAddress.parse("127.0.0.1:" + echo.port());
        AtlsProxy withDefault = proxy(b -> allow(b, t.toString()).defaultTarget(t));
        try (RawWebSocket ws = RawWebSocket.open(withDefault.port(), "/any/path")) {
            assertThat(ws.status).isEqualTo(101);
            ws.sendBinary(new byte[] {42});
            assertThat(ws.readBytes(1)).containsExactly(42);
        }
        AtlsProxy none = proxy(b -> allow(b, t.toString()));
        try (RawWebSocket ws = RawWebSocket.open(none.port(), "/")) {
            assertThat(ws.status).isEqualTo(400);
            assertThat(ws.body).isEqualTo("NO_TARGET\n");
        }
    }

    /** Bypass attempts: each is refused before any upgrade, with its reason (status and body). */
    @Test
    void bypassAttemptsAreRefusedWithTheirReason() throws Exception {
        TestTarget echo = keep(TestTarget.echo());
        int port = echo.port();
        AtlsProxy p = proxy(b -> allow(b, "127.0.0.1:" + port, "echo.test:" + port, "*.wild.test:" + port,
                "meta.test:" + port, "[::1]:" + port));
        String[][] cases = {
            {q("127.0.0.1:" + (port + 1)), "TARGET_NOT_ALLOWED"},               // port outside the list
            {q("127.0.0.2:" + port), "TARGET_NOT_ALLOWED"},                      // another loopback address
            {q("localhost:" + port), "TARGET_NOT_ALLOWED"},                      // a name for an allowed IP
            {q("2130706433:" + port), "BAD_TARGET"},                             // decimal IPv4
            {q("0x7f000001:" + port), "BAD_TARGET"},                             // hex IPv4
            {q("0177.0.0.1:" + port), "BAD_TARGET"},                             // octal IPv4
            {q("0x7f.0.0.1:" + port), "BAD_TARGET"},                             // mixed hex dotted
            {q("127.1:" + port), "BAD_TARGET"},                                  // short dotted
            {q("127.000.000.001:" + port), "BAD_TARGET"},                        // zero-padded
            {q("127.0.0.1.:" + port), "BAD_TARGET"},                             // IP with trailing dot
            {q("１２７.０.０.１:" + port), "BAD_TARGET"},                          // fullwidth digits
            {q("[::ffff:127.0.0.1]:" + port), "BAD_TARGET"},                     // IPv4-mapped IPv6
            {q("[::ffff:7f00:1]:" + port), "BAD_TARGET"},                        // IPv4-mapped, hex form
            {q("[::127.0.0.1]:" + port), "BAD_TARGET"},                          // IPv4-compatible IPv6
            {q("::1:" + port), "BAD_TARGET"},                                    // IPv6 without brackets
            {q("[::1%25lo]:" + port), "BAD_TARGET"},                             // zone id
            {q("user@127.0.0.1:" + port), "BAD_TARGET"},                         // userinfo
            {q("127.0.0.1:" + port + "@evil.example"), "BAD_TARGET"},           // userinfo the other way
            {q("127.0.0.1:" + port + "/admin"), "BAD_TARGET"},                   // path
            {q("127.0.0.1:" + port + "\r\nX-Injected: 1"), "BAD_TARGET"},        // CR/LF
            {q("127.0.0.1:" + port + "\u0000"), "BAD_TARGET"},                    // NUL
            {q("127.0.0.1: " + port), "BAD_TARGET"},                             // space
            {"/?target=127.0.0.1:+" + port, "BAD_TARGET"},                       // '+' decodes to space
            {q("127.0.0.1:0" + port), "BAD_TARGET"},                             // leading-zero port
            {q("127.0.0.1:" + (port + 65536)), "BAD_TARGET"},                    // port overflow
            {q("evil.example\\@127.0.0.1:" + port), "BAD_TARGET"},               // backslash
            {q("127.0.0.1:" + port + "#x"), "BAD_TARGET"},                       // fragment
            {"/?target=127.0.0.1%3A" + port + "&target=evil.example%3A443", "BAD_TARGET"}, // second target
            {"/?target=%zz", "BAD_TARGET"},                                      // broken escape
            {q("echo.test..:" + port), "BAD_TARGET"},                            // empty label
            {q("wild.test:" + port), "TARGET_NOT_ALLOWED"},                      // wildcard does not cover apex
            {q("a.wild.test:" + (port + 1)), "TARGET_NOT_ALLOWED"},              // wildcard on another port
            {q("*.wild.test:" + port), "BAD_TARGET"},                            // wildcard requested
            {q("meta.test:" + port), "ADDRESS_NOT_ALLOWED"},                     // name resolving to 169.254/16
            {q("echo.test:" + port + ",127.0.0.1:22"), "BAD_TARGET"},            // list smuggling
        };
        for (String[] c : cases) {
            try (RawWebSocket ws = RawWebSocket.open(p.port(), c[0])) {
                assertThat(ws.status + " " + ws.body.strip()).as(c[0])
                        .isEqualTo(RejectReason.valueOf(c[1]).httpStatus() + " " + c[1]);
                assertThat(ws.headers).doesNotContainKey("sec-websocket-accept");
            }
        }
        assertThat(cases.length).isGreaterThanOrEqualTo(20);
        assertThat(echo.accepted).as("no refused request reached the target").isEmpty();
        // Normalized spellings of allowed targets do work: case, trailing dot, fullwidth letters, wildcard.
        for (String ok : new String[] {"ECHO.test:" + port, "echo.test.:" + port, "ｅｃｈｏ.test:" + port,
            "a.wild.test:" + port}) {
            try (RawWebSocket ws = RawWebSocket.open(p.port(), q(ok))) {
                assertThat(ws.status).as(ok).isEqualTo(101);
                ws.sendBinary(new byte[] {1, 2});
                assertThat(ws.readBytes(2)).containsExactly(1, 2);
            }
        }
        JsonNode rejected = awaitLog("tunnel_rejected", cases.length);
        assertThat(rejected.get("reason").asText()).isEqualTo("BAD_TARGET");
        long badTargets = java.util.Arrays.stream(cases).filter(c -> c[1].equals("BAD_TARGET")).count();
        assertThat(p.scrapeMetrics()).contains("atls_proxy_tunnels_rejected_total{reason=\"BAD_TARGET\"} "
                + badTargets + ".0");
    }

    @Test
    void resolvedAddressMustBeInTheAllowedRangesAndIsConnectedAsResolved() throws Exception {
        TestTarget echo = keep(TestTarget.echo());
        int port = echo.port();
        AtlsProxy p = proxy(b -> allow(b, "echo.test:" + port, "inner.test:" + port, "mixed.test:" + port)
                .allowCidr(IpRange.parse("127.0.0.0/8")));
        try (RawWebSocket ws = RawWebSocket.open(p.port(), q("inner.test:" + port))) {
            assertThat(ws.status + " " + ws.body.strip()).isEqualTo("403 ADDRESS_NOT_ALLOWED");
        }
        // A name with one disallowed and one allowed address connects only to the allowed one.
        try (RawWebSocket ws = RawWebSocket.open(p.port(), q("mixed.test:" + port))) {
            assertThat(ws.status).isEqualTo(101);
            ws.sendBinary(new byte[] {5});
            assertThat(ws.readBytes(1)).containsExactly(5);
        }
        JsonNode open = awaitLog("tunnel_open", 1);
        assertThat(open.get("address").asText()).isEqualTo("127.0.0.1:" + port);
    }

    @Test
    void unreachableAndUnresolvableTargetsAreRefused() throws Exception {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort();
        }
        AtlsProxy p = proxy(b -> allow(b, "127.0.0.1:" + closedPort, "nowhere.test:443"));
        try (RawWebSocket ws = RawWebSocket.open(p.port(), q("127.0.0.1:" + closedPort))) {
            assertThat(ws.status + " " + ws.body.strip()).isEqualTo("502 CONNECT_FAILED");
        }
        try (RawWebSocket ws = RawWebSocket.open(p.port(), q("nowhere.test"))) {
            assertThat(ws.status + " " + ws.body.strip()).isEqualTo("502 RESOLVE_FAILED");
        }
    }

    @Test
    void connectTimeoutIsEnforced() throws Exception {
        // A listener with a full accept queue drops further SYNs, so the connect hangs until the timeout.
        ServerSocket full = keep(new ServerSocket(0, 1, InetAddress.getLoopbackAddress()));
        List<Socket> fillers = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Socket s = new Socket();
            try {
                s.connect(full.getLocalSocketAddress(), 200);
                fillers.add(keep(s));
            } catch (IOException e) {
                s.close();
                break;
            }
        }
        AtlsProxy p = proxy(b -> allow(b, "127.0.0.1:" + full.getLocalPort()).connectTimeout(Duration.ofMillis(300)));
        try (RawWebSocket ws = RawWebSocket.open(p.port(), q("127.0.0.1:" + full.getLocalPort()))) {
            assertThat(ws.status + " " + ws.body.strip()).isEqualTo("504 CONNECT_TIMEOUT");
        }
    }

    @Test
    void bearerTokenIsRequiredInTheHeaderOrTheSubprotocol() throws Exception {
        TestTarget echo = keep(TestTarget.echo());
        String token = "s3cret-token-0123456789";
        AtlsProxy p = proxy(b -> allow(b, "127.0.0.1:" + echo.port()).token(token));
        String t = q("127.0.0.1:" + echo.port());
        try (RawWebSocket ws = RawWebSocket.open(p.port(), t)) {
            assertThat(ws.status + " " + ws.body.strip()).isEqualTo("401 UNAUTHORIZED");
            assertThat(ws.headers.get("www-authenticate")).isEqualTo("Bearer");
        }
        try (RawWebSocket ws = RawWebSocket.open(p.port(), t, "Authorization: Bearer " + token + "x")) {
            assertThat(ws.status).isEqualTo(401);
        }
        try (RawWebSocket ws = RawWebSocket.open(p.port(), t, "Authorization: Bearer " + token)) {
            assertThat(ws.status).isEqualTo(101);
        }
        try (RawWebSocket ws = RawWebSocket.open(p.port(), t, "Sec-WebSocket-Protocol: atls-proxy, atls-proxy.bearer." + token)) {
            assertThat(ws.status).isEqualTo(101);
            assertThat(ws.headers.get("sec-websocket-protocol")).isEqualTo("atls-proxy");
        }
        assertThat(logBytes.toString(StandardCharsets.UTF_8)).doesNotContain(token);
        assertThat(p.config().toString()).doesNotContain(token);
    }

    @Test
    void originAllowlistIsEnforcedWhenConfigured() throws Exception {
        TestTarget echo = keep(TestTarget.echo());
        AtlsProxy p = proxy(b -> allow(b, "127.0.0.1:" + echo.port()).allowOrigin("https://app.example.com"));
        String t = q("127.0.0.1:" + echo.port());
        try (RawWebSocket ws = RawWebSocket.open(p.port(), t)) {
            assertThat(ws.status + " " + ws.body.strip()).isEqualTo("403 ORIGIN_NOT_ALLOWED");
        }
        try (RawWebSocket ws = RawWebSocket.open(p.port(), t, "Origin: https://evil.example.com")) {
            assertThat(ws.status).isEqualTo(403);
        }
        try (RawWebSocket ws = RawWebSocket.open(p.port(), t, "Origin: https://app.example.com.evil.com")) {
            assertThat(ws.status).isEqualTo(403);
        }
        try (RawWebSocket ws = RawWebSocket.open(p.port(), t, "Origin: https://APP.example.com")) {
            assertThat(ws.status).isEqualTo(101);
        }
    }

    @Test
    void tunnelLimitsAndRateLimitRefuseWithTheirReason() throws Exception {
        TestTarget echo = keep(TestTarget.echo());
        String t = q("127.0.0.1:" + echo.port());
        AtlsProxy total = proxy(b -> allow(b, "127.0.0.1:" + echo.port()).maxTunnels(2));
        RawWebSocket a = keep(RawWebSocket.open(total.port(), t));
        RawWebSocket b2 = keep(RawWebSocket.open(total.port(), t));
        assertThat(a.status).isEqualTo(101);
        assertThat(b2.status).isEqualTo(101);
        try (RawWebSocket c = RawWebSocket.open(total.port(), t)) {
            assertThat(c.status + " " + c.body.strip()).isEqualTo("503 TOO_MANY_TUNNELS");
        }
        a.sendClose(1000);
        a.read();
        awaitLog("tunnel_close", 1);
        try (RawWebSocket c = RawWebSocket.open(total.port(), t)) {
            assertThat(c.status).as("a closed tunnel frees its slot").isEqualTo(101);
        }

        AtlsProxy perClient = proxy(b -> allow(b, "127.0.0.1:" + echo.port()).maxTunnelsPerClient(1));
        keep(RawWebSocket.open(perClient.port(), t));
        try (RawWebSocket c = RawWebSocket.open(perClient.port(), t)) {
            assertThat(c.status + " " + c.body.strip()).isEqualTo("429 TOO_MANY_TUNNELS_FOR_CLIENT");
        }

        AtlsProxy rate = proxy(b -> allow(b, "127.0.0.1:" + echo.port()).rateLimit(0.01, 2));
        for (int i = 0; i < 2; i++) {
            try (RawWebSocket c = RawWebSocket.open(rate.port(), t)) {
                assertThat(c.status).isEqualTo(101);
            }
        }
        try (RawWebSocket c = RawWebSocket.open(rate.port(), t)) {
            assertThat(c.status + " " + c.body.strip()).isEqualTo("429 RATE_LIMITED");
            assertThat(c.headers.get("retry-after")).isEqualTo("1");
        }
    }

    @Test
    void trustedProxyForwardedForNamesTheClientForLimits() throws Exception {
        TestTarget echo = keep(TestTarget.echo());
        String t = q("127.0.0.1:" + echo.port());
        AtlsProxy p = proxy(b -> allow(b, "127.0.0.1:" + echo.port()).maxTunnelsPerClient(1)
                .trustProxy(IpRange.parse("127.0.0.0/8")));
        keep(RawWebSocket.open(p.port(), t, "X-Forwarded-For: 203.0.113.7"));
        try (RawWebSocket c = RawWebSocket.open(p.port(), t, "X-Forwarded-For: 198.51.100.1, 203.0.113.8")) {
            assertThat(c.status).isEqualTo(101);
        }
        try (RawWebSocket c = RawWebSocket.open(p.port(), t, "X-Forwarded-For: 203.0.113.7")) {
            assertThat(c.status).isEqualTo(429);
        }
        assertThat(awaitLog("tunnel_open", 1).get("client").asText()).isEqualTo("203.0.113.7");
    }

    @Test
    void oversizedFramesAndMessagesCloseWith1009() throws Exception {
        TestTarget echo = keep(TestTarget.echo());
        AtlsProxy p = proxy(b -> allow(b, "127.0.0.1:" + echo.port()).maxFrameBytes(1024).maxMessageBytes(2048));
        String t = q("127.0.0.1:" + echo.port());
        try (RawWebSocket ws = RawWebSocket.open(p.port(), t)) {
            ws.sendBinary(new byte[1025]);
            RawWebSocket.Frame f = ws.read();
            assertThat(f.opcode()).isEqualTo(RawWebSocket.CLOSE);
            assertThat(f.closeCode()).isEqualTo(1009);
        }
        assertThat(awaitLog("tunnel_close", 1).get("reason").asText()).isEqualTo("FRAME_TOO_LARGE");
        try (RawWebSocket ws = RawWebSocket.open(p.port(), t)) {
            byte[] k = new byte[1024];
            ws.send(RawWebSocket.BINARY, false, k, 0, 1024);
            ws.send(RawWebSocket.CONTINUATION, false, k, 0, 1024);
            assertThat(ws.readBytes(2048)).hasSize(2048);
            ws.send(RawWebSocket.CONTINUATION, true, k, 0, 1);
            RawWebSocket.Frame f = ws.read();
            assertThat(f.opcode()).isEqualTo(RawWebSocket.CLOSE);
            assertThat(f.closeCode()).isEqualTo(1009);
        }
        assertThat(awaitLog("tunnel_close", 2).get("reason").asText()).isEqualTo("MESSAGE_TOO_LARGE");
    }

    @Test
    void idleTunnelsAreClosed() throws Exception {
        TestTarget echo = keep(TestTarget.echo());
        AtlsProxy p = proxy(b -> allow(b, "127.0.0.1:" + echo.port()).idleTimeout(Duration.ofMillis(300)));
        try (RawWebSocket ws = RawWebSocket.open(p.port(), q("127.0.0.1:" + echo.port()))) {
            ws.sendBinary(new byte[] {1});
            ws.readBytes(1);
            RawWebSocket.Frame f = ws.read();
            assertThat(f.opcode()).isEqualTo(RawWebSocket.CLOSE);
            assertThat(f.closeText()).isEqualTo("idle timeout");
            assertThat(ws.eof()).isTrue();
        }
        assertThat(awaitLog("tunnel_close", 1).get("reason").asText()).isEqualTo("IDLE_TIMEOUT");
    }

    @Test
    void slowHandshakesAreCutOff() throws Exception {
        AtlsProxy p = proxy(b -> allow(b, "127.0.0.1:9").handshakeTimeout(Duration.ofMillis(200)));
        try (Socket s = new Socket("127.0.0.1", p.port())) {
            s.setSoTimeout(5000);
            s.getOutputStream().write("GET / HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(s.getInputStream().read()).isEqualTo(-1);
        }
        assertThat(awaitLog("tunnel_rejected", 1).get("reason").asText()).isEqualTo("HANDSHAKE_TIMEOUT");
    }

    @Test
    void targetHalfCloseDeliversItsLastBytesAndStillCarriesTheClientsLastBytes() throws Exception {
        CopyOnWriteArrayList<String> got = new CopyOnWriteArrayList<>();
        TestTarget target = keep(new TestTarget(s -> {
            InputStream in = s.getInputStream();
            byte[] four = in.readNBytes(4);
            s.getOutputStream().write("pong".getBytes(StandardCharsets.US_ASCII));
            s.shutdownOutput(); // half-close: done sending, still reading
            got.add(new String(four, StandardCharsets.US_ASCII) + new String(in.readAllBytes(), StandardCharsets.US_ASCII));
        }));
        AtlsProxy p = proxy(b -> allow(b, "127.0.0.1:" + target.port()));
        try (RawWebSocket ws = RawWebSocket.open(p.port(), q("127.0.0.1:" + target.port()))) {
            ws.sendBinary("ping".getBytes(StandardCharsets.US_ASCII));
            assertThat(new String(ws.readBytes(4), StandardCharsets.US_ASCII)).isEqualTo("pong");
            RawWebSocket.Frame close = ws.read();
            assertThat(close.opcode()).isEqualTo(RawWebSocket.CLOSE);
            assertThat(close.closeCode()).isEqualTo(1000);
            ws.sendBinary("late".getBytes(StandardCharsets.US_ASCII)); // allowed until our own Close
            ws.sendClose(1000);
            assertThat(ws.eof()).isTrue();
        }
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (got.isEmpty() && System.nanoTime() < end) {
            Thread.sleep(10);
        }
        assertThat(got).containsExactly("pinglate");
        assertThat(awaitLog("tunnel_close", 1).get("reason").asText()).isEqualTo("TARGET_CLOSED");
    }

    @Test
    void clientCloseGivesTheTargetEveryByteThenEof() throws Exception {
        CopyOnWriteArrayList<Integer> got = new CopyOnWriteArrayList<>();
        TestTarget target = keep(new TestTarget(s -> got.add(s.getInputStream().readAllBytes().length)));
        AtlsProxy p = proxy(b -> allow(b, "127.0.0.1:" + target.port()));
        try (RawWebSocket ws = RawWebSocket.open(p.port(), q("127.0.0.1:" + target.port()))) {
            for (int i = 0; i < 100; i++) {
                ws.sendBinary(new byte[10_000]);
            }
            ws.sendClose(1000);
            RawWebSocket.Frame f = ws.read();
            assertThat(f.opcode()).isEqualTo(RawWebSocket.CLOSE);
            assertThat(f.closeCode()).isEqualTo(1000);
        }
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (got.isEmpty() && System.nanoTime() < end) {
            Thread.sleep(10);
        }
        assertThat(got).containsExactly(1_000_000);
    }

    @Test
    void clientVanishingClosesTheTarget() throws Exception {
        CopyOnWriteArrayList<Integer> got = new CopyOnWriteArrayList<>();
        TestTarget target = keep(new TestTarget(s -> got.add(s.getInputStream().readAllBytes().length)));
        AtlsProxy p = proxy(b -> allow(b, "127.0.0.1:" + target.port()));
        RawWebSocket ws = RawWebSocket.open(p.port(), q("127.0.0.1:" + target.port()));
        ws.sendBinary(new byte[3]);
        ws.close();
        assertThat(awaitLog("tunnel_close", 1).get("reason").asText()).isEqualTo("CLIENT_GONE");
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (got.isEmpty() && System.nanoTime() < end) {
            Thread.sleep(10);
        }
        assertThat(got).containsExactly(3);
    }

    @Test
    void gracefulShutdownDrainsThenClosesWith1001() throws Exception {
        TestTarget echo = keep(TestTarget.echo());
        AtlsProxy p = proxy(b -> allow(b, "127.0.0.1:" + echo.port())
                .adminListen(new java.net.InetSocketAddress("127.0.0.1", 0)));
        int admin = p.adminPort();
        assertThat(RawWebSocket.get(admin, "/readyz")).containsExactly("200", "ready\n");
        String t = q("127.0.0.1:" + echo.port());
        RawWebSocket finishing = keep(RawWebSocket.open(p.port(), t));
        RawWebSocket lingering = keep(RawWebSocket.open(p.port(), t));
        CompletableFuture<Integer> forced = CompletableFuture.supplyAsync(() -> p.shutdown(Duration.ofSeconds(1)),
                r -> Thread.ofPlatform().start(r));
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (logLines("proxy_draining").isEmpty() && System.nanoTime() < end) {
            Thread.sleep(5);
        }
        assertThat(RawWebSocket.get(admin, "/readyz")).containsExactly("503", "draining\n");
        assertThat(RawWebSocket.get(admin, "/healthz")[0]).isEqualTo("200");
        // An open tunnel keeps working while draining; new tunnels are not accepted.
        finishing.sendBinary(new byte[] {9});
        assertThat(finishing.readBytes(1)).containsExactly(9);
        assertThat(canConnect(p.port())).isFalse();
        finishing.sendClose(1000);
        finishing.read();
        RawWebSocket.Frame f = lingering.read();
        assertThat(f.opcode()).isEqualTo(RawWebSocket.CLOSE);
        assertThat(f.closeCode()).isEqualTo(1001);
        assertThat(forced.get(10, TimeUnit.SECONDS)).isEqualTo(1);
        List<String> reasons = logLines("tunnel_close").stream().map(n -> n.get("reason").asText()).toList();
        assertThat(reasons).containsExactlyInAnyOrder("CLIENT_CLOSED", "SHUTDOWN");
        assertThat(awaitLog("proxy_stopped", 1).get("forcibly_closed").asInt()).isEqualTo(1);
    }

    static boolean canConnect(int port) {
        try (Socket s = new Socket("127.0.0.1", port)) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    @Test
    void healthReadinessAndMetricsOnTheMainListener() throws Exception {
        AtlsProxy p = proxy(b -> allow(b, "127.0.0.1:9"));
        assertThat(RawWebSocket.get(p.port(), "/healthz")).containsExactly("200", "ok\n");
        assertThat(RawWebSocket.get(p.port(), "/readyz")).containsExactly("200", "ready\n");
        try (RawWebSocket ws = RawWebSocket.open(p.port(), q("127.0.0.1:10"))) {
            assertThat(ws.status).isEqualTo(403);
        }
        String[] m = RawWebSocket.get(p.port(), "/metrics");
        assertThat(m[0]).isEqualTo("200");
        assertThat(m[1]).contains("atls_proxy_tunnels_open 0.0")
                .contains("atls_proxy_tunnels_rejected_total{reason=\"TARGET_NOT_ALLOWED\"} 1.0")
                .contains("atls_proxy_tunnels_rejected_total{reason=\"RATE_LIMITED\"} 0.0")
                .contains("atls_proxy_tunnels_closed_total{reason=\"IDLE_TIMEOUT\"} 0.0")
                .contains("atls_proxy_connect_seconds_bucket")
                .contains("jvm_memory_used_bytes");
        assertThat(RawWebSocket.get(p.port(), "/other")[0]).isEqualTo("426");
    }

    @Test
    void startupLogNamesTheAllowlistAndWarnsWhenEmpty() throws Exception {
        proxy(b -> b);
        assertThat(awaitLog("proxy_started", 1).get("allowlist").size()).isZero();
        assertThat(awaitLog("allowlist_empty", 1).get("detail").asText()).contains("every tunnel will be refused");
    }

    @Test
    void payloadNeverReachesTheLog() throws Exception {
        TestTarget echo = keep(TestTarget.echo());
        AtlsProxy p = proxy(b -> allow(b, "127.0.0.1:" + echo.port()));
        byte[] marker = "PLAINTEXT-MARKER-7f3a".getBytes(StandardCharsets.US_ASCII);
        try (RawWebSocket ws = RawWebSocket.open(p.port(), q("127.0.0.1:" + echo.port()))) {
            ws.sendBinary(marker);
            ws.readBytes(marker.length);
            ws.sendClose(1000);
            ws.read();
        }
        awaitLog("tunnel_close", 1);
        assertThat(logBytes.toString(StandardCharsets.UTF_8)).doesNotContain("PLAINTEXT-MARKER");
    }

    @Test
    void wssFromPemFiles(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        PemKeys pem = PemKeys.selfSigned();
        java.nio.file.Path crt = dir.resolve("cert.pem");
        java.nio.file.Path key = dir.resolve("key.pem");
        java.nio.file.Files.writeString(crt, pem.certificatePem);
        java.nio.file.Files.writeString(key, pem.privateKeyPem);
        TestTarget echo = keep(TestTarget.echo());
        AtlsProxy p = proxy(b -> allow(b, "127.0.0.1:" + echo.port()).tls(crt, key));
        try (RawWebSocket ws = RawWebSocket.openTls(p.port(), q("127.0.0.1:" + echo.port()))) {
            assertThat(ws.status).isEqualTo(101);
            ws.sendBinary(new byte[] {7, 7});
            assertThat(ws.readBytes(2)).containsExactly(7, 7);
        }
        assertThat(awaitLog("proxy_started", 1).get("tls").asText()).isEqualTo("wss");
    }
}
