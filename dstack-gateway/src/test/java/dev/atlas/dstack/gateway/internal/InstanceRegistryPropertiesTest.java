package dev.atlas.dstack.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.atlas.dstack.gateway.GatewayConfig;
import dev.atlas.dstack.gateway.GatewayConfig.Cidr;
import dev.atlas.dstack.ra.RaException;
import java.net.Inet4Address;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/**
 * Whatever the sequence of registrations, re-registrations and removals: addresses are unique, inside the client
 * range, never the gateway's, a reserved one or the network's broadcast; keys stay unique per instance.
 */
class InstanceRegistryPropertiesTest {
    @Property(tries = 60)
    void addressesStayValidAndUnique(@ForAll @Size(max = 40) List<@IntRange(min = 0, max = 47) Integer> ops,
            @ForAll @IntRange(min = 26, max = 29) int prefix) throws RaException {
        GatewayConfig.Wg wg = GatewayConfig.parse("""
                [core.wg]
                ip = "10.3.0.1/24"
                reserved_net = ["10.3.0.0/30"]
                client_ip_range = "10.3.0.0/%d"
                """.formatted(prefix), Path.of("/tmp")).wg();
        InstanceRegistry r = new InstanceRegistry(wg, Optional.empty(), Clock.systemUTC());
        for (int op : ops) {
            String id = "0" + Integer.toHexString(op % 16);
            byte[] k = new byte[32];
            k[0] = (byte) (op % 24);
            try {
                if (op >= 40) {
                    r.remove(id);
                } else {
                    r.register(id, "a" + (op % 2), "c", Base64.getEncoder().encodeToString(k), Optional.empty());
                }
            } catch (RaException e) {
                assertThat(e.raReason()).isIn(RaException.Reason.REGISTRATION_CONFLICT);
            }
            Set<Inet4Address> seen = new HashSet<>();
            Set<String> keys = new HashSet<>();
            Cidr net = wg.ip().trunc();
            int broadcast = net.networkBits() | (int) (net.size() - 1);
            for (Instance i : r.all()) {
                assertThat(seen.add(i.clientIp())).isTrue();
                assertThat(keys.add(i.publicKey())).isTrue();
                assertThat(wg.clientIpRange().contains(i.clientIp())).isTrue();
                assertThat(i.clientIp()).isNotEqualTo(wg.ip().address());
                assertThat(wg.reservedNet().get(0).contains(i.clientIp())).isFalse();
                assertThat(i.clientIp()).isNotEqualTo(Cidr.fromBits(broadcast));
            }
        }
    }
}
