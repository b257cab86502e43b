package dev.atlas.dstack.simulator;

import java.net.Inet4Address;
import java.net.URI;
import java.util.List;
import java.util.Objects;

/**
 * What one gateway answered to this simulated CVM's {@code RegisterCvm} ({@code RegisterCvmResponse},
 * {@code ../shared/specs/dstack-platform.md} §3.3 step 7).
 *
 * @param gatewayUrl        the {@code gateway_urls} entry called
 * @param clientIp          {@code wg.client_ip}: this CVM's address inside the tunnel
 * @param servers           {@code wg.servers}: every gateway node to peer with
 * @param externalPort      {@code agent.external_port}
 * @param internalPort      {@code agent.internal_port} (the gateway's {@code agent_port})
 * @param domain            {@code agent.domain}
 * @param appAddressNsPrefix {@code agent.app_address_ns_prefix}
 */
public record GatewayRegistration(URI gatewayUrl, Inet4Address clientIp, List<Server> servers, int externalPort,
        int internalPort, String domain, String appAddressNsPrefix) {
    public GatewayRegistration {
        Objects.requireNonNull(gatewayUrl, "gatewayUrl");
        Objects.requireNonNull(clientIp, "clientIp");
        servers = List.copyOf(servers);
        Objects.requireNonNull(domain, "domain");
        Objects.requireNonNull(appAddressNsPrefix, "appAddressNsPrefix");
    }

    /**
     * {@code WireGuardPeer{pk, ip, endpoint}}: one gateway node.
     *
     * @param publicKey base64 WireGuard public key of the node
     * @param ip        the node's tunnel address with its prefix, as sent (e.g. {@code 10.4.0.1/16})
     * @param endpoint  {@code host:port} of the node's WireGuard UDP socket
     */
    public record Server(String publicKey, String ip, String endpoint) {
        public Server {
            Objects.requireNonNull(publicKey, "publicKey");
            Objects.requireNonNull(ip, "ip");
            Objects.requireNonNull(endpoint, "endpoint");
        }
    }
}
