package dev.atlas.proxy;

/** Why an open tunnel ended; logged and counted in {@code atls_proxy_tunnels_closed_total{reason}}. */
public enum CloseReason {
    /** The client sent a WebSocket Close. */
    CLIENT_CLOSED,
    /** The client's TCP connection ended without a Close frame. */
    CLIENT_GONE,
    /** The target closed its side (EOF); the client got a Close frame after the last bytes. */
    TARGET_CLOSED,
    /** No bytes either way for the idle timeout. */
    IDLE_TIMEOUT,
    /** A frame above the frame limit (Close 1009). */
    FRAME_TOO_LARGE,
    /** A fragmented message above the message limit (Close 1009). */
    MESSAGE_TOO_LARGE,
    /** The client broke the WebSocket protocol (Close 1002). */
    PROTOCOL_ERROR,
    /** An I/O error on the client connection. */
    CLIENT_ERROR,
    /** An I/O error on the target connection. */
    TARGET_ERROR,
    /** The proxy shut down before the tunnel ended (Close 1001 after the drain deadline). */
    SHUTDOWN
}
