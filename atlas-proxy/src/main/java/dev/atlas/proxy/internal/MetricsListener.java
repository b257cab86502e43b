package dev.atlas.proxy.internal;

import dev.atlas.proxy.CloseReason;
import dev.atlas.proxy.ProxyListener;
import dev.atlas.proxy.RejectReason;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.function.IntSupplier;

/**
 * Prometheus metrics: {@code atls_proxy_tunnels_open}, {@code atls_proxy_tunnels_opened_total},
 * {@code atls_proxy_tunnels_rejected_total{reason}}, {@code atls_proxy_tunnels_closed_total{reason}},
 * {@code atls_proxy_transferred_bytes_total{direction}}, {@code atls_proxy_connect_seconds} (histogram) and
 * {@code atls_proxy_tunnel_duration_seconds}. Every reason is registered at start, so a zero shows.
 */
public final class MetricsListener implements ProxyListener {
    private final Counter opened;
    private final Map<RejectReason, Counter> rejected = new EnumMap<>(RejectReason.class);
    private final Map<CloseReason, Counter> closed = new EnumMap<>(CloseReason.class);
    private final Counter toTarget;
    private final Counter toClient;
    private final Timer connect;
    private final Timer duration;

    public MetricsListener(MeterRegistry r, IntSupplier openTunnels) {
        Gauge.builder("atls.proxy.tunnels.open", openTunnels::getAsInt).description("open tunnels").register(r);
        opened = Counter.builder("atls.proxy.tunnels.opened").description("tunnels opened").register(r);
        for (RejectReason x : RejectReason.values()) {
            rejected.put(x, Counter.builder("atls.proxy.tunnels.rejected").tag("reason", x.name())
                    .description("tunnel requests refused, by reason").register(r));
        }
        for (CloseReason x : CloseReason.values()) {
            closed.put(x, Counter.builder("atls.proxy.tunnels.closed").tag("reason", x.name())
                    .description("tunnels closed, by reason").register(r));
        }
        toTarget = Counter.builder("atls.proxy.transferred").baseUnit("bytes").tag("direction", "to_target")
                .description("payload bytes forwarded").register(r);
        toClient = Counter.builder("atls.proxy.transferred").baseUnit("bytes").tag("direction", "to_client")
                .description("payload bytes forwarded").register(r);
        connect = Timer.builder("atls.proxy.connect").description("resolve and TCP connect to the target")
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofSeconds(30)).register(r);
        duration = Timer.builder("atls.proxy.tunnel.duration").description("tunnel lifetime").register(r);
    }

    @Override
    public void rejected(Rejection r) {
        rejected.get(r.reason()).increment();
    }

    @Override
    public void tunnelStart(Tunnel t) {
        opened.increment();
        connect.record(t.connectTime());
    }

    @Override
    public void tunnelEnd(Tunnel t, java.time.Duration took) {
        closed.get(t.closeReason()).increment();
        duration.record(t.duration());
    }

    @Override
    public void forwarded(boolean toTargetSide, int bytes) {
        (toTargetSide ? toTarget : toClient).increment(bytes);
    }
}
