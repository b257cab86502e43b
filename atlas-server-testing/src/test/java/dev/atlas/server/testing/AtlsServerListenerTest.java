package dev.atlas.server.testing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.atlas.server.AtlsServerCall;
import dev.atlas.server.AtlsServerListener;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The server listener's event order, its correlation object, and the guard around it. */
class AtlsServerListenerTest {
    /** Records "name" of every per-request event, and fails on every call when {@code fail}. */
    static AtlsServerListener recording(List<String> events, List<AtlsServerCall> calls, boolean fail) {
        return (AtlsServerListener) Proxy.newProxyInstance(AtlsServerListener.class.getClassLoader(),
                new Class<?>[] {AtlsServerListener.class}, (proxy, m, args) -> {
                    if (m.getDeclaringClass() == Object.class) {
                        return m.getName().equals("hashCode") ? 0 : m.getName().equals("equals") ? false : "rec";
                    }
                    if (args != null && args.length > 0 && args[0] instanceof AtlsServerCall c) {
                        calls.add(c);
                        events.add(m.getName());
                    }
                    if (fail) {
                        throw new IllegalStateException("listener bug in " + m.getName());
                    }
                    return null;
                });
    }

    @Test
    void eventsOfOneRequestShareOneCall() throws Exception {
        List<String> events = Collections.synchronizedList(new ArrayList<>());
        List<AtlsServerCall> calls = Collections.synchronizedList(new ArrayList<>());
        try (SimulatedAtlsServer s = SimulatedAtlsServer.builder().server(b -> b.listener(recording(events, calls, false)))
                .start();
             JsseClient c = JsseClient.connect(s.server().address(), s.certificate().leaf())) {
            JsseClient.Response r = c.exchange(JsseClient.quoteRequest("localhost", AtlsServerTest.body(AtlsServerTest.nonce())));
            assertThat(r.status()).isEqualTo(200);
            JsseClient.Response hello = c.exchange("GET /x HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(hello.text()).isEqualTo(SimulatedAtlsServer.HELLO);
        }
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (events.size() < 6 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(events).containsExactly("callStart", "quoteStart", "quoteEnd", "callEnd", "callStart", "callEnd");
        assertThat(calls.get(0)).isSameAs(calls.get(3));
        assertThat(calls.get(0).path()).isEqualTo("/tdx_quote");
        assertThat(calls.get(0).method()).isEqualTo("POST");
        assertThat(calls.get(4).id()).isEqualTo(calls.get(0).id() + 1);
    }

    @Test
    void aThrowingListenerNeverFailsARequest() throws Exception {
        List<String> events = Collections.synchronizedList(new ArrayList<>());
        try (SimulatedAtlsServer s = SimulatedAtlsServer.builder()
                .server(b -> b.listener(recording(events, Collections.synchronizedList(new ArrayList<>()), true)))
                .start();
             JsseClient c = JsseClient.connect(s.server().address(), s.certificate().leaf())) {
            JsseClient.Response r = c.exchange(JsseClient.quoteRequest("localhost", AtlsServerTest.body(AtlsServerTest.nonce())));
            assertThat(r.status()).isEqualTo(200);
            JsseClient.Response bad = c.exchange(JsseClient.quoteRequest("localhost", "{}"));
            assertThat(bad.status()).isEqualTo(422);
            JsseClient.Response hello = c.exchange("GET /x HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(hello.text()).isEqualTo(SimulatedAtlsServer.HELLO);
        }
        assertThat(events).contains("callStart", "quoteEnd", "requestRejected");
    }
}
