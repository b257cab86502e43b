package dev.atlas.dstack.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.atlas.dstack.gateway.GatewayConfig;
import dev.atlas.dstack.ra.RaException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** §3.3 steps 4-6: {@code new_client_by_id}, {@code alloc_ip}/{@code valid_ip}, re-registration, persistence. */
class InstanceRegistryTest {
    @TempDir
    Path dir;
    final Clock clock = Clock.fixed(Instant.parse("2026-12-07T00:00:00Z"), ZoneOffset.UTC);

    static String key(int n) {
        byte[] b = new byte[32];
        b[0] = (byte) n;
        return Base64.getEncoder().encodeToString(b);
    }

    GatewayConfig.Wg wg(String ip, String reserved, String range) throws RaException {
        return GatewayConfig.parse("""
                [core.wg]
                ip = "%s"
                reserved_net = ["%s"]
                client_ip_range = "%s"
                """.formatted(ip, reserved, range), dir).wg();
    }

    InstanceRegistry registry(GatewayConfig.Wg wg) throws RaException {
        return new InstanceRegistry(wg, Optional.of(InstanceRegistry.stateFileIn(dir.resolve("data"))), clock);
    }

    @Test
    void allocatesTheFirstFreeHostSkippingTheGatewayReservedAndBroadcast() throws Exception {
        // shipped network: 10.0.0.1/24, reserved 10.0.0.1/32, clients from 10.0.0.0/25
        InstanceRegistry r = registry(wg("10.0.0.1/24", "10.0.0.1/32", "10.0.0.0/25"));
        assertThat(r.register("aa", "a1", "c1", key(1), Optional.empty()).clientIp().getHostAddress())
                .isEqualTo("10.0.0.2");
        assertThat(r.register("bb", "a1", "c1", key(2), Optional.empty()).clientIp().getHostAddress())
                .isEqualTo("10.0.0.3");
        // a reserved /30 and a range ending at the network's broadcast
        InstanceRegistry small = new InstanceRegistry(wg("10.1.0.1/29", "10.1.0.0/30", "10.1.0.0/29"),
                Optional.empty(), clock);
        List<String> ips = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            try {
                ips.add(small.register("i" + i, "a", "", key(10 + i), Optional.empty()).clientIp().getHostAddress());
            } catch (RaException e) {
                assertThat(e.raReason()).isEqualTo(RaException.Reason.REGISTRATION_CONFLICT);
                assertThat(e.getMessage()).contains("IP pool exhausted");
            }
        }
        assertThat(ips).containsExactly("10.1.0.4", "10.1.0.5", "10.1.0.6");
    }

    @Test
    void reRegistrationKeepsTheAddressAndUpdatesTheKey() throws Exception {
        InstanceRegistry r = registry(wg("10.0.0.1/24", "10.0.0.1/32", "10.0.0.0/25"));
        List<String> changes = new ArrayList<>();
        r.addListener(changes::add);
        PortPolicy p = new PortPolicy(List.of(new PortPolicy.Port(80, true)), true);
        Instance first = r.register("aa", "a1", "c1", key(1), Optional.of(p));
        Instance again = r.register("aa", "a1", "c1", key(2), Optional.empty());
        assertThat(again.clientIp()).isEqualTo(first.clientIp());
        assertThat(again.publicKey()).isEqualTo(key(2));
        assertThat(again.reportedPolicy()).contains(p); // "None" keeps the cached policy
        Instance upgraded = r.register("aa", "a1", "c2", key(2), Optional.empty());
        assertThat(upgraded.reportedPolicy()).isEmpty(); // a new compose hash invalidates it
        assertThat(changes).containsExactly("a1", "a1", "a1");
        // the old key is free again
        assertThat(r.register("bb", "a1", "c1", key(1), Optional.empty()).clientIp()).isNotEqualTo(first.clientIp());
    }

    @Test
    void refusalsWithDstacksWords() throws Exception {
        InstanceRegistry r = registry(wg("10.0.0.1/24", "10.0.0.1/32", "10.0.0.0/25"));
        r.register("aa", "a1", "c1", key(1), Optional.empty());
        assertThatThrownBy(() -> r.register("bb", "a1", "c1", key(1), Optional.empty()))
                .hasMessageContaining("[bb] WireGuard public key is already registered to another instance");
        assertThatThrownBy(() -> r.register("aa", "a2", "c1", key(3), Optional.empty()))
                .hasMessageContaining("[aa] instance_id is already registered to a different app");
        assertThatThrownBy(() -> r.register("", "a1", "c1", key(4), Optional.empty()))
                .hasMessageContaining("instance_id is empty");
        assertThatThrownBy(() -> r.register("cc", "", "c1", key(4), Optional.empty()))
                .hasMessageContaining("[cc] app id is empty");
        assertThatThrownBy(() -> r.register("cc", "a1", "c1", "", Optional.empty()))
                .hasMessageContaining("public_key is empty");
        assertThatThrownBy(() -> r.register("cc", "a1", "c1", "!!!", Optional.empty()))
                .hasMessageContaining("invalid WireGuard public key encoding");
        assertThatThrownBy(() -> r.register("cc", "a1", "c1", "c2hvcnQ=", Optional.empty()))
                .hasMessageContaining("WireGuard public key must decode to 32 bytes");
        assertThat(r.all()).hasSize(1);
        assertThat(r.byInstanceId("aa").orElseThrow().appId()).isEqualTo("a1");
    }

    @Test
    void registrationsSurviveARestartAndRemovalFreesTheAddress() throws Exception {
        GatewayConfig.Wg net = wg("10.0.0.1/24", "10.0.0.1/32", "10.0.0.0/25");
        InstanceRegistry r = registry(net);
        PortPolicy p = new PortPolicy(List.of(new PortPolicy.Port(443, false)), false);
        Instance a = r.register("aa", "a1", "c1", key(1), Optional.of(p));
        r.register("bb", "a2", "c2", key(2), Optional.empty());
        InstanceRegistry restarted = registry(net);
        assertThat(restarted.all()).containsExactlyElementsOf(r.all());
        assertThat(restarted.byInstanceId("aa")).contains(a);
        assertThat(restarted.byAppId("a2")).hasSize(1);
        assertThat(restarted.remove("aa")).contains(a);
        assertThat(restarted.register("cc", "a3", "", key(3), Optional.empty()).clientIp()).isEqualTo(a.clientIp());
        // a file that is not ours is refused, never half-read
        Files.writeString(InstanceRegistry.stateFileIn(dir.resolve("data")), "{\"version\":1,\"instances\":[{}]}");
        assertThatThrownBy(() -> registry(net)).isInstanceOf(RaException.class)
                .hasMessageContaining("malformed entry");
        Files.writeString(InstanceRegistry.stateFileIn(dir.resolve("data")), "{\"version\":1,\"instances\":[]} x");
        assertThatThrownBy(() -> registry(net)).hasMessageContaining("cannot be read as JSON");
    }

    @Test
    void anAddressOutsideANewRangeIsDroppedAtLoadAndReallocated() throws Exception {
        InstanceRegistry r = registry(wg("10.0.0.1/24", "10.0.0.1/32", "10.0.0.0/25"));
        r.register("aa", "a1", "c1", key(1), Optional.empty());
        InstanceRegistry moved = registry(wg("10.0.0.1/24", "10.0.0.1/32", "10.0.0.128/25"));
        assertThat(moved.all()).isEmpty();
        assertThat(moved.register("aa", "a1", "c1", key(1), Optional.empty()).clientIp().getHostAddress())
                .isEqualTo("10.0.0.129");
    }
}
