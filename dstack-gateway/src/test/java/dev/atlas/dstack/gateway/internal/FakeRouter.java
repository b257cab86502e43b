package dev.atlas.dstack.gateway.internal;

import dev.atlas.dstack.gateway.AppAddress;
import dev.atlas.dstack.ra.RaException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/** A {@link Router} for proxy tests: routes by {@code id:port}, custom domains by SNI, counts leases. */
final class FakeRouter implements Router {
    private final Map<String, Route> routes = new ConcurrentHashMap<>();
    private final Map<String, Route> custom = new ConcurrentHashMap<>();
    final AtomicInteger liveLeases = new AtomicInteger();
    final AtomicInteger leasesTaken = new AtomicInteger();

    /** Routes {@code id} on {@code port} to the backends (instance ids i0, i1, ...). */
    FakeRouter add(String id, int port, boolean pp, InetSocketAddress... backends) {
        Backend[] b = new Backend[backends.length];
        for (int i = 0; i < backends.length; i++) {
            b[i] = new Backend("i" + i, backends[i], pp);
        }
        routes.put(id + ":" + port, new Route(id, List.of(b)));
        return this;
    }

    FakeRouter addCustom(String sni, String appId, InetSocketAddress backend) {
        custom.put(sni, new Route(appId, List.of(new Backend("c0", backend, false))));
        return this;
    }

    @Override
    public Route route(AppAddress a) throws RaException {
        Route r = routes.get(a.id() + ":" + a.port());
        if (r == null) {
            throw new RaException(RaException.Reason.ROUTE_UNKNOWN_APP, "app_id", "app <" + a.id() + "> not found");
        }
        return r;
    }

    @Override
    public CompletableFuture<Route> routeCustomDomain(String sni) {
        Route r = custom.get(sni);
        return r != null ? CompletableFuture.completedFuture(r)
                : CompletableFuture.failedFuture(new RaException(RaException.Reason.ROUTE_DNS_FAILED, "sni",
                        "no _dstack-app-address TXT record for " + sni));
    }

    @Override
    public ConnectionLease acquire(Backend backend) {
        liveLeases.incrementAndGet();
        leasesTaken.incrementAndGet();
        return new ConnectionLease() {
            private boolean closed;

            @Override
            public Backend backend() {
                return backend;
            }

            @Override
            public synchronized void close() {
                if (!closed) {
                    closed = true;
                    liveLeases.decrementAndGet();
                }
            }
        };
    }
}
