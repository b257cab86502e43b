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
    /** One per-request event: the call it belongs to and the method's name. */
    record Event(AtlsServerCall call, String name) { }

    /** Records every per-request event, and fails on every call when {@code fail}. */
    static AtlsServerListener recording(List<Event> events, boolean fail) {
        return (AtlsServerListener) Proxy.newProxyInstance(AtlsServerListener.class.getClassLoader(),
                new Class<?>[] {AtlsServerListener.class}, (proxy, m, args) -> {
                    if (m.getDeclaringClass() == Object.class) {
                        return m.getName().equals("hashCode") ? 0 : m.getName().equals("equals") ? false : "rec";
                    }
                    if (args != null && args.length > 0 && args[0] instanceof AtlsServerCall c) {
                        events.add(new Event(c, m.getName()));
                    }
                    if (fail) {
                        throw new IllegalStateException("listener bug in " + m.getName());
                    }
                    return null;
                });
    }

    /** The event names of {@code call}, in order. */
    static List<String> namesOf(List<Event> events, AtlsServerCall call) {
        synchronized (events) {
            return events.stream().filter(e -> e.call() == call).map(Event::name).toList();
        }
    }

    @Test
    void eventsOfOneRequestShareOneCall() throws Exception {
        List<Event> events = Collections.synchronizedList(new ArrayList<>());
        try (SimulatedAtlsServer s = SimulatedAtlsServer.builder().server(b -> b.listener(recording(events, false)))
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
        // A request's callEnd comes after its response is written, so the next request's callStart may come
        // first: the order is asserted per call, not across calls.
        AtlsServerCall quote = events.get(0).call();
        assertThat(namesOf(events, quote)).containsExactly("callStart", "quoteStart", "quoteEnd", "callEnd");
        AtlsServerCall app;
        synchronized (events) {
            app = events.stream().map(Event::call).filter(x -> x != quote).findFirst().orElseThrow();
        }
        assertThat(namesOf(events, app)).containsExactly("callStart", "callEnd");
        assertThat(events).hasSize(6);
        assertThat(quote.path()).isEqualTo("/tdx_quote");
        assertThat(quote.method()).isEqualTo("POST");
        assertThat(app.id()).isEqualTo(quote.id() + 1);
    }

    /**
     * Concurrent requests keep their own calls. Regression: the call used to travel in the exchange's
     * attributes, which the JDK keeps per HttpContext, so one request's quoteEnd could carry another's call.
     */
    @Test
    void concurrentRequestsKeepTheirOwnCalls() throws Exception {
        List<Event> events = Collections.synchronizedList(new ArrayList<>());
        int clients = 8;
        try (SimulatedAtlsServer s = SimulatedAtlsServer.builder().server(b -> b.listener(recording(events, false)))
                .start()) {
            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(clients);
            try {
                List<java.util.concurrent.Future<Integer>> fs = new ArrayList<>();
                for (int i = 0; i < clients; i++) {
                    fs.add(pool.submit(() -> {
                        int ok = 0;
                        try (JsseClient c = JsseClient.connect(s.server().address(), s.certificate().leaf())) {
                            for (int k = 0; k < 5; k++) {
                                ok += c.exchange(JsseClient.quoteRequest("localhost",
                                        AtlsServerTest.body(AtlsServerTest.nonce()))).status() == 200 ? 1 : 0;
                            }
                        }
                        return ok;
                    }));
                }
                for (var f : fs) {
                    assertThat(f.get(30, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo(5);
                }
            } finally {
                pool.shutdownNow();
            }
        }
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (events.size() < clients * 5 * 4 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        List<AtlsServerCall> distinct;
        synchronized (events) {
            distinct = events.stream().map(Event::call).distinct().toList();
        }
        assertThat(distinct).hasSize(clients * 5);
        for (AtlsServerCall call : distinct) {
            assertThat(namesOf(events, call)).as("events of call %d", call.id())
                    .containsExactly("callStart", "quoteStart", "quoteEnd", "callEnd");
        }
    }

    @Test
    void aThrowingListenerNeverFailsARequest() throws Exception {
        List<Event> events = Collections.synchronizedList(new ArrayList<>());
        try (SimulatedAtlsServer s = SimulatedAtlsServer.builder()
                .server(b -> b.listener(recording(events, true)))
                .start();
             JsseClient c = JsseClient.connect(s.server().address(), s.certificate().leaf())) {
            JsseClient.Response r = c.exchange(JsseClient.quoteRequest("localhost", AtlsServerTest.body(AtlsServerTest.nonce())));
            assertThat(r.status()).isEqualTo(200);
            JsseClient.Response bad = c.exchange(JsseClient.quoteRequest("localhost", "{}"));
            assertThat(bad.status()).isEqualTo(422);
            JsseClient.Response hello = c.exchange("GET /x HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(hello.text()).isEqualTo(SimulatedAtlsServer.HELLO);
        }
        synchronized (events) {
            assertThat(events.stream().map(Event::name).toList()).contains("callStart", "quoteEnd", "requestRejected");
        }
    }
}
