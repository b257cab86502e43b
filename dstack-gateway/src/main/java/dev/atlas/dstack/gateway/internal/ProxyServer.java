package dev.atlas.dstack.gateway.internal;

import dev.atlas.dstack.ra.RaException;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The gateway's proxy listeners (spec §3.2, §3.5, §3.6). Skeleton: signatures only.
 */
public final class ProxyServer implements AutoCloseable {

    /** One live proxied connection, for the dashboard. */
    public record ConnectionInfo(
            long id,
            InetSocketAddress client,
            Instant started,
            String sni,
            String mode,
            Optional<String> appId,
            Optional<String> instanceId,
            Optional<InetSocketAddress> backend,
            long bytesFromClient,
            long bytesToClient) {}

    private ProxyServer() {}

    public static Builder builder(ProxySettings settings) {
        return new Builder(settings);
    }

    /** The bound listener addresses, in the order of {@code listen_port}. */
    public List<InetSocketAddress> proxyAddresses() {
        return List.of();
    }

    /** A snapshot of the live connections. */
    public List<ConnectionInfo> connections() {
        return List.of();
    }

    /** The certificate store this proxy terminates with. */
    public CertStore certStore() {
        throw new UnsupportedOperationException("skeleton");
    }

    @Override
    public void close() {}

    public static final class Builder {
        private final ProxySettings settings;
        private CertStore certStore;
        private Clock clock = Clock.systemUTC();
        private MeterRegistry meterRegistry = new SimpleMeterRegistry();

        private Builder(ProxySettings settings) {
            this.settings = Objects.requireNonNull(settings, "settings");
        }

        public Builder certStore(CertStore v) { certStore = Objects.requireNonNull(v); return this; }
        public Builder clock(Clock v) { clock = Objects.requireNonNull(v); return this; }
        public Builder meterRegistry(MeterRegistry v) { meterRegistry = Objects.requireNonNull(v); return this; }
        // router(Router) and thisNode(ThisNode) come with the issue18-route / issue18-core skeletons

        /** Binds every listener; on a bind failure, closes what was bound and throws. */
        public ProxyServer start() throws RaException {
            throw new UnsupportedOperationException("skeleton");
        }
    }
}
