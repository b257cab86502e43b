package dev.atlas.dstack.gateway.internal;

import static dev.atlas.dstack.gateway.internal.RouteFixtures.T0;
import static dev.atlas.dstack.gateway.internal.RouteFixtures.instance;
import static org.assertj.core.api.Assertions.assertThat;

import dev.atlas.dstack.gateway.internal.RouteFixtures.FakeHandshakes;
import dev.atlas.dstack.gateway.internal.RouteFixtures.TestClock;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** §3.4: handshake-age health, top-N freshest first, the cache_top_n cache, random picks. */
class LoadBalancerTest {
    private final TestClock clock = new TestClock(T0.plus(Duration.ofHours(1)));
    private final FakeHandshakes hs = new FakeHandshakes();
    private final List<Instance> app = List.of(instance("i1", "app", 1), instance("i2", "app", 2),
            instance("i3", "app", 3), instance("i4", "app", 4), instance("i5", "app", 5));

    private LoadBalancer lb(RouteSettings s) {
        return new LoadBalancer(s, hs, clock, new Random(7));
    }

    private static List<String> ids(List<Instance> l) {
        return l.stream().map(Instance::instanceId).toList();
    }

    @Test
    void topNIsTheFreshestHealthyInstancesFreshestFirst() {
        var now = clock.instant();
        hs.map.put("key1", now.minus(Duration.ofMinutes(10)));
        hs.map.put("key2", now.minus(Duration.ofSeconds(5)));
        hs.map.put("key3", now.minus(Duration.ofMinutes(31))); // older than handshake_stale (30 m)
        hs.map.put("key4", now.minus(Duration.ofMinutes(1)));
        hs.map.put("key5", now.minus(Duration.ofMinutes(2)));
        assertThat(ids(lb(RouteSettings.builder().build()).select("app", app))).containsExactly("i2", "i4", "i5");
        assertThat(ids(lb(RouteSettings.builder().connectTopN(10).build()).select("app", app)))
                .containsExactly("i2", "i4", "i5", "i1");
    }

    /**
     * With a background refresher (real WireGuard: `wg show` is a subprocess) the periodic refresh never runs on the
     * route's thread; the first one and the one after a registry change do, so a new peer is routable at once.
     */
    @Test
    void thePeriodicRefreshRunsInTheBackground() {
        java.util.ArrayDeque<Runnable> queued = new java.util.ArrayDeque<>();
        hs.map.put("key1", clock.instant());
        LoadBalancer lb = new LoadBalancer(RouteSettings.builder().build(), hs, clock, new Random(7), queued::add);
        assertThat(lb.handshakes()).hasValueSatisfying(m -> assertThat(m).containsKey("key1"));
        assertThat(hs.calls).as("the first snapshot, taken by the caller").isEqualTo(1);
        hs.map.put("key2", clock.instant());
        clock.advance(Duration.ofSeconds(11)); // past handshake_refresh (10 s)
        assertThat(lb.handshakes()).as("the previous snapshot meanwhile")
                .hasValueSatisfying(m -> assertThat(m).doesNotContainKey("key2"));
        assertThat(hs.calls).isEqualTo(1);
        assertThat(queued).hasSize(1);
        queued.poll().run();
        assertThat(lb.handshakes()).hasValueSatisfying(m -> assertThat(m).containsKey("key2"));
        hs.map.put("key3", clock.instant());
        lb.markDirty();
        assertThat(lb.handshakes()).as("after a registry change: at once").hasValueSatisfying(
                m -> assertThat(m).containsKey("key3"));
        assertThat(queued).isEmpty();
    }

    @Test
    void noHealthyInstanceIsAnEmptyChoice() {
        hs.map.put("key1", clock.instant().minus(Duration.ofHours(1)));
        assertThat(lb(RouteSettings.builder().build()).select("app", app)).isEmpty();
        assertThat(lb(RouteSettings.builder().connectTopN(0).build()).select("app", app)).isEmpty();
    }

    @Test
    void theTopNListIsCachedForCacheTopNAndDroppedOnChange() {
        var now = clock.instant();
        hs.map.put("key1", now);
        LoadBalancer lb = lb(RouteSettings.builder().handshakeRefresh(Duration.ZERO).build());
        assertThat(ids(lb.select("app", app))).containsExactly("i1");
        hs.map.put("key2", now);
        clock.advance(Duration.ofSeconds(29));
        assertThat(ids(lb.select("app", app))).as("cached for 30 s").containsExactly("i1");
        clock.advance(Duration.ofSeconds(1));
        assertThat(ids(lb.select("app", app))).containsExactly("i1", "i2");
        hs.map.put("key3", clock.instant());
        lb.invalidate("app");
        assertThat(ids(lb.select("app", app))).containsExactly("i3", "i1", "i2");
    }

    @Test
    void connectTopNZeroPicksOneRandomHealthyInstance() {
        var now = clock.instant();
        hs.map.put("key1", now);
        hs.map.put("key3", now);
        hs.map.put("key5", now.minus(Duration.ofDays(1)));
        LoadBalancer lb = lb(RouteSettings.builder().connectTopN(0).build());
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 64; i++) {
            List<Instance> one = lb.select("app", app);
            assertThat(one).hasSize(1);
            seen.add(one.get(0).instanceId());
        }
        assertThat(seen).containsExactlyInAnyOrder("i1", "i3");
    }

    @Test
    void withoutHandshakeDataOneInstanceIsPickedAtRandom() {
        hs.fail = true;
        LoadBalancer lb = lb(RouteSettings.builder().build());
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 64; i++) {
            lb.markDirty();
            List<Instance> one = lb.select("app", app);
            assertThat(one).hasSize(1);
            seen.add(one.get(0).instanceId());
        }
        assertThat(seen).hasSizeGreaterThan(1);
        assertThat(lb.handshakes()).isEmpty();
    }

    @Test
    void aFailingWgCallKeepsTheLastGoodSnapshotAndIsNotRetriedOnEveryCall() {
        hs.map.put("key1", clock.instant());
        LoadBalancer lb = lb(RouteSettings.builder().build());
        assertThat(lb.handshakes()).hasValueSatisfying(m -> assertThat(m).containsKey("key1"));
        hs.fail = true;
        lb.markDirty();
        assertThat(lb.handshakes()).hasValueSatisfying(m -> assertThat(m).containsKey("key1"));
        int calls = hs.calls;
        lb.handshakes();
        lb.handshakes();
        assertThat(hs.calls).as("refreshed at most every 10 s").isEqualTo(calls);
        clock.advance(Duration.ofSeconds(10));
        lb.handshakes();
        assertThat(hs.calls).isEqualTo(calls + 1);
    }
}
