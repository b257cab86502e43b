package dev.atlas.dstack.gateway.internal;

import java.util.List;
import java.util.Objects;

/**
 * The outcome of routing one connection: the app and the instances to try. The proxy connects to all
 * {@code candidates} in parallel and keeps the first that answers (a single candidate takes the fast path).
 * The list is never empty: when nothing is routable {@link Router#route} throws instead.
 *
 * @param appId      the app id (lowercase hex), or a reserved name
 * @param candidates the backends to try, freshest WireGuard handshake first (at most {@code connect_top_n})
 */
public record Route(String appId, List<Backend> candidates) {
    public Route {
        Objects.requireNonNull(appId, "appId");
        candidates = List.copyOf(candidates);
        if (candidates.isEmpty()) {
            throw new IllegalArgumentException("Route.candidates must not be empty (app " + appId + ")");
        }
    }
}
