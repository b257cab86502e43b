package dev.atlas.server;

import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.Objects;

/**
 * One request to an {@link AtlsServer}, the first parameter of every per-request {@link AtlsServerListener}
 * event, so that a listener can match the events of one request when several run at once.
 *
 * @param id     a per-server counter, starting at 1
 * @param peer   the client's address
 * @param method the request method
 * @param path   the request path (no query)
 * @param start  when the request reached the server (the server's clock)
 */
public record AtlsServerCall(long id, InetSocketAddress peer, String method, String path, Instant start) {
    public AtlsServerCall {
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(start, "start");
    }
}
