package dev.atlas.dstack.vmm.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

/** The §2.13 key-provider framing: known answers, one-mutation refusals, a loopback stand-in provider. */
class KeyProviderClientTest {
    static byte[] frame(String json) {
        byte[] p = json.getBytes(StandardCharsets.UTF_8);
        byte[] f = new byte[4 + p.length];
        f[0] = (byte) (p.length >>> 24);
        f[1] = (byte) (p.length >>> 16);
        f[2] = (byte) (p.length >>> 8);
        f[3] = (byte) p.length;
        System.arraycopy(p, 0, f, 4, p.length);
        return f;
    }

    static KeyProviderClient.Response parse(byte[] wire) throws Exception {
        return KeyProviderClient.decodeResponse(KeyProviderClient.readFrame(new ByteArrayInputStream(wire)));
    }

    static void refused(byte[] wire, Reason reason, String text) {
        assertThatThrownBy(() -> parse(wire)).isInstanceOf(RaException.class).hasMessageContaining(text)
                .satisfies(e -> assertThat(((RaException) e).raReason()).isEqualTo(reason));
    }

    @Test
    void requestFrameIsBigEndianLengthAndIntegerArrayJson() throws Exception {
        byte[] f = KeyProviderClient.encodeRequest(new byte[] {0, 1, (byte) 0xff});
        assertThat(f).containsExactly(frame("{\"quote\":[0,1,255]}"));
    }

    @Test
    void responseKnownAnswer() throws Exception {
        KeyProviderClient.Response r = parse(frame(" {\"provider_quote\":[9], \"extra\":{\"a\":[1]},"
                + "\"encrypted_key\":[1,2,255]} "));
        assertThat(r.encryptedKey()).containsExactly(1, 2, 255);
        assertThat(r.providerQuote()).containsExactly(9);
        assertThat(parse(KeyProviderClient.encodeResponse(new byte[] {7}, new byte[0])).encryptedKey())
                .containsExactly(7);
    }

    @Test
    void oneMutationRefusals() {
        refused(new byte[] {0, 0}, Reason.TRUNCATED, "2 of 4 length bytes");
        refused(frame(""), Reason.LIMIT_EXCEEDED, "frame length 0");
        refused(new byte[] {0, (byte) 0x80, 0, 1}, Reason.LIMIT_EXCEEDED, "8388609");
        byte[] cut = frame("{\"encrypted_key\":[1],\"provider_quote\":[2]}");
        refused(java.util.Arrays.copyOf(cut, cut.length - 1), Reason.TRUNCATED, "frame bytes");
        refused(frame("{\"encrypted_key\":[1],\"provider_quote\":[2]} x"), Reason.WRONG_TYPE, "not valid JSON");
        refused(frame("{\"encrypted_key\":[1],\"provider_quote\":[2]}{}"), Reason.TRAILING_BYTES, "after the JSON");
        refused(frame("{\"encrypted_key\":[256],\"provider_quote\":[2]}"), Reason.WRONG_TYPE, "encrypted_key[0]");
        refused(frame("{\"encrypted_key\":[-1],\"provider_quote\":[2]}"), Reason.WRONG_TYPE, "encrypted_key[0]");
        refused(frame("{\"encrypted_key\":[1.0],\"provider_quote\":[2]}"), Reason.WRONG_TYPE, "encrypted_key[0]");
        refused(frame("{\"encrypted_key\":\"01\",\"provider_quote\":[2]}"), Reason.WRONG_TYPE, "encrypted_key");
        refused(frame("{\"encrypted_key\":[1],\"provider_quote\":[2,\"3\"]}"), Reason.WRONG_TYPE,
                "provider_quote[1]");
        refused(frame("{\"encrypted_key\":[1]}"), Reason.MISSING_FIELD, "provider_quote");
        refused(frame("{\"provider_quote\":[1]}"), Reason.MISSING_FIELD, "encrypted_key");
        refused(frame("{\"encrypted_key\":[1],\"encrypted_key\":[1],\"provider_quote\":[2]}"),
                Reason.DUPLICATE_FIELD, "encrypted_key");
        refused(frame("[1]"), Reason.WRONG_TYPE, "not a JSON object");
        refused(frame("{\"encrypted_key\":[1],\"provider_quote\":[2]"), Reason.WRONG_TYPE, "not valid JSON");
    }

    @Test
    void quoteOverOneMibIsRefusedBeforeConnecting() {
        KeyProviderClient c = new KeyProviderClient(new InetSocketAddress(InetAddress.getLoopbackAddress(), 1),
                Duration.ofSeconds(1));
        assertThatThrownBy(() -> c.getKey(new byte[KeyProviderClient.MAX_QUOTE + 1]))
                .isInstanceOf(RaException.class).hasMessageContaining("Quote is too long")
                .satisfies(e -> assertThat(((RaException) e).raReason()).isEqualTo(Reason.TOO_LARGE));
    }

    @Property(tries = 50)
    void requestsRoundTrip(@ForAll @Size(max = 300) byte[] quote) throws Exception {
        byte[] f = KeyProviderClient.encodeRequest(quote);
        String json = new String(KeyProviderClient.readFrame(new ByteArrayInputStream(f)), StandardCharsets.US_ASCII);
        // a provider's reply built from the same ints parses back to the same bytes
        KeyProviderClient.Response r = parse(frame(json.replace("\"quote\"", "\"encrypted_key\"")
                .replace("}", ",\"provider_quote\":[]}")));
        assertThat(r.encryptedKey()).containsExactly(quote);
    }

    /** A one-connection stand-in provider on loopback port 0; {@code answer} maps the request JSON to raw bytes. */
    static final class StandInProvider implements AutoCloseable {
        final ServerSocket server;
        final CompletableFuture<String> request = new CompletableFuture<>();

        StandInProvider(Function<String, byte[]> answer) throws IOException {
            server = new ServerSocket(0, 4, InetAddress.getLoopbackAddress());
            Thread.ofVirtual().start(() -> {
                try (Socket s = server.accept()) {
                    DataInputStream in = new DataInputStream(s.getInputStream());
                    byte[] body = new byte[in.readInt()];
                    in.readFully(body);
                    String json = new String(body, StandardCharsets.US_ASCII);
                    request.complete(json);
                    byte[] a = answer.apply(json);
                    if (a != null) {
                        OutputStream out = s.getOutputStream();
                        out.write(a);
                        out.flush();
                        s.shutdownOutput();
                    }
                    in.read(); // hold the connection until the client closes it

                } catch (IOException e) {
                    request.completeExceptionally(e);
                }
            });
        }

        InetSocketAddress address() {
            return new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getLocalPort());
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }

    @Test
    void talksToAProviderOverLoopback() throws Exception {
        try (StandInProvider p = new StandInProvider(
                json -> KeyProviderClient.encodeResponse(new byte[] {(byte) 0xaa, 0x55}, new byte[] {3}))) {
            KeyProviderClient.Response r = new KeyProviderClient(p.address(), Duration.ofSeconds(5))
                    .getKey(new byte[] {4, 5});
            assertThat(p.request.get()).isEqualTo("{\"quote\":[4,5]}");
            assertThat(r.encryptedKey()).containsExactly(0xaa, 0x55);
            assertThat(r.providerQuote()).containsExactly(3);
            assertThat(r.toString()).doesNotContain("170");
        }
    }

    @Test
    void aProviderThatClosesEarlyOrStallsIsUnavailable() throws Exception {
        try (StandInProvider p = new StandInProvider(json -> new byte[] {0, 0, 0, 9, '{'})) {
            assertThatThrownBy(() -> new KeyProviderClient(p.address(), Duration.ofSeconds(5)).getKey(new byte[1]))
                    .isInstanceOf(RaException.class).hasMessageContaining("1 of 9 frame bytes");
        }
        try (StandInProvider p = new StandInProvider(json -> null)) { // never answers
            assertThatThrownBy(() -> new KeyProviderClient(p.address(), Duration.ofMillis(200)).getKey(new byte[1]))
                    .isInstanceOf(RaException.class).hasMessageContaining("did not answer within 200 ms")
                    .satisfies(e -> assertThat(((RaException) e).raReason())
                            .isEqualTo(Reason.KEY_PROVIDER_UNAVAILABLE));
        }
        InetSocketAddress closed;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closed = new InetSocketAddress(InetAddress.getLoopbackAddress(), s.getLocalPort());
        }
        assertThatThrownBy(() -> new KeyProviderClient(closed, Duration.ofSeconds(2)).getKey(new byte[1]))
                .isInstanceOf(RaException.class).hasMessageContaining("key provider " + closed)
                .satisfies(e -> assertThat(((RaException) e).raReason()).isEqualTo(Reason.KEY_PROVIDER_UNAVAILABLE));
    }
}
