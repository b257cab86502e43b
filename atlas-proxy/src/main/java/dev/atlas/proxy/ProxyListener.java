package dev.atlas.proxy;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

/**
 * Observes the proxy: every refusal, tunnel open and close, and the byte flow. The structured log and the
 * Prometheus metrics are two listeners; add your own through {@link AtlsProxy.Builder#listener}. Nothing the
 * tunnel carries reaches a listener, only counts. Methods run on Netty event-loop threads and must not block.
 *
 * <p>Events come in pairs like OkHttp's {@code EventListener}: {@link #tunnelStart} / {@link #tunnelEnd} around
 * each tunnel, with the {@link Tunnel} summary (its {@code id}, client and start instant correlate the two);
 * a request refused before its tunnel opened gets one {@link #rejected} instead. A listener that throws a
 * {@link RuntimeException} never fails a tunnel: the proxy logs the first such exception per listener class at
 * WARNING and carries on.
 */
public interface ProxyListener {
    /** A listener that does nothing. */
    ProxyListener NONE = new ProxyListener() {
    };

    /**
     * A listener that logs every event to {@code logger}: refusals at INFO, tunnel start and end and the
     * lifecycle at DEBUG (nothing the tunnel carries, only counts).
     */
    static ProxyListener logging(System.Logger logger) {
        Objects.requireNonNull(logger, "logger");
        return new ProxyListener() {
            @Override
            public void started(InetSocketAddress listen, InetSocketAddress admin, ProxyConfig config) {
                logger.log(System.Logger.Level.DEBUG, "proxy listening on {0} (admin {1})", listen, admin);
            }

            @Override
            public void rejected(Rejection r) {
                logger.log(System.Logger.Level.INFO, "tunnel from {0} to {1} rejected: {2} ({3})", r.client(),
                        r.target(), r.reason(), r.detail());
            }

            @Override
            public void tunnelStart(Tunnel t) {
                logger.log(System.Logger.Level.DEBUG, "tunnel {0} from {1} to {2} open (connect {3} ms)", t.id(),
                        t.client(), t.target(), t.connectTime().toMillis());
            }

            @Override
            public void tunnelEnd(Tunnel t, Duration took) {
                logger.log(System.Logger.Level.DEBUG, "tunnel {0} closed after {1} ms: {2}, {3} bytes to target, "
                        + "{4} bytes to client", t.id(), took.toMillis(), t.closeReason(), t.bytesToTarget(),
                        t.bytesToClient());
            }

            @Override
            public void draining(int openTunnels, Duration deadline) {
                logger.log(System.Logger.Level.DEBUG, "draining {0} tunnels for up to {1} ms", openTunnels,
                        deadline.toMillis());
            }

            @Override
            public void stopped(int forciblyClosed) {
                logger.log(System.Logger.Level.DEBUG, "proxy stopped ({0} tunnels closed at the drain deadline)",
                        forciblyClosed);
            }
        };
    }

    /** The proxy listens (the admin address is null when health and metrics share the main listener). */
    default void started(InetSocketAddress listen, InetSocketAddress admin, ProxyConfig config) {
    }

    /** A tunnel was refused before the upgrade completed. */
    default void rejected(Rejection rejection) {
    }

    /** A tunnel is open: the target is connected and the client got its 101. */
    default void tunnelStart(Tunnel tunnel) {
    }

    /**
     * The tunnel that {@link #tunnelStart} announced (same {@link Tunnel#id()}) ended;
     * {@link Tunnel#closeReason()} says why.
     *
     * @param tunnel the final summary
     * @param took   how long it was open (also {@link Tunnel#duration()})
     */
    default void tunnelEnd(Tunnel tunnel, Duration took) {
    }

    /** Bytes forwarded (hot path: called per read). */
    default void forwarded(boolean toTarget, int bytes) {
    }

    /** Shutdown began: no new tunnels; the open ones get until the drain deadline. */
    default void draining(int openTunnels, Duration deadline) {
    }

    /** The proxy stopped; {@code forciblyClosed} tunnels were still open at the drain deadline. */
    default void stopped(int forciblyClosed) {
    }

    /**
     * A refused tunnel request.
     *
     * @param client the client IP (after trusted-proxy resolution)
     * @param target the normalized target when it parsed, else the raw value abbreviated (for the log only)
     * @param reason why
     * @param detail a human explanation, never containing secrets
     */
    record Rejection(String client, String target, RejectReason reason, String detail) {
    }

    /**
     * A tunnel's summary, and the correlation object of its events.
     *
     * @param id            a per-proxy sequence number
     * @param client        the client IP
     * @param started       when the tunnel opened (the proxy's clock)
     * @param target        the allowlisted target
     * @param address       the address actually connected (resolved once)
     * @param connectTime   how long resolving and connecting took
     * @param bytesToTarget payload bytes client → target so far
     * @param bytesToClient payload bytes target → client so far
     * @param duration      open time (zero while open)
     * @param closeReason   null while open
     * @param closeSent     the Close frame the proxy sent the client (code and reason text), or null
     * @param closeReceived the Close frame the client sent (1005 when it carried no code), or null
     */
    record Tunnel(long id, String client, Instant started, TargetAddress target, InetSocketAddress address, Duration connectTime,
            long bytesToTarget, long bytesToClient, Duration duration, CloseReason closeReason, CloseFrame closeSent,
            CloseFrame closeReceived) {
    }

    /**
     * A WebSocket Close frame's status code and reason text (at most 123 bytes of UTF-8 on the wire).
     *
     * @param code the status code
     * @param text the reason text, empty when none
     */
    record CloseFrame(int code, String text) {
    }
}
