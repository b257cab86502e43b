package dev.atlas.dstack.gateway.internal;

import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * <b>Insecure</b>, development only ({@code [core.debug] insecure_loopback_transport}): no WireGuard at all; the
 * simulated CVMs on this host are reached on {@code 127.b.c.d} for client IP {@code a.b.c.d}; every registered
 * peer counts as handshaken now. Logs a WARNING when created (skeleton; filled in by issue18-wg).
 */
public final class LoopbackTransport implements WgControl {
    private final Clock clock;
    private volatile List<Peer> peers = List.of();

    public LoopbackTransport(Clock clock) {
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    @Override
    public void applyPeers(List<Peer> peers) {
        this.peers = List.copyOf(peers);
    }

    @Override
    public Map<String, Instant> latestHandshakes() {
        Instant now = clock.instant();
        Map<String, Instant> m = new java.util.HashMap<>();
        for (Peer p : peers) {
            m.put(p.publicKey(), now);
        }
        return Map.copyOf(m);
    }

    @Override
    public void close() {
    }
}
