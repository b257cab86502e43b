package dev.atlas.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.atlas.testing.RawWebSocket;
import java.net.InetSocketAddress;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The listener contract: start/end pairs with one correlation object, refusals, and a throwing listener. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ProxyListenerTest {

    /** Records every event, then throws from each. */
    static final class Throwing implements ProxyListener {
        final List<String> events = new CopyOnWriteArrayList<>();
        final List<Tunnel> starts = new CopyOnWriteArrayList<>();
        final List<Tunnel> ends = new CopyOnWriteArrayList<>();

        @Override
        public void started(InetSocketAddress listen, InetSocketAddress admin, ProxyConfig config) {
            events.add("started");
            throw new IllegalStateException("listener bug: started");
        }

        @Override
        public void rejected(Rejection rejection) {
            events.add("rejected " + rejection.reason());
            throw new IllegalStateException("listener bug: rejected");
        }

        @Override
        public void tunnelStart(Tunnel tunnel) {
            events.add("tunnelStart");
            starts.add(tunnel);
            throw new IllegalStateException("listener bug: tunnelStart");
        }

        @Override
        public void tunnelEnd(Tunnel tunnel, Duration took) {
            events.add("tunnelEnd");
            ends.add(tunnel);
            throw new IllegalStateException("listener bug: tunnelEnd");
        }

        @Override
        public void forwarded(boolean toTarget, int bytes) {
            throw new IllegalStateException("listener bug: forwarded");
        }

        @Override
        public void stopped(int forciblyClosed) {
            events.add("stopped");
            throw new IllegalStateException("listener bug: stopped");
        }
    }

    @Test
    void aThrowingListenerNeverFailsATunnelAndEventsPairUp() throws Exception {
        Throwing bad = new Throwing();
        List<String> second = new CopyOnWriteArrayList<>();
        try (TestTarget echo = TestTarget.echo()) {
            ProxyConfig c = ProxyConfig.builder().listen(new InetSocketAddress("127.0.0.1", 0)).noDefaultTarget()
                    .allow(TargetAddress.parseEntry("127.0.0.1:" + echo.port())).build();
            try (AtlsProxy p = AtlsProxy.builder(c).listener(bad).listener(new ProxyListener() {
                @Override
                public void tunnelEnd(Tunnel tunnel, Duration took) {
                    second.add("tunnelEnd " + tunnel.id());
                }
            }).build().start()) {
                String q = "/?target=" + URLEncoder.encode("127.0.0.1:" + echo.port(), StandardCharsets.UTF_8);
                for (int i = 0; i < 2; i++) {
                    try (RawWebSocket ws = RawWebSocket.open(p.port(), q)) {
                        assertThat(ws.status).isEqualTo(101);
                        ws.sendBinary(new byte[] {1, 2, 3});
                        assertThat(ws.readBytes(3)).containsExactly(1, 2, 3);
                    }
                }
                try (RawWebSocket ws = RawWebSocket.open(p.port(), "/?target=" + URLEncoder.encode("127.0.0.1:1",
                        StandardCharsets.UTF_8))) {
                    assertThat(ws.status).isEqualTo(RejectReason.TARGET_NOT_ALLOWED.httpStatus());
                }
                long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while ((bad.ends.size() < 2 || second.size() < 2) && System.nanoTime() < end) {
                    Thread.sleep(10);
                }
                assertThat(p.scrapeMetrics()).contains("atls_proxy_tunnels_open 0.0");
            }
        }
        assertThat(bad.events).first().isEqualTo("started");
        assertThat(bad.events).last().isEqualTo("stopped");
        assertThat(bad.events).containsExactlyInAnyOrder("started", "tunnelStart", "tunnelEnd", "tunnelStart",
                "tunnelEnd", "rejected TARGET_NOT_ALLOWED", "stopped");
        assertThat(second).as("the next listener still hears every event").hasSize(2);
        for (int i = 0; i < 2; i++) {
            ProxyListener.Tunnel s = bad.starts.get(i);
            ProxyListener.Tunnel e = bad.ends.get(i);
            assertThat(e.id()).isEqualTo(s.id());
            assertThat(e.started()).isEqualTo(s.started()).isNotNull();
            assertThat(e.client()).isEqualTo(s.client()).isEqualTo("127.0.0.1");
            assertThat(s.closeReason()).isNull();
            assertThat(e.closeReason()).isNotNull();
        }
        assertThat(bad.starts.get(0).id()).isNotEqualTo(bad.starts.get(1).id());
    }

    @Test
    void noneAndLoggingAreListeners() {
        ProxyListener.NONE.tunnelEnd(null, Duration.ZERO);
        ProxyListener.logging(System.getLogger("test")).rejected(new ProxyListener.Rejection("192.0.2.1", "-",
                RejectReason.BAD_TARGET, "x"));
    }
}
