package dev.atlas.dstack.gateway.internal;

import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The port policies the proxy enforces, per instance (§3.3 "Port policy", upstream {@code proxy/port_policy.rs}):
 * the admin override wins over the policy the instance reported in {@code RegisterCvm}; an instance that reported
 * none is fail-closed until a background {@code Worker.Info} fetch of its {@code tcb_info.app_compose} succeeds.
 * The Admin service's Set/Clear/GetInstancePortPolicy call the methods here. (Skeleton: the instance-facing methods
 * {@code effective(Instance)}, {@code allows(Instance, int)}, {@code proxyProtocol(Instance, int)},
 * {@code state(Instance)} follow once {@code Instance} is on issue18-core.)
 */
public final class PortPolicies {
    /** Where the effective policy came from, as {@code GetInstancePortPolicyResponse.source} spells it. */
    public enum Source {
        ADMIN("admin"), INSTANCE("instance"), NONE("none");

        private final String wire;

        Source(String wire) {
            this.wire = wire;
        }

        /** {@code "admin"}, {@code "instance"} or {@code "none"}. */
        public String wire() {
            return wire;
        }
    }

    /** The answer of {@code Admin.GetInstancePortPolicy}. */
    public record State(Optional<PortPolicy> effective, Source source, Optional<PortPolicy> instanceReported,
                        Optional<PortPolicy> adminOverride) {}

    private final ConcurrentHashMap<String, PortPolicy> overrides = new ConcurrentHashMap<>();

    /** Sets (or replaces) the admin override of {@code instanceId}; it wins over everything else. */
    public void setAdminOverride(String instanceId, PortPolicy policy) {
        overrides.put(instanceId, policy);
    }

    /** Clears the admin override; true when there was one. */
    public boolean clearAdminOverride(String instanceId) {
        return overrides.remove(instanceId) != null;
    }

    /** The admin override of {@code instanceId}, if any. */
    public Optional<PortPolicy> adminOverride(String instanceId) {
        return Optional.ofNullable(overrides.get(instanceId));
    }
}
