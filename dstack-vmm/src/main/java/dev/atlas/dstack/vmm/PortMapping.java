package dev.atlas.dstack.vmm;

import java.util.Locale;
import java.util.Objects;

/**
 * One port forward of a VM ({@code vmm_rpc.proto} {@code PortMapping}): {@code protocol} ({@code tcp}/{@code udp}),
 * the host address and port, and the port inside the VM.
 */
public record PortMapping(String protocol, String hostAddress, int hostPort, int vmPort) {
    public PortMapping {
        Objects.requireNonNull(protocol, "protocol");
        Objects.requireNonNull(hostAddress, "hostAddress");
        protocol = protocol.toLowerCase(Locale.ROOT);
        if (!protocol.equals("tcp") && !protocol.equals("udp")) {
            throw new IllegalArgumentException("port mapping protocol must be tcp or udp, got " + protocol);
        }
        if (hostPort < 0 || hostPort > 65535 || vmPort < 0 || vmPort > 65535) {
            throw new IllegalArgumentException("port out of 0..65535: host " + hostPort + ", vm " + vmPort);
        }
    }
}
