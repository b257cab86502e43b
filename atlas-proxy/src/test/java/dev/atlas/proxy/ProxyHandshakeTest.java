package dev.atlas.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.testing.RawWebSocket;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Raw-socket tests of what real clients send: subprotocol offers (websockify's {@code binary}, the token
 * subprotocol, unsupported lists) decided before the target is connected, the 426 for plain requests, Close
 * reasons both ways, and the streaming frame decoder (frames split anywhere, protocol errors).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ProxyHandshakeTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String TOKEN = "a-long-enough-secret-token";
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

    AtlsProxy proxy(TestTarget t, UnaryOperator<ProxyConfig.Builder> change) throws Exception {
        ProxyConfig.Builder b = ProxyConfig.builder().listen(new InetSocketAddress("127.0.0.1", 0)).noDefaultTarget()
                .allow(TargetAddress.parseEntry("127.0.0.1:" + t.port()));
        return keep(AtlsProxy.builder(change.apply(b).build()).log(log).build().start());
    }

    static String q(TestTarget t) {
        return "/?target=" + URLEncoder.encode("127.0.0.1:" + t.port(), StandardCharsets.UTF_8);
    }

    JsonNode awaitLog(String event, int count) throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < end) {
            List<JsonNode> out = new ArrayList<>();
            for (String l : logBytes.toString(StandardCharsets.UTF_8).split("\n")) {
                if (!l.isBlank()) {
                    JsonNode n = JSON.readTree(l);
                    if (event.equals(n.path("event").asText())) {
                        out.add(n);
                    }
                }
            }
            if (out.size() >= count) {
                return out.get(count - 1);
            }
            Thread.sleep(10);
        }
        throw new AssertionError("no " + count + " '" + event + "' log line(s): " + logBytes);
    }

    static void echoes(RawWebSocket ws) throws IOException {
        ws.sendBinary(new byte[] {1, 2, 3});
        assertThat(ws.readBytes(3)).containsExactly(1, 2, 3);
    }

    @Test
    void websockifyBinarySubprotocolIsSelected() throws Exception {
        TestTarget echo = keep(TestTarget.echo());
        AtlsProxy p = proxy(echo, b -> b);
        String transport = awaitLog("proxy_started", 1).get("transport").asText();
        assertThat(transport).isIn("epoll", "nio").isEqualTo(AtlsProxy.transport());
        try (RawWebSocket ws = RawWebSocket.open(p.port(), q(echo), "Sec-WebSocket-Protocol: binary")) {
            assertThat(ws.status).isEqualTo(101);
            assertThat(ws.headers.get("sec-websocket-protocol")).isEqualTo("binary");
            echoes(ws);
        }
        try (RawWebSocket ws = RawWebSocket.open(p.port(), q(echo), "Sec-WebSocket-Protocol: atls-proxy, binary")) {
            assertThat(ws.headers.get("sec-websocket-protocol")).isEqualTo("binary");
        }
        try (RawWebSocket ws = RawWebSocket.open(p.port(), q(echo))) {
            assertThat(ws.status).isEqualTo(101);
            assertThat(ws.headers).doesNotContainKey("sec-websocket-protocol");
            echoes(ws);
        }
    }

    @Test
    void binaryWithTheTokenSubprotocolSelectsBinaryAndNeverEchoesTheToken() throws Exception {
        TestTarget echo = keep(TestTarget.echo());
        AtlsProxy p = proxy(echo, b -> b.token(TOKEN));
        try (RawWebSocket ws = RawWebSocket.open(p.port(), q(echo),
                "Sec-WebSocket-Protocol: binary, atls-proxy.bearer." + TOKEN)) {
            assertThat(ws.status).isEqualTo(101);
            assertThat(ws.headers.get("sec-websocket-protocol")).isEqualTo("binary");
            assertThat(ws.headers.toString()).doesNotContain(TOKEN);
            echoes(ws);
        }
        // the token and binary on two header lines (a header Netty alone would read only the first of)
        try (RawWebSocket ws = RawWebSocket.open(p.port(), q(echo),
                "Sec-WebSocket-Protocol: atls-proxy.bearer." + TOKEN, "Sec-WebSocket-Protocol: binary")) {
            assertThat(ws.status).isEqualTo(101);
            assertThat(ws.headers.get("sec-websocket-protocol")).isEqualTo("binary");
        }
        try (RawWebSocket ws = RawWebSocket.open(p.port(), q(echo),
                "Sec-WebSocket-Protocol: atls-proxy, atls-proxy.bearer." + TOKEN)) {
            assertThat(ws.headers.get("sec-websocket-protocol")).isEqualTo("atls-proxy");
        }
        assertThat(logBytes.toString(StandardCharsets.UTF_8)).doesNotContain(TOKEN);
    }

    @Test
    void unsupportedSubprotocolsAreRefusedBeforeTheTargetIsConnected() throws Exception {
        TestTarget echo = keep(TestTarget.echo());
        AtlsProxy p = proxy(echo, b -> b.token(TOKEN));
        try (RawWebSocket ws = RawWebSocket.open(p.port(), q(echo), "Authorization: Bearer " + TOKEN,
                "Sec-WebSocket-Protocol: chat, superchat")) {
            assertThat(ws.status).isEqualTo(400);
            assertThat(ws.headers).doesNotContainKey("sec-websocket-protocol");
            assertThat(ws.body).startsWith("UNSUPPORTED_SUBPROTOCOL\n")
                    .contains("offered subprotocols chat, superchat").contains("supported: binary, atls-proxy");
        }
        // the token alone: a browser would abort on a 101 without it, and it is never echoed
        try (RawWebSocket ws = RawWebSocket.open(p.port(), q(echo), "Sec-WebSocket-Protocol: atls-proxy.bearer." + TOKEN)) {
            assertThat(ws.status).isEqualTo(400);
            assertThat(ws.body).startsWith("UNSUPPORTED_SUBPROTOCOL\n")
                    .contains("offered only atls-proxy.bearer.<token>").doesNotContain(TOKEN);
        }
        JsonNode r = awaitLog("tunnel_rejected", 1);
        assertThat(r.get("reason").asText()).isEqualTo("UNSUPPORTED_SUBPROTOCOL");
        assertThat(r.get("status").asInt()).isEqualTo(400);
        assertThat(r.get("detail").asText()).contains("chat, superchat");
        assertThat(awaitLog("tunnel_rejected", 2).get("detail").asText()).doesNotContain(TOKEN);
        Thread.sleep(100);
        assertThat(echo.accepted).as("the target saw no connection").isEmpty();
        assertThat(p.scrapeMetrics()).contains("atls_proxy_tunnels_rejected_total{reason=\"UNSUPPORTED_SUBPROTOCOL\"} 2.0");
        assertThat(logBytes.toString(StandardCharsets.UTF_8)).doesNotContain(TOKEN);
    }

    @Test
    void plainRequestsGet426AndAreLoggedAndCounted() throws Exception {
        TestTarget echo = keep(TestTarget.echo());
        AtlsProxy p = proxy(echo, b -> b);
        assertThat(RawWebSocket.get(p.port(), "/?target=127.0.0.1%3A" + echo.port())[0]).isEqualTo("426");
        assertThat(RawWebSocket.get(p.port(), "/healthz")[0]).isEqualTo("200");
        JsonNode r = awaitLog("tunnel_rejected", 1);
        assertThat(r.get("reason").asText()).isEqualTo("UPGRADE_REQUIRED");
        assertThat(r.get("status").asInt()).isEqualTo(426);
        assertThat(r.get("detail").asText()).contains("without Upgrade: websocket");
        assertThat(p.scrapeMetrics()).contains("atls_proxy_tunnels_rejected_total{reason=\"UPGRADE_REQUIRED\"} 1.0");
        assertThat(echo.accepted).isEmpty();
    }

    @Test
    void closeReasonsTravelBothWaysAndAreLogged() throws Exception {
        TestTarget echo = keep(TestTarget.echo());
        AtlsProxy p = proxy(echo, b -> b);
        try (RawWebSocket ws = RawWebSocket.open(p.port(), q(echo))) {
            echoes(ws);
            byte[] reason = "bye now".getBytes(StandardCharsets.UTF_8);
            byte[] body = new byte[2 + reason.length];
            body[0] = (byte) (4001 >>> 8);
            body[1] = (byte) 4001;
            System.arraycopy(reason, 0, body, 2, reason.length);
            ws.send(RawWebSocket.CLOSE, true, body, 0, body.length);
            RawWebSocket.Frame f = ws.read();
            assertThat(f.opcode()).isEqualTo(RawWebSocket.CLOSE);
            assertThat(f.closeCode()).isEqualTo(4001);
            assertThat(f.closeText()).isEqualTo("bye now");
        }
        JsonNode c = awaitLog("tunnel_close", 1);
        assertThat(c.get("reason").asText()).isEqualTo("CLIENT_CLOSED");
        assertThat(c.get("close_received_code").asInt()).isEqualTo(4001);
        assertThat(c.get("close_received_reason").asText()).isEqualTo("bye now");
        assertThat(c.get("close_sent_code").asInt()).isEqualTo(4001);
        assertThat(c.get("close_sent_reason").asText()).isEqualTo("bye now");

        TestTarget closer = keep(new TestTarget(s -> s.getOutputStream().write(new byte[] {9})));
        AtlsProxy p2 = proxy(closer, b -> b);
        try (RawWebSocket ws = RawWebSocket.open(p2.port(), q(closer))) {
            assertThat(ws.readBytes(1)).containsExactly(9);
            RawWebSocket.Frame f = ws.read();
            assertThat(f.closeCode()).isEqualTo(1000);
            assertThat(f.closeText()).isEqualTo("target closed");
            ws.sendClose(1000);
        }
        JsonNode c2 = awaitLog("tunnel_close", 2);
        assertThat(c2.get("close_sent_reason").asText()).isEqualTo("target closed");
    }

    /** A masked frame, built by hand so tests can split it or break the rules. */
    static byte[] frame(int b0, byte[] payload, boolean masked) {
        int len = payload.length;
        ByteArrayOutputStream f = new ByteArrayOutputStream();
        f.write(b0);
        int m = masked ? 0x80 : 0;
        if (len < 126) {
            f.write(m | len);
        } else if (len < 65536) {
            f.write(m | 126);
            f.write(len >>> 8);
            f.write(len);
        } else {
            f.write(m | 127);
            for (int i = 7; i >= 0; i--) {
                f.write((int) ((long) len >>> (8 * i)));
            }
        }
        byte[] key = {0x37, (byte) 0xfa, 0x21, 0x3d};
        if (masked) {
            f.writeBytes(key);
        }
        for (int i = 0; i < len; i++) {
            f.write(payload[i] ^ (masked ? key[i & 3] : 0));
        }
        return f.toByteArray();
    }

    @Test
    void framesSplitAtAnyByteAndFragmentsArriveIntact() throws Exception {
        TestTarget echo = keep(TestTarget.echo());
        AtlsProxy p = proxy(echo, b -> b);
        Random rnd = new Random(3);
        byte[] a = new byte[70_000]; // 8-byte length
        byte[] b = new byte[300]; // 2-byte length
        byte[] c = new byte[5];
        rnd.nextBytes(a);
        rnd.nextBytes(b);
        rnd.nextBytes(c);
        ByteArrayOutputStream wire = new ByteArrayOutputStream();
        wire.writeBytes(frame(0x02, a, true)); // binary, not final
        wire.writeBytes(frame(0x89, new byte[] {42}, true)); // ping inside the fragmented message
        wire.writeBytes(frame(0x00, b, true)); // continuation
        wire.writeBytes(frame(0x80, c, true)); // final continuation
        wire.writeBytes(frame(0x81, "text".getBytes(StandardCharsets.UTF_8), true));
        wire.writeBytes(frame(0x82, new byte[0], true));
        byte[] all = wire.toByteArray();
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        expected.writeBytes(a);
        expected.writeBytes(b);
        expected.writeBytes(c);
        expected.writeBytes("text".getBytes(StandardCharsets.UTF_8));
        try (RawWebSocket ws = RawWebSocket.open(p.port(), q(echo))) {
            OutputStream out = ws.socket.getOutputStream();
            // the first 40 bytes one by one (headers and mask split), then odd-sized pieces
            int off = 0;
            for (; off < 40; off++) {
                out.write(all[off]);
                out.flush();
                Thread.sleep(1);
            }
            while (off < all.length) {
                int n = Math.min(all.length - off, 1 + rnd.nextInt(9000));
                out.write(all, off, n);
                out.flush();
                off += n;
            }
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            while (got.size() < expected.size()) {
                RawWebSocket.Frame f = ws.read();
                if (f.opcode() == RawWebSocket.PONG) {
                    assertThat(f.payload()).containsExactly(42);
                    continue;
                }
                got.writeBytes(f.payload());
            }
            assertThat(got.toByteArray()).isEqualTo(expected.toByteArray());
        }
    }

    @Test
    void protocolViolationsGetClose1002WithAReason() throws Exception {
        TestTarget echo = keep(TestTarget.echo());
        AtlsProxy p = proxy(echo, b -> b);
        Object[][] cases = {
            {frame(0x82, new byte[] {1}, false), "unmasked client frame"},
            {frame(0xc2, new byte[] {1}, true), "reserved bits set"},
            {frame(0x83, new byte[] {1}, true), "unknown data opcode 3"},
            {frame(0x80, new byte[] {1}, true), "continuation frame without a fragmented message"},
            {concat(frame(0x02, new byte[] {1}, true), frame(0x82, new byte[] {1}, true)),
                "new message before the fragmented one ended"},
            {frame(0x09, new byte[] {1}, true), "fragmented control frame"},
            {frame(0x88, new byte[] {3}, true), "Close frame with a 1-byte body"},
            {frame(0x88, new byte[] {0x03, (byte) 0xed}, true), "Close frame with invalid code 1005"},
        };
        int n = 0;
        for (Object[] c : cases) {
            try (RawWebSocket ws = RawWebSocket.open(p.port(), q(echo))) {
                ws.socket.getOutputStream().write((byte[]) c[0]);
                RawWebSocket.Frame f = ws.read();
                while (f.opcode() == RawWebSocket.BINARY) {
                    f = ws.read();
                }
                assertThat(f.opcode()).isEqualTo(RawWebSocket.CLOSE);
                assertThat(f.closeCode()).as((String) c[1]).isEqualTo(1002);
                assertThat(f.closeText()).startsWith((String) c[1]);
            }
            JsonNode close = awaitLog("tunnel_close", ++n);
            assertThat(close.get("reason").asText()).isEqualTo("PROTOCOL_ERROR");
        }
    }

    @Test
    void limitsAreCheckedOnTheHeaderBeforeAnyPayloadIsForwarded() throws Exception {
        TestTarget echo = keep(TestTarget.echo());
        AtlsProxy p = proxy(echo, b -> b.maxFrameBytes(1000).maxMessageBytes(1500));
        try (RawWebSocket ws = RawWebSocket.open(p.port(), q(echo))) {
            byte[] big = frame(0x82, new byte[1001], true);
            ws.socket.getOutputStream().write(Arrays.copyOf(big, 20)); // header and a few payload bytes
            RawWebSocket.Frame f = ws.read();
            assertThat(f.closeCode()).isEqualTo(1009);
            assertThat(f.closeText()).isEqualTo("frame larger than 1000 bytes");
        }
        assertThat(awaitLog("tunnel_close", 1).get("bytes_to_target").asLong()).isZero();
        try (RawWebSocket ws = RawWebSocket.open(p.port(), q(echo))) {
            ws.socket.getOutputStream().write(concat(frame(0x02, new byte[1000], true), frame(0x80, new byte[501], true)));
            RawWebSocket.Frame f = ws.read();
            while (f.opcode() == RawWebSocket.BINARY) {
                f = ws.read();
            }
            assertThat(f.closeCode()).isEqualTo(1009);
            assertThat(f.closeText()).isEqualTo("message larger than 1500 bytes");
        }
        assertThat(awaitLog("tunnel_close", 2).get("reason").asText()).isEqualTo("MESSAGE_TOO_LARGE");
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
