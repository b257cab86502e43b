package dev.atlas.dstack.gateway.internal;

import dev.atlas.dstack.gateway.AppAddress;
import dev.atlas.dstack.ra.RaException;
import java.util.concurrent.CompletableFuture;

/**
 * Where a proxied connection goes (spec §3.2, §3.2.1, §3.4). The proxy asks it after sniffing the SNI; it never
 * answers with a default backend: anything not routable is an {@link RaException}.
 */
public interface Router {
    /**
     * Routes a ZT-domain address {@code <id>[-<port>][s|g]}: {@code id} is matched as an instance id first, then
     * as an app id; the candidates are the healthy instances (top-N by handshake freshness), filtered by port
     * policy, with {@code max_connections_per_app} checked over their live connections.
     *
     * @throws RaException {@code ROUTE_UNKNOWN_APP} (no such instance or app), {@code ROUTE_NO_HEALTHY_INSTANCE},
     *                     {@code ROUTE_PORT_NOT_ALLOWED} (port policy, or policy still unknown: fail closed),
     *                     {@code ROUTE_TOO_MANY_CONNECTIONS}
     */
    Route route(AppAddress address) throws RaException;

    /**
     * Routes a custom domain (an SNI not under a ZT-domain) through its {@code _dstack-app-address} TXT record
     * (§3.2.1). The connection is always TLS passthrough. The future fails with an {@link RaException}
     * ({@code ROUTE_DNS_FAILED}, or one of {@link #route}'s reasons); it never completes with {@code null}.
     */
    CompletableFuture<Route> routeCustomDomain(String sni);

    /** Counts one live connection to {@code backend} until the lease is closed. Never blocks, never throws. */
    ConnectionLease acquire(Backend backend);
}
