package dev.atlas.dstack.gateway.internal;

import java.util.List;
import java.util.Objects;

/**
 * The gateway-relevant port configuration an app declares ({@code gateway_rpc.proto} {@code PortPolicy}; §3.3 "Port
 * policy"): per-port attributes and whether only the listed ports are reachable.
 *
 * @param ports per-port attributes
 * @param restrictMode only the listed ports are reachable
 */
public record PortPolicy(List<Port> ports, boolean restrictMode) {
    public PortPolicy {
        ports = List.copyOf(ports);
    }

    /** {@code PortAttrs}: a CVM port and whether it gets a PROXY protocol header. */
    public record Port(int port, boolean pp) {
        public Port {
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("port must be 0..65535");
            }
        }
    }

    /** The attributes of {@code port}, if listed. */
    public java.util.Optional<Port> find(int port) {
        return ports.stream().filter(p -> p.port() == port).findFirst();
    }

    /** Whether a connection to {@code port} is allowed. */
    public boolean allows(int port) {
        return !restrictMode || find(port).isPresent();
    }

    static PortPolicy empty() {
        return new PortPolicy(List.of(), false);
    }

    /** Same as {@link Objects#equals}; named for readability at call sites. */
    boolean same(PortPolicy other) {
        return equals(other);
    }
}
