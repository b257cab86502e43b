package dev.atlas.dstack.gateway.internal;

import dev.atlas.dstack.ra.RaException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.random.RandomGenerator;

/**
 * Chooses which of an app's instances a connection may go to (spec §3.4; upstream {@code main_service.rs}
 * {@code select_top_n_hosts} / {@code random_select_a_host}, {@code main_service/handshakes.rs}).
 *
 * <p>Health is the age of the instance's latest WireGuard handshake ({@link WgControl#latestHandshakes()}): healthy
 * when younger than {@code handshake_stale}. With {@code connect_top_n = 0} one healthy instance is picked at random;
 * otherwise the healthy instances are sorted freshest first, the first N kept, and that list cached per app for
 * {@code cache_top_n} (an empty list is not cached; {@link #invalidate} drops an app's entry when its instances
 * change). Without handshake data (the {@code wg} call failed and no earlier snapshot exists) one instance of the
 * app is picked at random, as the spec says; upstream's fallback needs the same data and so finds nothing.
 *
 * <p>The handshake snapshot is taken at most every {@code handshakeRefresh}, and again after {@link #markDirty()}
 * (the router calls it when an instance registers, so a fresh registration is seen at once). Only one thread runs
 * the {@code wg} call; the others keep using the previous snapshot. A failed call keeps the last good snapshot.
 */
final class LoadBalancer {
    private static final System.Logger LOG = System.getLogger(LoadBalancer.class.getName());

    /** Where handshakes come from ({@link WgControl#latestHandshakes()} in production, a fake in tests). */
    @FunctionalInterface
    interface Handshakes {
        Map<String, Instant> latest() throws RaException;
    }

    private record Snapshot(Map<String, Instant> handshakes, Instant takenAt) {}

    private record TopN(List<Instance> instances, Instant at) {}

    private final int connectTopN;
    private final Duration cacheTopN;
    private final Duration handshakeStale;
    private final Duration handshakeRefresh;
    private final Handshakes source;
    private final Clock clock;
    private final RandomGenerator random;
    private final java.util.concurrent.Executor refresher;
    private final ConcurrentHashMap<String, TopN> topN = new ConcurrentHashMap<>();
    private final AtomicBoolean refreshing = new AtomicBoolean();
    private volatile Snapshot snapshot;
    private volatile boolean dirty = true;
    private volatile Instant lastAttempt;

    LoadBalancer(RouteSettings s, Handshakes source, Clock clock, RandomGenerator random) {
        this(s, source, clock, random, Runnable::run);
    }

    /**
     * @param refresher where the periodic refresh runs: {@code Runnable::run} (synchronous: fakes, the loopback
     *     transport) or a background thread for the {@code wg} subprocess, so that a route asked on an event loop
     *     answers from the previous snapshot meanwhile. The first refresh and the one after a registry change still
     *     run on the caller: a route right after {@code RegisterCvm} must see the new peer's handshake.
     */
    LoadBalancer(RouteSettings s, Handshakes source, Clock clock, RandomGenerator random,
            java.util.concurrent.Executor refresher) {
        this.refresher = Objects.requireNonNull(refresher, "refresher");
        this.connectTopN = s.connectTopN();
        this.cacheTopN = s.cacheTopN();
        this.handshakeStale = s.handshakeStale();
        this.handshakeRefresh = s.handshakeRefresh();
        this.source = Objects.requireNonNull(source, "source");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.random = Objects.requireNonNull(random, "random");
    }

    /**
     * The candidates among {@code appInstances} (all of one app): at most {@code connect_top_n} healthy ones,
     * freshest first, or one random pick. Empty when none is healthy.
     */
    List<Instance> select(String appId, List<Instance> appInstances) {
        if (appInstances.isEmpty()) {
            return List.of();
        }
        Instant now = clock.instant();
        if (connectTopN > 0) {
            TopN cached = topN.get(appId);
            if (cached != null && Duration.between(cached.at(), now).compareTo(cacheTopN) < 0) {
                return cached.instances();
            }
        }
        Optional<Map<String, Instant>> hs = handshakes();
        if (hs.isEmpty()) {
            LOG.log(System.Logger.Level.WARNING, "WireGuard latest-handshakes unavailable; picking a random instance of app {0}",
                    appId);
            return List.of(appInstances.get(random.nextInt(appInstances.size())));
        }
        List<Healthy> healthy = healthy(appInstances, hs.get(), now);
        if (healthy.isEmpty()) {
            return List.of();
        }
        if (connectTopN == 0) {
            return List.of(healthy.get(random.nextInt(healthy.size())).instance());
        }
        healthy.sort(Comparator.comparing(Healthy::age));
        List<Instance> selected = new ArrayList<>(Math.min(connectTopN, healthy.size()));
        for (int i = 0; i < healthy.size() && i < connectTopN; i++) {
            selected.add(healthy.get(i).instance());
        }
        selected = List.copyOf(selected);
        topN.put(appId, new TopN(selected, now));
        return selected;
    }

    private record Healthy(Instance instance, Duration age) {}

    private List<Healthy> healthy(List<Instance> instances, Map<String, Instant> hs, Instant now) {
        List<Healthy> out = new ArrayList<>(instances.size());
        for (Instance i : instances) {
            Instant last = hs.get(i.publicKey());
            if (last == null) {
                continue;
            }
            Duration age = Duration.between(last, now);
            if (age.isNegative()) {
                age = Duration.ZERO;
            }
            if (age.compareTo(handshakeStale) < 0) {
                out.add(new Healthy(i, age));
            }
        }
        return out;
    }

    /** Whether {@code instance} had a handshake within {@code handshake_stale} (false without data). */
    boolean isHealthy(Instance instance) {
        Optional<Map<String, Instant>> hs = handshakes();
        return hs.isPresent() && !healthy(List.of(instance), hs.get(), clock.instant()).isEmpty();
    }

    /** Drops the cached top-N list of {@code appId} (its instances changed). */
    void invalidate(String appId) {
        topN.remove(appId);
    }

    /** The next {@link #handshakes()} call takes a new snapshot. */
    void markDirty() {
        dirty = true;
    }

    /**
     * A snapshot taken now (no fallback to an older one); empty when the {@code wg} call fails. Recycling uses it:
     * removals must not rest on stale data.
     */
    Optional<Map<String, Instant>> handshakesNow() {
        Instant now = clock.instant();
        try {
            Map<String, Instant> fresh = Map.copyOf(source.latest());
            snapshot = new Snapshot(fresh, now);
            lastAttempt = now;
            dirty = false;
            return Optional.of(fresh);
        } catch (RaException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "WireGuard latest-handshakes failed: {0}", e.getMessage());
            return Optional.empty();
        }
    }

    /** The latest handshakes (base64 public key → time), refreshed when due; empty when never available. */
    Optional<Map<String, Instant>> handshakes() {
        Snapshot s = snapshot;
        Instant now = clock.instant();
        Instant last = lastAttempt;
        boolean due = dirty || last == null || Duration.between(last, now).compareTo(handshakeRefresh) >= 0;
        if (due && refreshing.compareAndSet(false, true)) {
            boolean changed = dirty;
            dirty = false;
            lastAttempt = now;
            if (changed || s == null) {
                // the registry changed (or nothing is known yet): this route must see the new peers' handshakes, so
                // the call runs here; registrations are rare next to routes
                refresh(now);
            } else {
                // the periodic refresh: the route answers from the previous snapshot meanwhile
                try {
                    refresher.execute(() -> refresh(now));
                } catch (java.util.concurrent.RejectedExecutionException e) {
                    refreshing.set(false); // shutting down: keep the previous snapshot
                }
            }
            s = snapshot; // replaced already when the refresh ran here
        }
        return s == null ? Optional.empty() : Optional.of(s.handshakes());
    }

    private void refresh(Instant at) {
        try {
            snapshot = new Snapshot(Map.copyOf(source.latest()), at);
        } catch (RaException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "WireGuard latest-handshakes failed; using the previous snapshot: {0}",
                    e.getMessage());
        } finally {
            refreshing.set(false);
        }
    }
}
