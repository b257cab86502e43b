package dev.atlas.dstack.vmm.internal;

import dev.atlas.dstack.ra.RaException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * The host API for guests ({@code host_api.proto}, service {@code HostApi}: {@code Info}, {@code Notify},
 * {@code GetSealingKey}) served as pRPC over one Unix-domain socket per VM ({@code VmLaunch.hostApiSocket}).
 * Upstream serves it on vsock and identifies the VM by the caller's CID; here the socket a call arrives on
 * identifies the VM. {@code GetSealingKey} is forwarded to the {@code [key_provider]} (§2.13 framing).
 * (skeleton: issue20-qemu fills it in)
 */
public final class HostApiServer implements AutoCloseable {
    /** {@code HostInfo.name}, as upstream's VMM answers. */
    public static final String HOST_NAME = "dstack VMM";

    private final Builder config;

    private HostApiServer(Builder b) {
        this.config = b;
    }

    /** A builder; {@code listener} receives every {@code Notify}. */
    public static Builder builder(HostApiListener listener) {
        return new Builder(listener);
    }

    /**
     * Serves the host API for {@code vmId} on {@code socket} (an existing file there is replaced; the parent
     * directory must exist). Re-binding a VM id closes its previous socket first.
     *
     * @throws RaException when the socket cannot be bound
     */
    public void bind(String vmId, Path socket) throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Stops serving {@code vmId} and deletes its socket file; no-op when not bound. */
    public void unbind(String vmId) {
        throw new UnsupportedOperationException("skeleton");
    }

    /** The socket bound for {@code vmId}, if any. */
    public Optional<Path> socket(String vmId) {
        return Optional.empty();
    }

    /** Closes every VM socket and the worker threads. */
    @Override
    public void close() {}

    /** Options; defaults as upstream's {@code vmm.toml} ({@code [key_provider] enabled = false}). */
    public static final class Builder {
        final HostApiListener listener;
        String version = "0.0.0";
        Optional<InetSocketAddress> keyProvider = Optional.empty();
        Duration keyProviderTimeout = Duration.ofSeconds(30);

        Builder(HostApiListener listener) {
            this.listener = Objects.requireNonNull(listener, "listener");
        }

        /** {@code HostInfo.version}. */
        public Builder version(String v) {
            this.version = Objects.requireNonNull(v);
            return this;
        }

        /** Enables {@code GetSealingKey}: forwarded to this key provider ({@code [key_provider] address:port}). */
        public Builder keyProvider(InetSocketAddress address) {
            this.keyProvider = Optional.of(address);
            return this;
        }

        /** Connect and I/O timeout towards the key provider (default 30 s, as upstream's provider). */
        public Builder keyProviderTimeout(Duration d) {
            this.keyProviderTimeout = Objects.requireNonNull(d);
            return this;
        }

        public HostApiServer build() {
            return new HostApiServer(this);
        }
    }
}
