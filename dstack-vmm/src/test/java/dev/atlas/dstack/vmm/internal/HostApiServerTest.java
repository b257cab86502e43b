package dev.atlas.dstack.vmm.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The host API on per-VM Unix sockets: {@code HostApi.Info}, {@code Notify} attributed to the socket's VM,
 * {@code GetSealingKey} forwarded to a loopback stand-in key provider, upstream's error texts.
 */
class HostApiServerTest {
    @TempDir
    static Path dir;
    static final List<String> events = new CopyOnWriteArrayList<>();
    static HostApiServer server;

    @BeforeAll
    static void start() throws Exception {
        server = HostApiServer.builder((vm, event, payload) -> events.add(vm + "|" + event + "|" + payload))
                .version("0.5.3").build();
        server.bind("vm-a", dir.resolve("a.sock"));
        server.bind("vm-b", dir.resolve("b.sock"));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    record Answer(int status, String body) {}

    /** One HTTP/1.1 request over the Unix socket (Connection: close), as a guest's pRPC client sends it. */
    static Answer call(Path socket, String method, String path, String json) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            byte[] body = json.getBytes(StandardCharsets.UTF_8);
            String head = method + " " + path + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + body.length + "\r\nConnection: close\r\n\r\n";
            ch.write(ByteBuffer.wrap(head.getBytes(StandardCharsets.US_ASCII)));
            ch.write(ByteBuffer.wrap(body));
            InputStream in = Channels.newInputStream(ch);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            in.transferTo(out);
            String resp = out.toString(StandardCharsets.UTF_8);
            int sp = resp.indexOf(' ');
            int status = Integer.parseInt(resp.substring(sp + 1, sp + 4));
            return new Answer(status, resp.substring(resp.indexOf("\r\n\r\n") + 4));
        }
    }

    @Test
    void infoAtUpstreamsMountAndAtTheRoot() throws Exception {
        Answer a = call(dir.resolve("a.sock"), "POST", "/api/HostApi.Info", "");
        assertThat(a.status()).isEqualTo(200);
        assertThat(a.body()).isEqualTo("{\"name\":\"dstack VMM\",\"version\":\"0.5.3\"}");
        assertThat(call(dir.resolve("a.sock"), "GET", "/Info", "").body()).contains("dstack VMM");
        assertThat(call(dir.resolve("a.sock"), "POST", "/api/HostApi.Nope", "{}").body())
                .contains("Service not found");
    }

    @Test
    void notifyIsAttributedToTheSocketsVm() throws Exception {
        events.clear();
        assertThat(call(dir.resolve("a.sock"), "POST", "/api/HostApi.Notify",
                "{\"event\":\"boot.progress\",\"payload\":\"starting containers\"}").status()).isEqualTo(200);
        assertThat(call(dir.resolve("b.sock"), "POST", "/api/HostApi.Notify",
                "{\"event\":\"boot.error\",\"payload\":\"no kms\"}").body()).isEqualTo("{}");
        assertThat(events).containsExactly("vm-a|boot.progress|starting containers", "vm-b|boot.error|no kms");
        // wrong type: refused with the field named, nothing delivered
        Answer bad = call(dir.resolve("a.sock"), "POST", "/api/HostApi.Notify", "{\"event\":1}");
        assertThat(bad.status()).isEqualTo(400);
        assertThat(bad.body()).contains("event");
        assertThat(events).hasSize(2);
    }

    @Test
    void getSealingKeyWithoutAKeyProviderSaysSo() throws Exception {
        Answer a = call(dir.resolve("a.sock"), "POST", "/api/HostApi.GetSealingKey", "{\"quote\":\"00\"}");
        assertThat(a.status()).isEqualTo(400);
        assertThat(a.body()).contains("Key provider is not enabled");
    }

    @Test
    void getSealingKeyIsForwardedToTheKeyProvider() throws Exception {
        try (KeyProviderClientTest.StandInProvider p = new KeyProviderClientTest.StandInProvider(
                json -> KeyProviderClient.encodeResponse(new byte[] {(byte) 0xde, (byte) 0xad}, new byte[] {1, 2}));
                HostApiServer s = HostApiServer.builder((v, e, x) -> {}).keyProvider(p.address())
                        .keyProviderTimeout(Duration.ofSeconds(5)).build()) {
            s.bind("vm-k", dir.resolve("k.sock"));
            Answer a = call(dir.resolve("k.sock"), "POST", "/api/HostApi.GetSealingKey", "{\"quote\":\"0a0bff\"}");
            assertThat(a.status()).isEqualTo(200);
            assertThat(a.body()).isEqualTo("{\"encrypted_key\":\"dead\",\"provider_quote\":\"0102\"}");
            assertThat(p.request.get()).isEqualTo("{\"quote\":[10,11,255]}");
            s.unbind("vm-k");
            assertThat(Files.exists(dir.resolve("k.sock"))).isFalse();
            assertThat(s.socket("vm-k")).isEmpty();
        }
    }

    @Test
    void aKeyProviderFailureIsAnErrorForTheGuest() throws Exception {
        try (KeyProviderClientTest.StandInProvider p = new KeyProviderClientTest.StandInProvider(
                json -> KeyProviderClientTest.frame("{\"encrypted_key\":[1]}"));
                HostApiServer s = HostApiServer.builder((v, e, x) -> {}).keyProvider(p.address()).build()) {
            s.bind("vm-k2", dir.resolve("k2.sock"));
            Answer a = call(dir.resolve("k2.sock"), "POST", "/api/HostApi.GetSealingKey", "{\"quote\":\"00\"}");
            assertThat(a.status()).isEqualTo(400);
            assertThat(a.body()).contains("Failed to get sealing key from key provider")
                    .contains("provider_quote");
        }
    }

    @Test
    void aSocketPathTooLongForUnixIsRefusedByName() {
        Path longPath = dir.resolve("x".repeat(120) + ".sock");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> server.bind("vm-long", longPath))
                .isInstanceOf(dev.atlas.dstack.ra.RaException.class).hasMessageContaining("run_path")
                .hasMessageContaining("vm-long");
        assertThat(server.socket("vm-long")).isEmpty();
    }

    @Test
    void rebindingReplacesTheSocket() throws Exception {
        server.bind("vm-c", dir.resolve("c1.sock"));
        server.bind("vm-c", dir.resolve("c2.sock"));
        assertThat(Files.exists(dir.resolve("c1.sock"))).isFalse();
        assertThat(server.socket("vm-c")).contains(dir.resolve("c2.sock"));
        events.clear();
        call(dir.resolve("c2.sock"), "POST", "/api/HostApi.Notify", "{\"event\":\"e\",\"payload\":\"p\"}");
        assertThat(events).containsExactly("vm-c|e|p");
        server.unbind("vm-c");
    }
}
