package dev.atlas.dstack.gateway.internal;

import dev.atlas.dstack.gateway.GatewayConfig;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * The routing part of {@code gateway.toml} (spec §3.2.1, §3.4, §3.3 "Port policy"), in one value so that the
 * router, the load balancer, the port-policy fetcher and the TXT resolver can be built and tested without a whole
 * configuration. {@link #builder()} starts from dstack's shipped defaults ({@code gateway/gateway.toml}).
 *
 * @param connectTopN               {@code [core.proxy] connect_top_n}: candidates per connection (0: one random)
 * @param maxConnectionsPerApp      {@code [core.proxy] max_connections_per_app} (0: unlimited)
 * @param agentPort                 {@code [core.proxy] agent_port}: the guest agent's Worker port in each CVM
 * @param appAddressNsPrefix        {@code [core.proxy] app_address_ns_prefix} (TXT name prefix)
 * @param appAddressNsCompat        {@code [core.proxy] app_address_ns_compat} (also query {@code _tapp-address})
 * @param dnsServers                {@code [core.proxy] app_address_dns_servers}; empty: the system resolvers
 * @param cacheTopN                 {@code [core.proxy.timeouts] cache_top_n}
 * @param handshakeStale            {@code [core.proxy.timeouts] handshake_stale}
 * @param dnsResolve                {@code [core.proxy.timeouts] dns_resolve}
 * @param handshakeRefresh          how long a {@code wg show latest-handshakes} snapshot is used (dstack: 10 s)
 * @param portPolicyFetch           {@code [core.proxy.port_policy_fetch]}
 * @param recycleEnabled            {@code [core.recycle] enabled}
 * @param recycleInterval           {@code [core.recycle] interval}
 * @param recycleTimeout            {@code [core.recycle] timeout}
 * @param loopbackTransport         {@code [core.debug] insecure_loopback_transport}: backends at {@code 127.b.c.d}
 * @param localhostBackend          {@code [core.debug] insecure_localhost_backend}: the id {@code localhost}
 */
public record RouteSettings(int connectTopN, long maxConnectionsPerApp, int agentPort, String appAddressNsPrefix,
                            boolean appAddressNsCompat, List<InetSocketAddress> dnsServers, Duration cacheTopN,
                            Duration handshakeStale, Duration dnsResolve, Duration handshakeRefresh,
                            PortPolicyFetch portPolicyFetch, boolean recycleEnabled, Duration recycleInterval,
                            Duration recycleTimeout, boolean loopbackTransport, boolean localhostBackend) {

    /**
     * {@code [core.proxy.port_policy_fetch]}: one {@code Info} call's timeout, the retries after the first try, and
     * the backoff that doubles from {@code backoffInitial} up to {@code backoffMax}.
     */
    public record PortPolicyFetch(Duration timeout, int maxRetries, Duration backoffInitial, Duration backoffMax) {
        /** dstack's shipped values: 10 s, 5 retries, 1 s … 30 s. */
        public static final PortPolicyFetch DEFAULT =
                new PortPolicyFetch(Duration.ofSeconds(10), 5, Duration.ofSeconds(1), Duration.ofSeconds(30));

        public PortPolicyFetch {
            positive(timeout, "port_policy_fetch.timeout");
            positiveOrZero(backoffInitial, "port_policy_fetch.backoff_initial");
            positiveOrZero(backoffMax, "port_policy_fetch.backoff_max");
            if (maxRetries < 0) {
                throw new IllegalArgumentException("port_policy_fetch.max_retries must be >= 0: " + maxRetries);
            }
        }
    }

    public RouteSettings {
        if (connectTopN < 0) {
            throw new IllegalArgumentException("connect_top_n must be >= 0: " + connectTopN);
        }
        if (maxConnectionsPerApp < 0) {
            throw new IllegalArgumentException("max_connections_per_app must be >= 0: " + maxConnectionsPerApp);
        }
        if (agentPort < 1 || agentPort > 65535) {
            throw new IllegalArgumentException("agent_port must be 1..65535: " + agentPort);
        }
        Objects.requireNonNull(appAddressNsPrefix, "app_address_ns_prefix");
        if (appAddressNsPrefix.isEmpty()) {
            throw new IllegalArgumentException("app_address_ns_prefix must not be empty");
        }
        dnsServers = List.copyOf(dnsServers);
        positiveOrZero(cacheTopN, "timeouts.cache_top_n");
        positive(handshakeStale, "timeouts.handshake_stale");
        positive(dnsResolve, "timeouts.dns_resolve");
        positiveOrZero(handshakeRefresh, "handshake refresh");
        Objects.requireNonNull(portPolicyFetch, "port_policy_fetch");
        positive(recycleInterval, "recycle.interval");
        positive(recycleTimeout, "recycle.timeout");
    }

    private static void positive(Duration d, String name) {
        Objects.requireNonNull(d, name);
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(name + " must be > 0: " + d);
        }
    }

    private static void positiveOrZero(Duration d, String name) {
        Objects.requireNonNull(d, name);
        if (d.isNegative()) {
            throw new IllegalArgumentException(name + " must be >= 0: " + d);
        }
    }

    /**
     * The values of a loaded {@code gateway.toml}. {@code app_address_dns_servers} is not read from the file (the
     * system resolvers are used); {@link Builder#dnsServers} sets it.
     */
    public static RouteSettings from(GatewayConfig c) {
        GatewayConfig.Proxy p = c.proxy();
        GatewayConfig.Timeouts t = p.timeouts();
        GatewayConfig.PortPolicyFetch f = p.portPolicyFetch();
        return builder()
                .connectTopN(p.connectTopN())
                .maxConnectionsPerApp(p.maxConnectionsPerApp())
                .agentPort(p.agentPort())
                .appAddressNsPrefix(p.appAddressNsPrefix())
                .appAddressNsCompat(p.appAddressNsCompat())
                .cacheTopN(t.cacheTopN())
                .handshakeStale(t.handshakeStale())
                .dnsResolve(t.dnsResolve())
                .portPolicyFetch(new PortPolicyFetch(f.timeout(), f.maxRetries(), f.backoffInitial(), f.backoffMax()))
                .recycleEnabled(c.recycle().enabled())
                .recycleInterval(c.recycle().interval())
                .recycleTimeout(c.recycle().timeout())
                .loopbackTransport(c.debug().insecureLoopbackTransport())
                .localhostBackend(c.debug().insecureLocalhostBackend())
                .build();
    }

    /** A builder with dstack's shipped defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding these values. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.connectTopN = connectTopN;
        b.maxConnectionsPerApp = maxConnectionsPerApp;
        b.agentPort = agentPort;
        b.appAddressNsPrefix = appAddressNsPrefix;
        b.appAddressNsCompat = appAddressNsCompat;
        b.dnsServers = dnsServers;
        b.cacheTopN = cacheTopN;
        b.handshakeStale = handshakeStale;
        b.dnsResolve = dnsResolve;
        b.handshakeRefresh = handshakeRefresh;
        b.portPolicyFetch = portPolicyFetch;
        b.recycleEnabled = recycleEnabled;
        b.recycleInterval = recycleInterval;
        b.recycleTimeout = recycleTimeout;
        b.loopbackTransport = loopbackTransport;
        b.localhostBackend = localhostBackend;
        return b;
    }

    /** Builder; every value starts at dstack's shipped default. */
    public static final class Builder {
        private int connectTopN = 3;
        private long maxConnectionsPerApp = 2000;
        private int agentPort = 8090;
        private String appAddressNsPrefix = "_dstack-app-address";
        private boolean appAddressNsCompat = true;
        private List<InetSocketAddress> dnsServers = List.of();
        private Duration cacheTopN = Duration.ofSeconds(30);
        private Duration handshakeStale = Duration.ofMinutes(30);
        private Duration dnsResolve = Duration.ofSeconds(5);
        private Duration handshakeRefresh = Duration.ofSeconds(10);
        private PortPolicyFetch portPolicyFetch = PortPolicyFetch.DEFAULT;
        private boolean recycleEnabled = true;
        private Duration recycleInterval = Duration.ofMinutes(5);
        private Duration recycleTimeout = Duration.ofHours(10);
        private boolean loopbackTransport;
        private boolean localhostBackend;

        private Builder() {}

        public Builder connectTopN(int v) { this.connectTopN = v; return this; }
        public Builder maxConnectionsPerApp(long v) { this.maxConnectionsPerApp = v; return this; }
        public Builder agentPort(int v) { this.agentPort = v; return this; }
        public Builder appAddressNsPrefix(String v) { this.appAddressNsPrefix = v; return this; }
        public Builder appAddressNsCompat(boolean v) { this.appAddressNsCompat = v; return this; }
        public Builder dnsServers(List<InetSocketAddress> v) { this.dnsServers = v; return this; }
        public Builder cacheTopN(Duration v) { this.cacheTopN = v; return this; }
        public Builder handshakeStale(Duration v) { this.handshakeStale = v; return this; }
        public Builder dnsResolve(Duration v) { this.dnsResolve = v; return this; }
        public Builder handshakeRefresh(Duration v) { this.handshakeRefresh = v; return this; }
        public Builder portPolicyFetch(PortPolicyFetch v) { this.portPolicyFetch = v; return this; }
        public Builder recycleEnabled(boolean v) { this.recycleEnabled = v; return this; }
        public Builder recycleInterval(Duration v) { this.recycleInterval = v; return this; }
        public Builder recycleTimeout(Duration v) { this.recycleTimeout = v; return this; }
        public Builder loopbackTransport(boolean v) { this.loopbackTransport = v; return this; }
        public Builder localhostBackend(boolean v) { this.localhostBackend = v; return this; }

        public RouteSettings build() {
            return new RouteSettings(connectTopN, maxConnectionsPerApp, agentPort, appAddressNsPrefix,
                    appAddressNsCompat, dnsServers, cacheTopN, handshakeStale, dnsResolve, handshakeRefresh,
                    portPolicyFetch, recycleEnabled, recycleInterval, recycleTimeout, loopbackTransport,
                    localhostBackend);
        }
    }
}
