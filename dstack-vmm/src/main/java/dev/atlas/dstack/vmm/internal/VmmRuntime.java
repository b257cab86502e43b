package dev.atlas.dstack.vmm.internal;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.vmm.CvmBackend;
import dev.atlas.dstack.vmm.VmmConfig;

import java.net.SocketAddress;
import java.time.Clock;
import java.util.Map;
import java.util.Optional;

/** The running VMM behind {@link dev.atlas.dstack.vmm.VmmServer} (skeleton). */
public final class VmmRuntime implements AutoCloseable {
    private VmmRuntime() {}

    public static VmmRuntime start(VmmConfig config, CvmBackend backend, Clock clock, Map<String, String> env)
            throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }

    public SocketAddress address() {
        throw new UnsupportedOperationException("skeleton");
    }

    public Optional<String> httpBase() {
        return Optional.empty();
    }

    public CvmBackend backend() {
        throw new UnsupportedOperationException("skeleton");
    }

    public VmmConfig config() {
        throw new UnsupportedOperationException("skeleton");
    }

    @Override
    public void close() {}
}
