package dev.atlas.dstack.gateway.internal;

import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * What the router reads of the registrations ({@link InstanceRegistry} in the server; a map in unit tests): lookups
 * by instance and app id, removal (recycling), and change notification (an app id per change).
 */
public interface InstanceView {
    Optional<Instance> byInstanceId(String instanceId);

    List<Instance> byAppId(String appId);

    List<Instance> all();

    Optional<Instance> remove(String instanceId);

    void addListener(Consumer<String> appIdListener);
}
