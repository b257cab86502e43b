package dev.atlas.proxy;

import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * Observes the proxy: every refusal, tunnel open and close, and the byte flow. The structured log and the
 * Prometheus metrics are two listeners; add your own through {@link AtlsProxy.Builder#listener}. Nothing the
 * tunnel carries reaches a listener, only counts. Methods run on Netty event-loop threads and must not block.
 */
public interface ProxyListener {
    /** The proxy listens (the admin address is null when health and metrics share the main listener). */
    default void started(InetSocketAddress listen, InetSocketAddress admin, ProxyConfig config) {
    }

    /** A tunnel was refused before the upgrade completed. */
    default void rejected(Rejection rejection) {
    }

    /** A tunnel is open: the target is connected and the client got its 101. */
    default void opened(Tunnel tunnel) {
    }

    /** A tunnel ended; {@link Tunnel#closeReason()} says why. */
    default void closed(Tunnel tunnel) {
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
     * A tunnel's summary.
     *
     * @param id            a per-process sequence number
     * @param client        the client IP
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
    record Tunnel(long id, String client, TargetAddress target, InetSocketAddress address, Duration connectTime,
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
