package dev.atlas.dstack.gateway.internal;

import dev.atlas.dstack.gateway.AppAddress;
import dev.atlas.dstack.ra.RaException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.random.RandomGenerator;

/**
 * The gateway's {@link Router} (spec §3.2, §3.2.1, §3.3 "Port policy", §3.4): instance id first, then app id; the
 * {@link LoadBalancer}'s healthy top-N; the {@link PortPolicies} filter (fail closed); {@code max_connections_per_app}
 * over the candidates' live connections; custom domains through {@link AppAddressDns}; and the recycling of stale
 * instances every {@code [core.recycle] interval}.
 *
 * <p>Addresses: a backend is the instance's WireGuard IP and the app port. With
 * {@code [core.debug] insecure_loopback_transport} (development only, logged as a WARNING) the instance
 * {@code a.b.c.d} is reached at {@code 127.b.c.d} instead, and so is its guest agent ({@code agent_port}).
 */
public final class GatewayRouter implements Router, AutoCloseable {
    private static final System.Logger LOG = System.getLogger(GatewayRouter.class.getName());
    /** The reserved id that routes to the gateway host itself (only with insecure_localhost_backend). */
    public static final String LOCALHOST = "localhost";

    private final RouteSettings settings;
    private final InstanceView instances;
    private final LoadBalancer balancer;
    private final PortPolicies policies;
    private final AppAddressDns dns;
    private final Clock clock;
    private final ScheduledExecutorService scheduler;
    private final boolean ownScheduler;
    private final ConcurrentHashMap<String, AtomicInteger> live = new ConcurrentHashMap<>();
    private final ScheduledFuture<?> recycler;
    private final AtomicBoolean closed = new AtomicBoolean();

    private GatewayRouter(Builder b) {
        this.settings = b.settings;
        this.instances = Objects.requireNonNull(b.instances, "instances (registry)");
        this.clock = b.clock;
        this.ownScheduler = b.scheduler == null;
        this.scheduler = ownScheduler ? Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "gateway-route");
            t.setDaemon(true);
            return t;
        }) : b.scheduler;
        // `wg show` is a subprocess: with real WireGuard the refresh runs on this router's thread, never on the
        // proxy's event loop that asks for a route (the route answers from the last snapshot meanwhile)
        this.balancer = new LoadBalancer(settings, Objects.requireNonNull(b.handshakes, "handshakes (wg)"), clock,
                b.random, b.backgroundHandshakes ? scheduler : Runnable::run);
        if (b.backgroundHandshakes) {
            balancer.handshakesNow(); // the first snapshot before the first route, off the event loop
        }
        this.policies = new PortPolicies(settings.portPolicyFetch(), b.agentInfo, scheduler,
                instances::byInstanceId, this::agentAddress);
        this.dns = new AppAddressDns(settings.appAddressNsPrefix(), settings.appAddressNsCompat(),
                settings.dnsServers(), settings.dnsResolve(), clock);
        instances.addListener(this::onChange);
        // insecure_loopback_transport is announced once at start, by LoopbackTransport (and the config's warnings)
        if (settings.localhostBackend()) {
            LOG.log(System.Logger.Level.WARNING, "insecure_localhost_backend is on: the app id `localhost` (also from a custom domain's TXT "
                    + "record) routes to 127.0.0.1 on any port, bypassing port policy");
        }
        if (settings.recycleEnabled() && b.recycleInBackground) {
            long every = settings.recycleInterval().toMillis();
            this.recycler = scheduler.scheduleWithFixedDelay(this::recycleQuietly, every, every, TimeUnit.MILLISECONDS);
        } else {
            this.recycler = null;
        }
    }

    /** A builder over {@code settings}. */
    public static Builder builder(RouteSettings settings) {
        return new Builder(settings);
    }

    /** The port policies (the Admin service's Set/Clear/GetInstancePortPolicy use them). */
    public PortPolicies portPolicies() {
        return policies;
    }

    private void onChange(String appId) {
        balancer.invalidate(appId);
        balancer.markDirty();
    }

    @Override
    public Route route(AppAddress address) throws RaException {
        Objects.requireNonNull(address, "address");
        String id = address.id();
        int port = address.port();
        if (settings.localhostBackend() && id.equals(LOCALHOST)) {
            return new Route(LOCALHOST, List.of(new Backend(LOCALHOST,
                    new InetSocketAddress(InetAddress.getLoopbackAddress(), port), false)));
        }
        String appId;
        List<Instance> candidates;
        Optional<Instance> byInstance = instances.byInstanceId(id);
        if (byInstance.isPresent()) {
            appId = byInstance.get().appId();
            candidates = List.of(byInstance.get());
        } else {
            List<Instance> app = instances.byAppId(id);
            if (app.isEmpty()) {
                throw new RaException(RaException.Reason.ROUTE_UNKNOWN_APP, "sni",
                        "app not found: no instance or app with id " + id);
            }
            appId = id;
            candidates = balancer.select(id, app);
            if (candidates.isEmpty()) {
                throw new RaException(RaException.Reason.ROUTE_NO_HEALTHY_INSTANCE, "sni",
                        "no healthy instance of app " + id + ": none of its " + app.size()
                                + " instance(s) had a WireGuard handshake within handshake_stale "
                                + settings.handshakeStale());
            }
        }
        List<Backend> backends = new ArrayList<>(candidates.size());
        long total = 0;
        for (Instance i : candidates) {
            if (!policies.allows(i, port)) {
                continue;
            }
            AtomicInteger n = live.get(i.instanceId());
            total += n == null ? 0 : n.get();
            backends.add(new Backend(i.instanceId(), new InetSocketAddress(address(i), port),
                    policies.proxyProtocol(i, port)));
        }
        if (backends.isEmpty()) {
            throw new RaException(RaException.Reason.ROUTE_PORT_NOT_ALLOWED, "port",
                    "port " + port + " denied by app port policy for " + appId + " (" + candidates.size()
                            + " candidate(s))");
        }
        long max = settings.maxConnectionsPerApp();
        if (max > 0 && total >= max) {
            throw new RaException(RaException.Reason.ROUTE_TOO_MANY_CONNECTIONS, "max_connections_per_app",
                    "app connection limit exceeded: " + total + "/" + max + " for app " + appId);
        }
        return new Route(appId, backends);
    }

    @Override
    public CompletableFuture<Route> routeCustomDomain(String sni) {
        return dns.resolve(sni).thenApply(t -> {
            AppAddress a;
            try {
                a = new AppAddress(t.appId(), t.port(), true, false);
            } catch (IllegalArgumentException e) {
                throw new CompletionException(new RaException(RaException.Reason.ROUTE_DNS_FAILED, "sni",
                        "TXT app address of " + sni + " is not usable: " + e.getMessage()));
            }
            try {
                return route(a);
            } catch (RaException e) {
                throw new CompletionException(e);
            }
        });
    }

    @Override
    public ConnectionLease acquire(Backend backend) {
        AtomicInteger n = live.compute(backend.instanceId(), (k, v) -> {
            AtomicInteger c = v == null ? new AtomicInteger() : v;
            c.incrementAndGet();
            return c;
        });
        Objects.requireNonNull(n);
        return new Lease(backend);
    }

    private final class Lease implements ConnectionLease {
        private final Backend backend;
        private final AtomicBoolean released = new AtomicBoolean();

        Lease(Backend backend) {
            this.backend = backend;
        }

        @Override
        public Backend backend() {
            return backend;
        }

        @Override
        public void close() {
            if (released.compareAndSet(false, true)) {
                live.computeIfPresent(backend.instanceId(), (k, v) -> v.decrementAndGet() <= 0 ? null : v);
            }
        }
    }

    /** Live proxied connections of {@code instanceId} (the dashboard). */
    public int connections(String instanceId) {
        AtomicInteger n = live.get(instanceId);
        return n == null ? 0 : n.get();
    }

    /** Live proxied connections per instance id (only instances with at least one). */
    public Map<String, Integer> connectionCounts() {
        Map<String, Integer> out = new java.util.TreeMap<>();
        live.forEach((k, v) -> {
            if (v.get() > 0) {
                out.put(k, v.get());
            }
        });
        return out;
    }

    /** The latest WireGuard handshake of {@code instance}, if the health data has one (dashboard, status). */
    public Optional<Instant> latestHandshake(Instance instance) {
        return balancer.handshakes().map(m -> m.get(instance.publicKey()));
    }

    /** Where the instance is reached: its WireGuard IP, or {@code 127.b.c.d} in the loopback transport. */
    public InetAddress address(Instance instance) {
        return backendAddress(instance.clientIp(), settings.loopbackTransport());
    }

    /** Where the instance's guest agent (Worker.Info) listens. */
    InetSocketAddress agentAddress(Instance instance) {
        return new InetSocketAddress(address(instance), settings.agentPort());
    }

    /** {@code a.b.c.d}, or {@code 127.b.c.d} when {@code loopback}. */
    public static InetAddress backendAddress(Inet4Address clientIp, boolean loopback) {
        if (!loopback) {
            return clientIp;
        }
        byte[] b = clientIp.getAddress();
        b[0] = 127;
        try {
            return InetAddress.getByAddress(b);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e); // 4 bytes: cannot happen
        }
    }

    /**
     * One recycling pass (§3.4; upstream {@code main_service.rs} {@code recycle}): removes every instance registered
     * more than {@code [core.recycle] timeout} ago whose latest handshake (its registration time when it never had
     * one) is older than that timeout. Without handshake data nothing is removed (the {@code wg} call failing must
     * not empty the gateway).
     *
     * @return the instance ids removed
     */
    public List<String> recycleOnce() {
        Optional<Map<String, Instant>> hs = balancer.handshakesNow();
        if (hs.isEmpty()) {
            LOG.log(System.Logger.Level.WARNING, "recycle skipped: WireGuard latest-handshakes unavailable");
            return List.of();
        }
        Instant now = clock.instant();
        Duration timeout = settings.recycleTimeout();
        List<String> removed = new ArrayList<>();
        for (Instance i : instances.all()) {
            if (Duration.between(i.registeredAt(), now).compareTo(timeout) <= 0) {
                continue;
            }
            Instant seen = hs.get().getOrDefault(i.publicKey(), i.registeredAt());
            if (Duration.between(seen, now).compareTo(timeout) > 0) {
                LOG.log(System.Logger.Level.INFO, "recycling stale instance {0} of app {1}: last seen {2}",
                        new Object[] {i.instanceId(), i.appId(), seen});
                if (instances.remove(i.instanceId()).isPresent()) {
                    policies.forget(i.instanceId());
                    removed.add(i.instanceId());
                }
            }
        }
        if (!removed.isEmpty()) {
            LOG.log(System.Logger.Level.INFO, "recycled {0} stale instance(s)", removed.size());
        }
        return removed;
    }

    private void recycleQuietly() {
        try {
            recycleOnce();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "recycle failed", e);
        }
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        if (recycler != null) {
            recycler.cancel(false);
        }
        if (ownScheduler) {
            scheduler.shutdownNow();
        }
        dns.close();
    }

    /** Builder of a {@link GatewayRouter}. */
    public static final class Builder {
        private final RouteSettings settings;
        private InstanceView instances;
        private LoadBalancer.Handshakes handshakes;
        private boolean backgroundHandshakes;
        private Clock clock = Clock.systemUTC();
        private RandomGenerator random = RandomGenerator.getDefault();
        private PortPolicies.AgentInfo agentInfo = PortPolicies.httpAgentInfo();
        private ScheduledExecutorService scheduler;
        private boolean recycleInBackground = true;

        private Builder(RouteSettings settings) {
            this.settings = Objects.requireNonNull(settings, "settings");
        }

        /** The registrations. */
        public Builder instances(InstanceView v) {
            this.instances = Objects.requireNonNull(v);
            return this;
        }

        /** The registrations ({@link InstanceRegistry}). */
        public Builder registry(InstanceRegistry r) {
            Objects.requireNonNull(r);
            return instances(new InstanceView() {
                @Override
                public Optional<Instance> byInstanceId(String id) {
                    return r.byInstanceId(id);
                }

                @Override
                public List<Instance> byAppId(String appId) {
                    return r.byAppId(appId);
                }

                @Override
                public List<Instance> all() {
                    return r.all();
                }

                @Override
                public Optional<Instance> remove(String id) {
                    return r.remove(id);
                }

                @Override
                public void addListener(java.util.function.Consumer<String> l) {
                    r.addListener(l);
                }
            });
        }

        /** The health signal: {@link WgControl#latestHandshakes()}. */
        public Builder wg(WgControl wg) {
            Objects.requireNonNull(wg);
            this.handshakes = wg::latestHandshakes;
            this.backgroundHandshakes = !(wg instanceof LoopbackTransport);
            return this;
        }

        Builder handshakes(LoadBalancer.Handshakes h) {
            this.handshakes = Objects.requireNonNull(h);
            return this;
        }

        public Builder clock(Clock c) {
            this.clock = Objects.requireNonNull(c);
            return this;
        }

        public Builder random(RandomGenerator r) {
            this.random = Objects.requireNonNull(r);
            return this;
        }

        /** How an agent's {@code Info} is called (default: HTTP pRPC JSON). */
        public Builder agentInfo(PortPolicies.AgentInfo a) {
            this.agentInfo = Objects.requireNonNull(a);
            return this;
        }

        /** Runs port-policy retries and recycling (default: one daemon thread of the router's own). */
        public Builder scheduler(ScheduledExecutorService s) {
            this.scheduler = Objects.requireNonNull(s);
            return this;
        }

        /** Whether recycling runs every {@code [core.recycle] interval} (default true when enabled there). */
        public Builder recycleInBackground(boolean on) {
            this.recycleInBackground = on;
            return this;
        }

        public GatewayRouter build() {
            return new GatewayRouter(this);
        }
    }
}
