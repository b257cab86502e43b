package dev.atlas.proxy;

/**
 * Why a tunnel was refused before it opened. Each one is logged, counted in
 * {@code atls_proxy_tunnels_rejected_total{reason}} and answered with its HTTP status (the WebSocket upgrade is
 * never completed for a refused tunnel).
 */
public enum RejectReason {
    /**
     * A plain HTTP request (no {@code Upgrade: websocket}) on the tunnel listener, other than the health and
     * metrics paths: answered 426 with {@code Upgrade: websocket}.
     */
    UPGRADE_REQUIRED(426),
    /** Not a valid WebSocket upgrade (version, key, method) or not HTTP/1.1. */
    BAD_HANDSHAKE(400),
    /**
     * The client offered subprotocols and none of them is one the proxy speaks ({@code binary},
     * {@code atls-proxy}); a bearer-token subprotocol alone is not enough, since it is never echoed.
     */
    UNSUPPORTED_SUBPROTOCOL(400),
    /** The request head or body was larger than allowed. */
    REQUEST_TOO_LARGE(431),
    /** The {@code target} parameter is malformed, repeated, or not a clean host:port. */
    BAD_TARGET(400),
    /** No {@code target} parameter and no default target configured. */
    NO_TARGET(400),
    /** The normalized target is not in the allowlist. */
    TARGET_NOT_ALLOWED(403),
    /** The target name did not resolve. */
    RESOLVE_FAILED(502),
    /** The target resolved only to addresses outside the allowed ranges (or to never-allowed ones). */
    ADDRESS_NOT_ALLOWED(403),
    /** The TCP connection to the target failed. */
    CONNECT_FAILED(502),
    /** The TCP connection to the target did not complete in time. */
    CONNECT_TIMEOUT(504),
    /** Missing or wrong bearer token. */
    UNAUTHORIZED(401),
    /** Missing or unlisted {@code Origin}. */
    ORIGIN_NOT_ALLOWED(403),
    /** The proxy-wide tunnel limit is reached. */
    TOO_MANY_TUNNELS(503),
    /** This client IP has its maximum of open tunnels. */
    TOO_MANY_TUNNELS_FOR_CLIENT(429),
    /** This client IP opens tunnels faster than allowed. */
    RATE_LIMITED(429),
    /** The proxy is shutting down. */
    DRAINING(503),
    /** The client did not complete its (TLS and) WebSocket handshake in time. */
    HANDSHAKE_TIMEOUT(408);

    private final int httpStatus;

    RejectReason(int httpStatus) {
        this.httpStatus = httpStatus;
    }

    /** The HTTP status the upgrade request is answered with. */
    public int httpStatus() {
        return httpStatus;
    }
}
