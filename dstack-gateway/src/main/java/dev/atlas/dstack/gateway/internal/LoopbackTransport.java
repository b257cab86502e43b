package dev.atlas.dstack.gateway.internal;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Clock;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * <b>Insecure</b>, development only ({@code [core.debug] insecure_loopback_transport = true}, our key): no
 * WireGuard at all. The simulated CVMs run on this host and bind {@link #loopbackAddress} of their client IP
 * ({@code 127.b.c.d} for {@code a.b.c.d}); the traffic between gateway and app is plain loopback TCP, neither
 * encrypted nor authenticated by a WireGuard key. Every registered peer counts as handshaken now, so the load
 * balancer sees all of them healthy. Logs a WARNING when created.
 */
public final class LoopbackTransport implements WgControl {
    private static final System.Logger LOG = System.getLogger(LoopbackTransport.class.getName());
    private final Clock clock;
    private volatile List<Peer> peers = List.of();

    public LoopbackTransport(Clock clock) {
        this.clock = Objects.requireNonNull(clock, "clock");
        LOG.log(System.Logger.Level.WARNING, "insecure_loopback_transport: NO WireGuard; apps are reached on"
                + " 127.b.c.d for client IP a.b.c.d over plain loopback TCP, and every registered instance counts as"
                + " healthy. For development on one host only, never in production");
    }

    /** {@code 127.b.c.d} for client IP {@code a.b.c.d}: where an app of the loopback transport listens. */
    public static Inet4Address loopbackAddress(Inet4Address clientIp) {
        byte[] b = clientIp.getAddress();
        b[0] = 127;
        try {
            return (Inet4Address) InetAddress.getByAddress(b);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void applyPeers(List<Peer> peers) {
        this.peers = List.copyOf(peers);
    }

    @Override
    public Map<String, Instant> latestHandshakes() {
        Instant now = clock.instant();
        Map<String, Instant> m = new HashMap<>();
        for (Peer p : peers) {
            m.put(p.publicKey(), now);
        }
        return Map.copyOf(m);
    }

    @Override
    public void close() {
    }

    @Override
    public String toString() {
        return "LoopbackTransport[insecure, " + peers.size() + " peers]";
    }
}
