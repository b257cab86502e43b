package dev.atlas.client;

import java.time.Instant;
import java.util.Objects;

/**
 * One attestation attempt of an {@link AtlsConnector}, the first parameter of every {@link AtlsListener}
 * event, so that a listener can match the events of one connection when several run at once.
 *
 * @param id    a per-connector counter, starting at 1
 * @param host  the host as the caller named it
 * @param port  the port
 * @param start when the attempt started (the connector's clock)
 */
public record AtlsCall(long id, String host, int port, Instant start) {
    public AtlsCall {
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(start, "start");
    }

    /** {@code host:port}, IPv6 literals in brackets. */
    public String address() {
        return (host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host) + ":" + port;
    }
}
