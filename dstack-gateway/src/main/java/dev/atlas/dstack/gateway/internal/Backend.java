package dev.atlas.dstack.gateway.internal;

import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * One place the proxy may connect to for a routed connection: an instance's address (its WireGuard IP, or
 * {@code 127.b.c.d} in the insecure loopback transport) and the app port, and whether the app's port policy asks
 * for a PROXY protocol header on that port ({@code pp = true}).
 *
 * @param instanceId    the instance id (lowercase hex), or a reserved name such as {@code localhost}
 * @param address       where to connect (resolved; never a host name)
 * @param proxyProtocol true when the proxy must write a PROXY header before the first byte
 */
public record Backend(String instanceId, InetSocketAddress address, boolean proxyProtocol) {
    public Backend {
        Objects.requireNonNull(instanceId, "instanceId");
        Objects.requireNonNull(address, "address");
        if (address.isUnresolved()) {
            throw new IllegalArgumentException("Backend.address must be resolved: " + address);
        }
    }
}
