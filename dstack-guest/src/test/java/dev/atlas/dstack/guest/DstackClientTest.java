package dev.atlas.dstack.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.atlas.dstack.guest.FakeAgent.Reply;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Every method against the in-test fake agent, on a Unix socket and on loopback TCP: exact request bytes, parsed answers. */
class DstackClientTest {
    static final HexFormat HEX = HexFormat.of();
    @TempDir Path dir;
    FakeAgent agent;

    @AfterEach
    void stop() throws IOException {
        if (agent != null) {
            agent.close();
        }
    }

    DstackClient client(String transport, Function<String, Reply> handler) throws IOException {
        agent = transport.equals("unix") ? FakeAgent.unix(dir.resolve("dstack.sock"), handler)
                : FakeAgent.tcp(handler);
        return DstackClient.builder().environment(Map.of()).endpoint(agent.endpoint())
                .readTimeout(Duration.ofSeconds(5)).build();
    }

    static String expected(String transport, String endpoint, String method, String body) {
        String host = transport.equals("unix") ? "localhost" : endpoint.substring("http://".length());
        return "POST /" + method + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\nConnection: close\r\n\r\n"
                + body;
    }

    void assertRequest(String transport, String method, String body) {
        assertThat(agent.requests).containsExactly(expected(transport, agent.endpoint(), method, body));
    }

    @ParameterizedTest
    @ValueSource(strings = {"unix", "tcp"})
    void info(String t) throws IOException {
        DstackClient c = client(t, r -> Reply.json(200, "{\"app_id\":\"ab01\",\"instance_id\":\"cd\",\"app_cert\":\"\","
                + "\"tcb_info\":\"{\\n  \\\"mrtd\\\": \\\"00\\\"\\n}\",\"app_name\":\"demo\",\"device_id\":\"ee\","
                + "\"mr_aggregated\":\"ff\",\"os_image_hash\":\"\",\"key_provider_info\":\"{}\",\"compose_hash\":\"12\","
                + "\"vm_config\":\"{}\",\"cloud_vendor\":\"\",\"cloud_product\":\"\",\"future_field\":[1,2]}"));
        AppInfo i = c.info();
        assertRequest(t, "Info", "{}");
        assertThat(i.appId()).isEqualTo("ab01");
        assertThat(i.appName()).isEqualTo("demo");
        assertThat(i.tcbInfo()).isEqualTo("{\n  \"mrtd\": \"00\"\n}");
        assertThat(i.composeHash()).isEqualTo("12");
        assertThat(i.osImageHash()).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"unix", "tcp"})
    void getQuote(String t) throws IOException {
        DstackClient c = client(t, r -> Reply.json(200,
                "{\"quote\":\"0400\",\"event_log\":\"[]\",\"report_data\":\"68690000\",\"vm_config\":\"{}\"}"));
        Quote q = c.getQuote("hi".getBytes(StandardCharsets.UTF_8));
        assertRequest(t, "GetQuote", "{\"report_data\":\"6869\"}");
        assertThat(q.quote()).containsExactly(4, 0);
        assertThat(q.reportData()).containsExactly(0x68, 0x69, 0, 0);
        assertThat(q.attestation()).isEmpty();
        assertThat(q.eventLog()).isEqualTo("[]");
        assertThatThrownBy(() -> c.getQuote(new byte[65])).isInstanceOf(IllegalArgumentException.class);
        assertThat(c.getQuote(new byte[64]).quote()).hasSize(2);
    }

    @ParameterizedTest
    @ValueSource(strings = {"unix", "tcp"})
    void attest(String t) throws IOException {
        DstackClient c = client(t, r -> Reply.json(200, "{\"attestation\":\"00a1ff\"}"));
        assertThat(c.attest(new byte[] {1})).containsExactly(0, 0xa1, 0xff);
        assertRequest(t, "Attest", "{\"report_data\":\"01\"}");
    }

    @ParameterizedTest
    @ValueSource(strings = {"unix", "tcp"})
    void getKey(String t) throws IOException {
        String key = "d6e88992cdeeee35fe70b5db61ab66cdb191fb9b6ec9313757ef162dd7214d5d";
        DstackClient c = client(t, r -> Reply.json(200,
                "{\"key\":\"" + key + "\",\"signature_chain\":[\"aa\",\"bbcc\"]}"));
        DerivedKey k = c.getKey("/test/path", "test-purpose");
        assertRequest(t, "GetKey", "{\"path\":\"/test/path\",\"purpose\":\"test-purpose\",\"algorithm\":\"secp256k1\"}");
        assertThat(HEX.formatHex(k.key())).isEqualTo(key);
        assertThat(k.signatureChain()).hasSize(2);
        assertThat(k.signatureChain().get(1)).containsExactly(0xbb, 0xcc);
        assertThat(k.toString()).doesNotContain(key).contains("hidden");
    }

    @ParameterizedTest
    @ValueSource(strings = {"unix", "tcp"})
    void getKeyEd25519(String t) throws IOException {
        DstackClient c = client(t, r -> Reply.json(200, "{\"key\":\"01\",\"signature_chain\":[]}"));
        c.getKey("p", "", "ed25519");
        assertRequest(t, "GetKey", "{\"path\":\"p\",\"purpose\":\"\",\"algorithm\":\"ed25519\"}");
    }

    @ParameterizedTest
    @ValueSource(strings = {"unix", "tcp"})
    void getTlsKey(String t) throws Exception {
        String body = TlsFixture.responseJson();
        DstackClient c = client(t, r -> Reply.json(200, body));
        TlsKey k = c.getTlsKey(TlsKeyRequest.builder().subject("app.example").altNames(List.of("a.example", "b"))
                .usageRaTls(true).usageClientAuth(true).notBefore(1).notAfter(2).withAppInfo(true).build());
        assertRequest(t, "GetTlsKey", "{\"subject\":\"app.example\",\"usage_ra_tls\":true,\"usage_server_auth\":true,"
                + "\"usage_client_auth\":true,\"alt_names\":[\"a.example\",\"b\"],\"not_before\":1,\"not_after\":2,"
                + "\"with_app_info\":true}");
        assertThat(k.privateKey().getAlgorithm()).isEqualTo("EC");
        assertThat(k.certificates()).hasSize(1);
        assertThat(k.keyStore(new char[0]).isKeyEntry(TlsKey.ALIAS)).isTrue();
        assertThat(k.sslContext(null).getProtocol()).isEqualTo("TLS");
        assertThat(k.toString()).doesNotContain("PRIVATE").doesNotContain(TlsFixture.keyBase64Line());
    }

    @ParameterizedTest
    @ValueSource(strings = {"unix", "tcp"})
    void getTlsKeyDefaults(String t) throws Exception {
        String body = TlsFixture.responseJson();
        DstackClient c = client(t, r -> Reply.json(200, body));
        c.getTlsKey(TlsKeyRequest.builder().build());
        assertRequest(t, "GetTlsKey",
                "{\"subject\":\"\",\"usage_ra_tls\":false,\"usage_server_auth\":true,\"usage_client_auth\":false}");
    }

    @ParameterizedTest
    @ValueSource(strings = {"unix", "tcp"})
    void sign(String t) throws IOException {
        DstackClient c = client(t, r -> Reply.json(200,
                "{\"signature\":\"0102\",\"signature_chain\":[\"0102\",\"03\",\"04\"],\"public_key\":\"02ab\"}"));
        Signature s = c.sign("ed25519", "msg".getBytes(StandardCharsets.UTF_8));
        assertRequest(t, "Sign", "{\"algorithm\":\"ed25519\",\"data\":\"6d7367\"}");
        assertThat(s.signature()).containsExactly(1, 2);
        assertThat(s.signatureChain()).hasSize(3);
        assertThat(s.publicKey()).containsExactly(2, 0xab);
        assertThatThrownBy(() -> c.sign("secp256k1_prehashed", new byte[31]))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @ParameterizedTest
    @ValueSource(strings = {"unix", "tcp"})
    void verify(String t) throws IOException {
        DstackClient c = client(t, r -> Reply.json(200, "{\"valid\":true}"));
        assertThat(c.verify("secp256k1", new byte[] {1}, new byte[] {2}, new byte[] {3})).isTrue();
        assertRequest(t, "Verify",
                "{\"algorithm\":\"secp256k1\",\"data\":\"01\",\"signature\":\"02\",\"public_key\":\"03\"}");
    }

    @ParameterizedTest
    @ValueSource(strings = {"unix", "tcp"})
    void version(String t) throws IOException {
        DstackClient c = client(t, r -> Reply.json(200, "{\"version\":\"0.5.7\",\"rev\":\"abc\"}"));
        assertThat(c.version()).isEqualTo(new AgentVersion("0.5.7", "abc"));
        assertRequest(t, "Version", "{}");
    }

    @ParameterizedTest
    @ValueSource(strings = {"unix", "tcp"})
    void isReachable(String t) throws IOException {
        DstackClient c = client(t, r -> r.startsWith("POST /Info ") ? Reply.json(200, "{}") : Reply.json(404, "{}"));
        assertThat(c.isReachable()).isTrue();
        agent.close();
        if (t.equals("unix")) {
            Files.deleteIfExists(dir.resolve("dstack.sock"));
        }
        assertThat(c.isReachable()).isFalse();
    }

    @ParameterizedTest
    @ValueSource(strings = {"unix", "tcp"})
    void chunkedResponse(String t) throws IOException {
        DstackClient c = client(t, r -> Reply.raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5\r\n{\"ver\r\n14\r\nsion\":\"1\",\"rev\":\"r\"}\r\n0\r\n\r\n"));
        assertThat(c.version()).isEqualTo(new AgentVersion("1", "r"));
    }

    @org.junit.jupiter.api.Test
    void baseUrlPathIsKept() throws IOException {
        agent = FakeAgent.tcp(r -> Reply.json(200, "{}"));
        DstackClient c = DstackClient.builder().environment(Map.of()).endpoint(agent.endpoint() + "/agent/").build();
        c.version();
        assertThat(agent.requests.get(0)).startsWith("POST /agent/Version HTTP/1.1\r\n");
    }

    /** The real capture {@code dstack/verifier/fixtures/tdx-lite-getquote.json} parses to the end. */
    @org.junit.jupiter.api.Test
    void realGetQuoteCapture() throws IOException {
        Path f = TlsFixture.shared("tdx-lite-getquote.json");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(f), "shared testdata missing: " + f);
        String body = Files.readString(f);
        DstackClient c = client("unix", r -> Reply.json(200, body));
        Quote q = c.getQuote(new byte[0]);
        assertThat(q.quote().length).isGreaterThan(1000);
        assertThat(q.reportData()).hasSize(64);
        assertThat(q.eventLog()).startsWith("[");
    }
}
