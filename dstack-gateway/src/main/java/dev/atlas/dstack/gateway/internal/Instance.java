package dev.atlas.dstack.gateway.internal;

import java.net.Inet4Address;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * One registered CVM instance (§3.3 gateway side).
 *
 * @param instanceId lowercase hex
 * @param appId lowercase hex
 * @param composeHash lowercase hex (may be empty for Debug registrations)
 * @param clientIp the WireGuard address allocated from {@code wg.client_ip_range}
 * @param publicKey the instance's WireGuard public key (base64, 32 bytes)
 * @param registeredAt the time of the last (re-)registration
 * @param reportedPolicy the port policy the instance reported; empty: not reported (fail-closed until fetched)
 */
public record Instance(String instanceId, String appId, String composeHash, Inet4Address clientIp, String publicKey,
        Instant registeredAt, Optional<PortPolicy> reportedPolicy) {
    public Instance {
        Objects.requireNonNull(instanceId, "instanceId");
        Objects.requireNonNull(appId, "appId");
        Objects.requireNonNull(composeHash, "composeHash");
        Objects.requireNonNull(clientIp, "clientIp");
        Objects.requireNonNull(publicKey, "publicKey");
        Objects.requireNonNull(registeredAt, "registeredAt");
        Objects.requireNonNull(reportedPolicy, "reportedPolicy");
    }
}
