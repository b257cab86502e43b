package dev.atlas.dstack.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.atlas.dstack.guest.DstackGuestException.Reason;
import dev.atlas.dstack.guest.FakeAgent.Reply;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A hostile agent: every failure is bounded in time and size and carries its reason, endpoint and method. */
class HostileAgentTest {
    static final String KEY = "d6e88992cdeeee35fe70b5db61ab66cdb191fb9b6ec9313757ef162dd7214d5d";
    @TempDir Path dir;
    FakeAgent agent;

    @AfterEach
    void stop() throws IOException {
        if (agent != null) {
            agent.close();
        }
    }

    DstackClient client(Function<String, Reply> h) throws IOException {
        agent = FakeAgent.unix(dir.resolve("a.sock"), h);
        return DstackClient.builder().environment(Map.of()).endpoint(agent.endpoint())
                .readTimeout(Duration.ofMillis(400)).maxResponseBytes(64 * 1024).build();
    }

    DstackGuestException getKeyFails(Function<String, Reply> h) throws IOException {
        DstackClient c = client(h);
        DstackGuestException e = catchThrowableOfType(DstackGuestException.class, () -> c.getKey("p", "q"));
        assertThat(e).isNotNull();
        assertThat(e.endpoint()).isEqualTo("unix:" + dir.resolve("a.sock"));
        assertThat(e.method()).isEqualTo("GetKey");
        assertThat(e.getMessage()).contains("unix:" + dir.resolve("a.sock")).contains("GetKey").doesNotContain(KEY);
        return e;
    }

    @Test
    void slowAgentTimesOut() throws IOException {
        long t0 = System.nanoTime();
        DstackGuestException e = getKeyFails(r -> Reply.json(200, "{\"key\":\"" + KEY + "\"}").drip(100, 1));
        assertThat(e.reason()).isEqualTo(Reason.TIMEOUT);
        assertThat((System.nanoTime() - t0) / 1_000_000L).isLessThan(3000);
    }

    @Test
    void silentAgentTimesOut() throws IOException {
        DstackGuestException e = getKeyFails(r -> {
            try {
                Thread.sleep(2000);
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
            return Reply.raw("");
        });
        assertThat(e.reason()).isEqualTo(Reason.TIMEOUT);
    }

    @Test
    void hugeBodyIsRefused() throws IOException {
        char[] big = new char[200_000];
        Arrays.fill(big, 'a');
        DstackGuestException e = getKeyFails(r -> Reply.json(200, "{\"key\":\"" + new String(big) + "\"}"));
        assertThat(e.reason()).isEqualTo(Reason.RESPONSE_TOO_LARGE);
    }

    @Test
    void hugeUnframedStreamIsRefused() throws IOException {
        byte[] big = new byte[300_000];
        Arrays.fill(big, (byte) 'a');
        DstackGuestException e = getKeyFails(r -> Reply.raw(FakeAgent.concat("HTTP/1.1 200 OK\r\n\r\n".getBytes(), big)));
        assertThat(e.reason()).isEqualTo(Reason.RESPONSE_TOO_LARGE);
    }

    @Test
    void announcedHugeLengthIsRefused() throws IOException {
        DstackGuestException e = getKeyFails(r -> Reply.raw("HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n{}"));
        assertThat(e.reason()).isEqualTo(Reason.RESPONSE_TOO_LARGE);
    }

    @Test
    void malformedJson() throws IOException {
        DstackGuestException e = getKeyFails(r -> Reply.json(200, "{\"key\":\"" + KEY + "\","));
        assertThat(e.reason()).isEqualTo(Reason.MALFORMED_RESPONSE);
    }

    @Test
    void trailingGarbageAfterJson() throws IOException {
        DstackGuestException e = getKeyFails(r -> Reply.json(200, "{\"key\":\"" + KEY + "\"} {}"));
        assertThat(e.reason()).isEqualTo(Reason.MALFORMED_RESPONSE);
    }

    @Test
    void trailingBytesAfterFramedBody() throws IOException {
        DstackGuestException e = getKeyFails(r -> Reply.raw("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}xx"));
        assertThat(e.reason()).isEqualTo(Reason.MALFORMED_HTTP);
    }

    @Test
    void wrongTypes() throws IOException {
        DstackGuestException e = getKeyFails(r -> Reply.json(200, "{\"key\":12}"));
        assertThat(e.reason()).isEqualTo(Reason.MALFORMED_RESPONSE);
        assertThat(e.field()).isEqualTo("key");
        agent.close();
        e = getKeyFails(r -> Reply.json(200, "{\"key\":\"" + KEY + "\",\"signature_chain\":[\"aa\",7]}"));
        assertThat(e.field()).isEqualTo("signature_chain[1]");
        agent.close();
        e = getKeyFails(r -> Reply.json(200, "[\"" + KEY + "\"]"));
        assertThat(e.reason()).isEqualTo(Reason.MALFORMED_RESPONSE);
    }

    @Test
    void badHexNeverQuoted() throws IOException {
        String secretish = KEY.substring(0, 62) + "zz";
        DstackGuestException e = getKeyFails(r -> Reply.json(200, "{\"key\":\"" + secretish + "\"}"));
        assertThat(e.field()).isEqualTo("key");
        assertThat(e.getMessage()).doesNotContain(secretish);
        agent.close();
        e = getKeyFails(r -> Reply.json(200, "{\"key\":\"0x" + KEY + "\"}"));
        assertThat(e.field()).isEqualTo("key");
    }

    @Test
    void duplicateKeys() throws IOException {
        DstackGuestException e = getKeyFails(r -> Reply.json(200, "{\"key\":\"00\",\"key\":\"01\"}"));
        assertThat(e.reason()).isEqualTo(Reason.MALFORMED_RESPONSE);
    }

    @Test
    void deepNesting() throws IOException {
        DstackGuestException e = getKeyFails(r -> Reply.json(200, "{\"x\":" + "[".repeat(40) + "]".repeat(40) + "}"));
        assertThat(e.reason()).isEqualTo(Reason.MALFORMED_RESPONSE);
    }

    @Test
    void agentErrorIsSurfaced() throws IOException {
        DstackGuestException e = getKeyFails(r -> Reply.json(400, "{\n  \"error\": \"Unsupported algorithm\"\n}"));
        assertThat(e.reason()).isEqualTo(Reason.AGENT_ERROR);
        assertThat(e.status()).isEqualTo(400);
        assertThat(e.agentError()).isEqualTo("Unsupported algorithm");
    }

    @Test
    void unknownMethod() throws IOException {
        DstackGuestException e = getKeyFails(r -> Reply.json(404, "not found"));
        assertThat(e.reason()).isEqualTo(Reason.UNEXPECTED_STATUS);
        assertThat(e.status()).isEqualTo(404);
    }

    @Test
    void malformedHttp() throws IOException {
        DstackGuestException e = getKeyFails(r -> Reply.raw("HTTP/1.1 200 OK\nContent-Length: 2\n\n{}"));
        assertThat(e.reason()).isEqualTo(Reason.MALFORMED_HTTP);
        agent.close();
        e = getKeyFails(r -> Reply.raw("garbage"));
        assertThat(e.reason()).isEqualTo(Reason.MALFORMED_HTTP);
        agent.close();
        e = getKeyFails(r -> Reply.raw(""));
        assertThat(e.reason()).isEqualTo(Reason.MALFORMED_HTTP);
    }

    @Test
    void tlsKeyWithBadPem() throws IOException {
        DstackClient c = client(r -> Reply.json(200,
                "{\"key\":\"-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----\",\"certificate_chain\":[\"x\"]}"));
        DstackGuestException e = catchThrowableOfType(DstackGuestException.class,
                () -> c.getTlsKey(TlsKeyRequest.builder().build()));
        assertThat(e.reason()).isEqualTo(Reason.MALFORMED_RESPONSE);
        assertThat(e.field()).isEqualTo("key");
        assertThat(e.getMessage()).doesNotContain("AAAA");
    }

    @Test
    void tlsKeyWithBadCertificate() throws IOException {
        var o = new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode();
        o.put("key", TlsFixture.keyPem());
        o.putArray("certificate_chain").add(TlsFixture.certPem()).add("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----");
        DstackClient c = client(r -> Reply.json(200, o.toString()));
        DstackGuestException e = catchThrowableOfType(DstackGuestException.class,
                () -> c.getTlsKey(TlsKeyRequest.builder().build()));
        assertThat(e.field()).isEqualTo("certificate_chain[1]");
        assertThat(e.getMessage()).doesNotContain(TlsFixture.keyBase64Line());
    }

    @Test
    void noSocket() {
        DstackClient c = DstackClient.builder().environment(Map.of()).endpoint(dir.resolve("none.sock").toString()).build();
        DstackGuestException e = catchThrowableOfType(DstackGuestException.class, c::info);
        assertThat(e.reason()).isEqualTo(Reason.CONNECT_FAILED);
        assertThat(e.method()).isEqualTo("Info");
    }

    @Test
    void refusedTcp() throws IOException {
        int port;
        try (var s = new java.net.ServerSocket(0)) {
            port = s.getLocalPort();
        }
        DstackClient c = DstackClient.builder().environment(Map.of()).endpoint("http://127.0.0.1:" + port).build();
        DstackGuestException e = catchThrowableOfType(DstackGuestException.class, c::version);
        assertThat(e.reason()).isEqualTo(Reason.CONNECT_FAILED);
        assertThat(e.endpoint()).isEqualTo("http://127.0.0.1:" + port);
    }
}
