package dev.atlas.dstack.vmm;

import dev.atlas.dstack.ra.RaException;

import java.net.SocketAddress;
import java.time.Clock;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The VMM: Netty HTTP on {@code address} ({@code unix:PATH} or {@code tcp:HOST:PORT}) carrying the {@code Vmm} pRPC
 * service at {@code /prpc/<Method>} (the legacy {@code Teepod.} prefix trimmed), {@code GET /logs}, the dashboard at
 * {@code GET /} and {@code /res/*}, all behind {@code [auth]} (§0.3; mandatory when bound off-host). On start it
 * re-adopts the VMs of {@code run_path}. {@link #close()} leaves running VMs running: a new server adopts them.
 */
public final class VmmServer implements AutoCloseable {
    private final dev.atlas.dstack.vmm.internal.VmmRuntime runtime;

    private VmmServer(dev.atlas.dstack.vmm.internal.VmmRuntime runtime) {
        this.runtime = runtime;
    }

    public static Builder builder(VmmConfig config) {
        return new Builder(config);
    }

    /** The bound address: an {@link java.net.InetSocketAddress} or a {@link java.net.UnixDomainSocketAddress}. */
    public SocketAddress address() {
        return runtime.address();
    }

    /** {@code http://host:port} for a TCP listener; empty for a Unix socket. */
    public Optional<String> httpBase() {
        return runtime.httpBase();
    }

    /** The backend the VMs run on. */
    public CvmBackend backend() {
        return runtime.backend();
    }

    /** The configuration the server runs with. */
    public VmmConfig config() {
        return runtime.config();
    }

    /** Stops listening; running VMs keep running. */
    @Override
    public void close() {
        runtime.close();
    }

    /** Options. */
    public static final class Builder {
        private final VmmConfig config;
        private CvmBackend backend;
        private Clock clock = Clock.systemUTC();
        private Map<String, String> environment = System.getenv();

        private Builder(VmmConfig config) {
            this.config = Objects.requireNonNull(config, "config");
        }

        /** The backend (default: from {@code [cvm] backend}). */
        public Builder backend(CvmBackend b) {
            this.backend = Objects.requireNonNull(b, "backend");
            return this;
        }

        public Builder clock(Clock c) {
            this.clock = Objects.requireNonNull(c, "clock");
            return this;
        }

        /** The environment (default: the process's). */
        public Builder environment(Map<String, String> env) {
            this.environment = Map.copyOf(env);
            return this;
        }

        /**
         * Binds, adopts the VMs found under {@code run_path}, and serves.
         *
         * @throws RaException when the address cannot be bound, auth is missing for an off-host address, or the
         *     state under {@code run_path} cannot be read
         */
        public VmmServer start() throws RaException {
            return new VmmServer(dev.atlas.dstack.vmm.internal.VmmRuntime.start(config, backend, clock, environment));
        }
    }
}
