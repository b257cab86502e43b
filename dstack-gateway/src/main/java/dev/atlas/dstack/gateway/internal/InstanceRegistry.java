package dev.atlas.dstack.gateway.internal;

import dev.atlas.dstack.gateway.GatewayConfig;
import dev.atlas.dstack.ra.RaException;

import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * The registered instances: IP allocation (§3.3 step 5), re-registration, persistence in
 * {@code <[core.sync] data_dir>/instances.json}. Listeners hear the app id of every change.
 */
public final class InstanceRegistry {
    private final List<Consumer<String>> listeners = new CopyOnWriteArrayList<>();

    /**
     * @param wg the network ({@code ip}, {@code reserved_net}, {@code client_ip_range})
     * @param stateFile where registrations persist; empty: memory only
     * @param clock registration times
     */
    public InstanceRegistry(GatewayConfig.Wg wg, Optional<Path> stateFile, Clock clock) throws RaException {
    }

    /**
     * Registers or re-registers {@code instanceId} (§3.3 steps 4-6).
     *
     * @throws RaException {@code STATE_CONFLICT}-family reasons naming the check
     */
    public Instance register(String instanceId, String appId, String composeHash, String publicKey,
            Optional<PortPolicy> policy) throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }

    public Optional<Instance> byInstanceId(String instanceId) {
        return Optional.empty();
    }

    public List<Instance> byAppId(String appId) {
        return List.of();
    }

    public List<Instance> all() {
        return List.of();
    }

    public Optional<Instance> remove(String instanceId) {
        return Optional.empty();
    }

    /** {@code listener} gets the app id of every change (register, re-register, remove). */
    public void addListener(Consumer<String> listener) {
        listeners.add(listener);
    }
}
