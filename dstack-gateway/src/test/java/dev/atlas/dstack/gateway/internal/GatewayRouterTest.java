package dev.atlas.dstack.gateway.internal;

import static dev.atlas.dstack.gateway.internal.RouteFixtures.T0;
import static dev.atlas.dstack.gateway.internal.RouteFixtures.instance;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.atlas.dstack.gateway.AppAddress;
import dev.atlas.dstack.gateway.internal.RouteFixtures.FakeHandshakes;
import dev.atlas.dstack.gateway.internal.RouteFixtures.MapInstances;
import dev.atlas.dstack.gateway.internal.RouteFixtures.TestClock;
import dev.atlas.dstack.ra.RaException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The router: id matching, health, port policy (fail closed, fetch, override), connection limit, recycling. */
class GatewayRouterTest {
    private static final String APP = "aa".repeat(20);
    private static final String OTHER = "bb".repeat(20);
    private static final String I1 = "11".repeat(20);
    private static final String I2 = "22".repeat(20);
    private static final String I3 = "33".repeat(20);

    private final TestClock clock = new TestClock(T0.plus(Duration.ofMinutes(1)));
    private final FakeHandshakes hs = new FakeHandshakes();
    private final MapInstances instances = new MapInstances();
    /** Info calls the test answers: agent address and the future to complete. */
    private final BlockingQueue<Call> calls = new LinkedBlockingQueue<>();
    private GatewayRouter router;

    private record Call(InetSocketAddress agent, CompletableFuture<String> answer) {}

    private GatewayRouter router(RouteSettings.Builder s) {
        router = GatewayRouter.builder(s.handshakeRefresh(Duration.ZERO).build())
                .instances(instances).handshakes(hs).clock(clock).random(new Random(1))
                .recycleInBackground(false)
                .agentInfo((agent, timeout) -> {
                    CompletableFuture<String> f = new CompletableFuture<>();
                    calls.add(new Call(agent, f));
                    return f;
                }).build();
        return router;
    }

    @AfterEach
    void close() {
        if (router != null) {
            router.close();
        }
    }

    private static AppAddress addr(String id, int port) {
        return new AppAddress(id, port, false, false);
    }

    private static List<String> ids(Route r) {
        return r.candidates().stream().map(Backend::instanceId).toList();
    }

    private void healthy(String key) {
        hs.map.put(key, clock.instant());
    }

    @Test
    void anInstanceIdIsMatchedBeforeAnAppId() throws Exception {
        GatewayRouter r = router(RouteSettings.builder());
        instances.put(instance(I1, APP, 1)).put(instance(I2, APP, 2));
        healthy("key1");
        healthy("key2");
        Route byApp = r.route(addr(APP, 8080));
        assertThat(byApp.appId()).isEqualTo(APP);
        assertThat(ids(byApp)).containsExactlyInAnyOrder(I1, I2);
        assertThat(byApp.candidates().get(0).address().getPort()).isEqualTo(8080);

        Route byInstance = r.route(addr(I2, 80));
        assertThat(byInstance.appId()).isEqualTo(APP);
        assertThat(ids(byInstance)).containsExactly(I2);
        assertThat(byInstance.candidates().get(0).address())
                .isEqualTo(new InetSocketAddress(RouteFixtures.ip("10.4.0.2"), 80));

        // an app whose id is also an instance id: the instance wins (upstream select_top_n_hosts)
        instances.put(instance(OTHER, I1, 3));
        healthy("key3");
        assertThat(ids(r.route(addr(I1, 80)))).containsExactly(I1);
    }

    @Test
    void unknownIdsAreRefusedNeverDefaulted() {
        GatewayRouter r = router(RouteSettings.builder());
        instances.put(instance(I1, APP, 1));
        healthy("key1");
        assertThatThrownBy(() -> r.route(addr("cc".repeat(20), 80))).isInstanceOfSatisfying(RaException.class,
                e -> assertThat(e.raReason()).isEqualTo(RaException.Reason.ROUTE_UNKNOWN_APP));
        // no case folding: the uppercase of a registered id names nothing
        assertThatThrownBy(() -> r.route(addr(APP.toUpperCase(), 80))).isInstanceOfSatisfying(RaException.class,
                e -> assertThat(e.raReason()).isEqualTo(RaException.Reason.ROUTE_UNKNOWN_APP));
        // localhost only behind its flag
        assertThatThrownBy(() -> r.route(addr("localhost", 80))).isInstanceOfSatisfying(RaException.class,
                e -> assertThat(e.raReason()).isEqualTo(RaException.Reason.ROUTE_UNKNOWN_APP));
    }

    @Test
    void localhostRoutesToLoopbackOnlyWithItsFlag() throws Exception {
        GatewayRouter r = router(RouteSettings.builder().localhostBackend(true));
        Route route = r.route(addr("localhost", 9000));
        assertThat(route.candidates()).singleElement().satisfies(b -> {
            assertThat(b.address().getAddress().isLoopbackAddress()).isTrue();
            assertThat(b.address().getPort()).isEqualTo(9000);
        });
    }

    @Test
    void anAppWithoutAFreshHandshakeHasNoHealthyInstance() {
        GatewayRouter r = router(RouteSettings.builder());
        instances.put(instance(I1, APP, 1));
        hs.map.put("key1", clock.instant().minus(Duration.ofMinutes(30)));
        assertThatThrownBy(() -> r.route(addr(APP, 80))).isInstanceOfSatisfying(RaException.class, e -> {
            assertThat(e.raReason()).isEqualTo(RaException.Reason.ROUTE_NO_HEALTHY_INSTANCE);
            assertThat(e.getMessage()).contains(APP).contains("handshake_stale");
        });
    }

    @Test
    void aRegistrationIsSeenAtOnceDespiteTheTopNCache() throws Exception {
        GatewayRouter r = router(RouteSettings.builder().handshakeRefresh(Duration.ofHours(1)));
        instances.put(instance(I1, APP, 1));
        healthy("key1");
        assertThat(ids(r.route(addr(APP, 80)))).containsExactly(I1);
        healthy("key2");
        instances.put(instance(I2, APP, 2)); // the listener drops the cache and the snapshot
        assertThat(ids(r.route(addr(APP, 80)))).containsExactlyInAnyOrder(I1, I2);
        instances.remove(I1);
        assertThat(ids(r.route(addr(APP, 80)))).containsExactly(I2);
    }

    @Test
    void restrictModeFiltersCandidatesAndPpReachesTheBackend() throws Exception {
        GatewayRouter r = router(RouteSettings.builder());
        PortPolicy restricted = new PortPolicy(List.of(new PortPolicy.Port(443, true), new PortPolicy.Port(80, false)),
                true);
        instances.put(instance(I1, APP, 1, Optional.of(restricted))).put(instance(I2, APP, 2));
        healthy("key1");
        healthy("key2");
        assertThat(ids(r.route(addr(APP, 8080)))).containsExactly(I2);
        Route tls = r.route(new AppAddress(APP, 443, true, false));
        assertThat(tls.candidates()).extracting(Backend::instanceId, Backend::proxyProtocol)
                .containsExactlyInAnyOrder(org.assertj.core.groups.Tuple.tuple(I1, true),
                        org.assertj.core.groups.Tuple.tuple(I2, false));
        assertThatThrownBy(() -> r.route(addr(I1, 8080))).isInstanceOfSatisfying(RaException.class, e -> {
            assertThat(e.raReason()).isEqualTo(RaException.Reason.ROUTE_PORT_NOT_ALLOWED);
            assertThat(e.getMessage()).contains("port 8080 denied by app port policy for " + APP);
        });
    }

    @Test
    void theAdminOverrideWinsAndClearingRestoresTheReport() throws Exception {
        GatewayRouter r = router(RouteSettings.builder());
        instances.put(instance(I1, APP, 1));
        healthy("key1");
        PortPolicies p = r.portPolicies();
        p.setAdminOverride(I1, new PortPolicy(List.of(), true)); // "deny everything" lockdown
        assertThatThrownBy(() -> r.route(addr(APP, 80))).isInstanceOfSatisfying(RaException.class,
                e -> assertThat(e.raReason()).isEqualTo(RaException.Reason.ROUTE_PORT_NOT_ALLOWED));
        PortPolicies.State st = p.state(instances.byInstanceId(I1).orElseThrow());
        assertThat(st.source()).isEqualTo(PortPolicies.Source.ADMIN);
        assertThat(st.instanceReported()).contains(PortPolicy.OPEN);
        assertThat(p.clearAdminOverride(I1)).isTrue();
        assertThat(ids(r.route(addr(APP, 80)))).containsExactly(I1);
        assertThat(p.state(instances.byInstanceId(I1).orElseThrow()).source()).isEqualTo(PortPolicies.Source.INSTANCE);
    }

    private static String sha256(String s) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    }

    private static String tcbInfo(String compose) {
        return "{\"app_compose\":" + com.fasterxml.jackson.databind.node.TextNode.valueOf(compose) + ",\"mrtd\":\"00\"}";
    }

    private Call nextCall() throws InterruptedException {
        Call c = calls.poll(10, TimeUnit.SECONDS);
        assertThat(c).as("an Info() call").isNotNull();
        return c;
    }

    @Test
    void anUnreportedPolicyIsFailClosedUntilTheFetchSucceedsWithRetries() throws Exception {
        String compose = "{\"name\":\"x\",\"port_policy\":{\"restrict_mode\":true,\"ports\":[{\"port\":8080,\"pp\":true}]}}";
        GatewayRouter r = router(RouteSettings.builder().loopbackTransport(true).agentPort(8090)
                .portPolicyFetch(new RouteSettings.PortPolicyFetch(Duration.ofSeconds(10), 2, Duration.ZERO,
                        Duration.ZERO)));
        Instance legacy = new Instance(I1, APP, sha256(compose), RouteFixtures.ip("10.4.0.7"), "key7", T0,
                Optional.empty());
        instances.put(legacy);
        healthy("key7");
        assertThatThrownBy(() -> r.route(addr(APP, 8080))).isInstanceOfSatisfying(RaException.class, e -> {
            assertThat(e.raReason()).isEqualTo(RaException.Reason.ROUTE_PORT_NOT_ALLOWED);
        });
        Call first = nextCall();
        assertThat(first.agent()).as("loopback transport: the agent at 127.b.c.d:agent_port")
                .isEqualTo(new InetSocketAddress(RouteFixtures.ip("127.4.0.7"), 8090));
        // a second connection while the fetch runs starts no second fetch
        assertThatThrownBy(() -> r.route(addr(APP, 8080))).isInstanceOf(RaException.class);
        first.answer().completeExceptionally(new IOException("connection refused"));
        nextCall().answer().completeExceptionally(new IOException("connection refused"));
        Call third = nextCall();
        third.answer().complete(tcbInfo(compose));
        r.portPolicies().fetchRound(I1).get(10, TimeUnit.SECONDS);
        assertThat(calls).isEmpty();
        Route ok = r.route(addr(APP, 8080));
        assertThat(ok.candidates()).singleElement().satisfies(b -> {
            assertThat(b.proxyProtocol()).isTrue();
            assertThat(b.address()).isEqualTo(new InetSocketAddress(RouteFixtures.ip("127.4.0.7"), 8080));
        });
        assertThatThrownBy(() -> r.route(addr(APP, 80))).isInstanceOfSatisfying(RaException.class,
                e -> assertThat(e.raReason()).isEqualTo(RaException.Reason.ROUTE_PORT_NOT_ALLOWED));

        // re-registration with another compose hash: the fetched policy no longer applies
        instances.put(new Instance(I1, APP, sha256(compose + " "), legacy.clientIp(), "key7", T0, Optional.empty()));
        assertThatThrownBy(() -> r.route(addr(APP, 8080))).isInstanceOf(RaException.class);
        nextCall().answer().complete(tcbInfo(compose)); // the old compose: refused (hash mismatch), stays closed
        r.portPolicies().fetchRound(I1).get(10, TimeUnit.SECONDS);
        assertThatThrownBy(() -> r.route(addr(APP, 8080))).isInstanceOf(RaException.class);
    }

    @Test
    void theFetchGivesUpAfterMaxRetries() throws Exception {
        GatewayRouter r = router(RouteSettings.builder()
                .portPolicyFetch(new RouteSettings.PortPolicyFetch(Duration.ofSeconds(10), 1, Duration.ZERO,
                        Duration.ZERO)));
        instances.put(new Instance(I1, APP, "", RouteFixtures.ip("10.4.0.7"), "key7", T0, Optional.empty()));
        healthy("key7");
        assertThatThrownBy(() -> r.route(addr(APP, 80))).isInstanceOf(RaException.class);
        nextCall().answer().completeExceptionally(new IOException("refused"));
        nextCall().answer().completeExceptionally(new IOException("refused"));
        r.portPolicies().fetchRound(I1).get(10, TimeUnit.SECONDS);
        assertThat(r.portPolicies().fetching(I1)).isFalse();
        // the next connection starts a new round
        assertThatThrownBy(() -> r.route(addr(APP, 80))).isInstanceOf(RaException.class);
        nextCall().answer().complete(""); // tcb_info hidden (public_tcbinfo = false): open, as upstream
        r.portPolicies().fetchRound(I1).get(10, TimeUnit.SECONDS);
        assertThat(ids(r.route(addr(APP, 80)))).containsExactly(I1);
    }

    @Test
    void maxConnectionsPerAppCountsTheCandidatesLiveLeases() throws Exception {
        GatewayRouter r = router(RouteSettings.builder().maxConnectionsPerApp(3));
        instances.put(instance(I1, APP, 1)).put(instance(I2, APP, 2));
        healthy("key1");
        healthy("key2");
        Route route = r.route(addr(APP, 80));
        ConnectionLease a = r.acquire(route.candidates().get(0));
        ConnectionLease b = r.acquire(route.candidates().get(1));
        ConnectionLease c = r.acquire(route.candidates().get(1));
        assertThat(r.connectionCounts()).containsEntry(I2, 2).containsEntry(I1, 1);
        assertThatThrownBy(() -> r.route(addr(APP, 80))).isInstanceOfSatisfying(RaException.class, e -> {
            assertThat(e.raReason()).isEqualTo(RaException.Reason.ROUTE_TOO_MANY_CONNECTIONS);
            assertThat(e.getMessage()).contains("app connection limit exceeded: 3/3");
        });
        c.close();
        c.close(); // idempotent
        assertThat(r.connections(I2)).isEqualTo(1);
        assertThat(r.route(addr(APP, 80)).candidates()).hasSize(2);
        a.close();
        b.close();
        assertThat(r.connectionCounts()).isEmpty();
        // 0 means unlimited
        GatewayRouter unlimited = router(RouteSettings.builder().maxConnectionsPerApp(0));
        for (int i = 0; i < 5; i++) {
            unlimited.acquire(route.candidates().get(0));
        }
        assertThat(unlimited.route(addr(APP, 80)).candidates()).isNotEmpty();
        unlimited.close();
    }

    @Test
    void loopbackTransportMapsTheFirstOctet() {
        assertThat(GatewayRouter.backendAddress(RouteFixtures.ip("10.4.0.2"), true))
                .isEqualTo(RouteFixtures.ip("127.4.0.2"));
        assertThat(GatewayRouter.backendAddress(RouteFixtures.ip("10.4.0.2"), false))
                .isEqualTo(RouteFixtures.ip("10.4.0.2"));
    }

    @Test
    void recyclingRemovesOnlyLongSilentOldRegistrations() {
        GatewayRouter r = router(RouteSettings.builder());
        Instant now = T0.plus(Duration.ofHours(11));
        clock.advance(Duration.between(clock.instant(), now));
        instances.put(instance(I1, APP, 1)); // registered at T0, handshake 11 h ago: recycled
        instances.put(instance(I2, APP, 2)); // registered at T0, handshake 1 h ago: kept
        instances.put(new Instance(I3, APP, "", RouteFixtures.ip("10.4.0.3"), "key3",
                now.minus(Duration.ofHours(1)), Optional.empty())); // registered recently, never seen: kept
        hs.map.put("key1", T0);
        hs.map.put("key2", now.minus(Duration.ofHours(1)));
        assertThat(r.recycleOnce()).containsExactly(I1);
        assertThat(instances.byInstanceId(I1)).isEmpty();
        hs.fail = true;
        clock.advance(Duration.ofDays(2));
        assertThat(r.recycleOnce()).as("no handshake data: nothing removed").isEmpty();
        assertThat(instances.all()).hasSize(2);
    }
}
