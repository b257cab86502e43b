package dev.atlas.dstack.gateway;

import dev.atlas.dstack.ra.RaException;
import io.micrometer.core.instrument.MeterRegistry;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The gateway's listeners (§3.1): the proxy, the main RPC listener (mTLS, {@code Gateway} service), the admin
 * listener ({@code Admin} service and dashboard) and the optional debug listener. Build with
 * {@link #builder(GatewayConfig)}.
 */
public final class GatewayServer implements AutoCloseable {
    private final Builder b;

    private GatewayServer(Builder b) {
        this.b = b;
    }

    public static Builder builder(GatewayConfig config) {
        return new Builder(config);
    }

    /** The proxy listeners' bound addresses. */
    public List<InetSocketAddress> proxyAddresses() {
        return List.of();
    }

    /** The main RPC listener's bound address. */
    public InetSocketAddress rpcAddress() {
        throw new IllegalStateException("not started");
    }

    /** The admin listener's bound address, when {@code [core.admin] enabled}. */
    public Optional<InetSocketAddress> adminAddress() {
        return Optional.empty();
    }

    /** The debug listener's bound address, when {@code insecure_enable_debug_rpc}. */
    public Optional<InetSocketAddress> debugAddress() {
        return Optional.empty();
    }

    @Override
    public void close() {
    }

    /** Builder: configuration, clock, environment, metrics. */
    public static final class Builder {
        private final GatewayConfig config;
        private Clock clock = Clock.systemUTC();
        private Map<String, String> env = System.getenv();
        private MeterRegistry meters;

        private Builder(GatewayConfig config) {
            this.config = Objects.requireNonNull(config, "config");
        }

        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** The environment: {@code DSTACK_AGENT_ADDRESS}, {@code DSTACK_GATEWAY_ADMIN_TOKEN}, {@code ADMIN_API_TOKEN}. */
        public Builder environment(Map<String, String> env) {
            this.env = Map.copyOf(env);
            return this;
        }

        public Builder meterRegistry(MeterRegistry registry) {
            this.meters = Objects.requireNonNull(registry, "registry");
            return this;
        }

        public GatewayServer start() throws RaException, IOException {
            return new GatewayServer(this);
        }
    }
}
