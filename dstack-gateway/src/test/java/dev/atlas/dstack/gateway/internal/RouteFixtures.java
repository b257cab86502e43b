package dev.atlas.dstack.gateway.internal;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/** Test doubles for the router: a settable clock, registrations in a map, handshakes in a map. */
final class RouteFixtures {
    private RouteFixtures() {}

    static final Instant T0 = Instant.parse("2026-12-07T00:00:00Z");

    /** A clock the test moves. */
    static final class TestClock extends Clock {
        private volatile Instant now;

        TestClock(Instant now) {
            this.now = now;
        }

        void advance(Duration d) {
            now = now.plus(d);
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    static Inet4Address ip(String s) {
        try {
            return (Inet4Address) InetAddress.getByName(s);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }

    /** Instance {@code id} of {@code app} at {@code 10.4.0.<n>} with key {@code key<n>}. */
    static Instance instance(String id, String app, int n, Optional<PortPolicy> reported) {
        return new Instance(id, app, "", ip("10.4.0." + n), "key" + n, T0, reported);
    }

    static Instance instance(String id, String app, int n) {
        return instance(id, app, n, Optional.of(PortPolicy.OPEN));
    }

    /** Registrations in a map; listeners hear every put and remove. */
    static final class MapInstances implements InstanceView {
        final Map<String, Instance> byId = new HashMap<>();
        final List<Consumer<String>> listeners = new CopyOnWriteArrayList<>();

        synchronized MapInstances put(Instance i) {
            byId.put(i.instanceId(), i);
            listeners.forEach(l -> l.accept(i.appId()));
            return this;
        }

        @Override
        public synchronized Optional<Instance> byInstanceId(String id) {
            return Optional.ofNullable(byId.get(id));
        }

        @Override
        public synchronized List<Instance> byAppId(String appId) {
            List<Instance> out = new ArrayList<>();
            byId.values().stream().filter(i -> i.appId().equals(appId))
                    .sorted(java.util.Comparator.comparing(Instance::instanceId)).forEach(out::add);
            return out;
        }

        @Override
        public synchronized List<Instance> all() {
            return List.copyOf(byId.values());
        }

        @Override
        public Optional<Instance> remove(String id) {
            Instance i;
            synchronized (this) {
                i = byId.remove(id);
            }
            if (i != null) {
                listeners.forEach(l -> l.accept(i.appId()));
            }
            return Optional.ofNullable(i);
        }

        @Override
        public void addListener(Consumer<String> l) {
            listeners.add(l);
        }
    }

    /** Handshakes the test sets; {@code fail} makes the call throw as a missing {@code wg} would. */
    static final class FakeHandshakes implements LoadBalancer.Handshakes {
        final Map<String, Instant> map = new java.util.concurrent.ConcurrentHashMap<>();
        volatile boolean fail;
        volatile int calls;

        @Override
        public Map<String, Instant> latest() throws dev.atlas.dstack.ra.RaException {
            calls++;
            if (fail) {
                throw new dev.atlas.dstack.ra.RaException(dev.atlas.dstack.ra.RaException.Reason.CONFIG_INVALID,
                        "wg", "wg show failed (test)");
            }
            return Map.copyOf(map);
        }
    }
}
