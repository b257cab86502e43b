package dev.atlas.dstack.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.dstack.ra.RaException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

/** PortPolicy's proto JSON and the Worker.Info tcb_info reading (upstream port_policy.rs tests' cases). */
class PortPolicyTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static JsonNode json(String s) throws Exception {
        return JSON.readTree(s);
    }

    @Test
    void theProtoJsonForm() throws Exception {
        PortPolicy p = PortPolicy.fromJson(json("{\"ports\":[{\"port\":443,\"pp\":true},{\"port\":8080}],"
                + "\"restrict_mode\":true,\"future_field\":1}"), "port_policy");
        assertThat(p.restrictMode()).isTrue();
        assertThat(p.proxyProtocol(443)).isTrue();
        assertThat(p.proxyProtocol(8080)).isFalse();
        assertThat(p.allows(8080)).isTrue();
        assertThat(p.allows(80)).isFalse();
        assertThat(p.toJson().toString())
                .isEqualTo("{\"ports\":[{\"port\":443,\"pp\":true},{\"port\":8080,\"pp\":false}],\"restrict_mode\":true}");
        assertThat(PortPolicy.fromJson(json("{}"), "p")).isEqualTo(PortPolicy.OPEN);
        assertThat(PortPolicy.OPEN.allows(1)).isTrue();
        // a port listed twice keeps its last entry
        assertThat(PortPolicy.fromJson(json("{\"ports\":[{\"port\":1,\"pp\":true},{\"port\":1}]}"), "p").ports())
                .containsExactly(new PortPolicy.Port(1, false));
    }

    @Test
    void wrongTypesAndValuesNameTheField() {
        record Bad(String json, String field, RaException.Reason reason) {}
        for (Bad b : List.of(
                new Bad("[]", "p", RaException.Reason.WRONG_TYPE),
                new Bad("{\"restrict_mode\":\"true\"}", "p.restrict_mode", RaException.Reason.WRONG_TYPE),
                new Bad("{\"ports\":{}}", "p.ports", RaException.Reason.WRONG_TYPE),
                new Bad("{\"ports\":[1]}", "p.ports[0]", RaException.Reason.WRONG_TYPE),
                new Bad("{\"ports\":[{\"port\":\"80\"}]}", "p.ports[0].port", RaException.Reason.WRONG_TYPE),
                new Bad("{\"ports\":[{\"port\":80.5}]}", "p.ports[0].port", RaException.Reason.WRONG_TYPE),
                new Bad("{\"ports\":[{\"port\":65536}]}", "p.ports[0].port", RaException.Reason.INVALID_ARGUMENT),
                new Bad("{\"ports\":[{\"port\":-1}]}", "p.ports[0].port", RaException.Reason.INVALID_ARGUMENT),
                new Bad("{\"ports\":[{\"port\":1,\"pp\":1}]}", "p.ports[0].pp", RaException.Reason.WRONG_TYPE))) {
            assertThatThrownBy(() -> PortPolicy.fromJson(json(b.json()), "p")).as(b.json())
                    .isInstanceOfSatisfying(RaException.class, e -> {
                        assertThat(e.raReason()).isEqualTo(b.reason());
                        assertThat(e.field()).isEqualTo(b.field());
                    });
        }
        StringBuilder many = new StringBuilder("{\"ports\":[");
        for (int i = 0; i <= PortPolicy.MAX_PORTS; i++) {
            many.append(i == 0 ? "" : ",").append("{\"port\":").append(i % 65536).append('}');
        }
        assertThatThrownBy(() -> PortPolicy.fromJson(json(many + "]}"), "p")).isInstanceOfSatisfying(
                RaException.class, e -> assertThat(e.raReason()).isEqualTo(RaException.Reason.LIMIT_EXCEEDED));
    }

    private static String sha256(String s) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void tcbInfoPolicies() throws Exception {
        String compose = "{\"manifest_version\":\"3\",\"name\":\"port-policy-fixture\",\"runner\":\"docker-compose\","
                + "\"gateway_enabled\":true,\"port_policy\":{\"restrict_mode\":true,\"ports\":[{\"port\":443,\"pp\":true},"
                + "{\"port\":8080,\"pp\":false}]}}";
        String tcb = JSON.createObjectNode().put("app_compose", compose).toString();
        PortPolicy p = PortPolicies.parseTcbInfo(tcb, sha256(compose));
        assertThat(p.restrictMode()).isTrue();
        assertThat(p.proxyProtocol(443)).isTrue();
        assertThat(p.allows(8080)).isTrue();
        assertThat(p.allows(80)).isFalse();
        // legacy: empty tcb_info (public_tcbinfo = false) is the open policy, as upstream
        assertThat(PortPolicies.parseTcbInfo("", "ab")).isEqualTo(PortPolicy.OPEN);
        // no port_policy in the compose: open
        String plain = "{\"name\":\"x\"}";
        assertThat(PortPolicies.parseTcbInfo(JSON.createObjectNode().put("app_compose", plain).toString(), ""))
                .isEqualTo(PortPolicy.OPEN);
        // one-mutation failures, each permanent
        for (String bad : List.of("not-json", "{\"other\":\"value\"}", "{\"app_compose\":\"bad\"}",
                "{\"app_compose\":1}", "[]")) {
            assertThatThrownBy(() -> PortPolicies.parseTcbInfo(bad, "")).as(bad)
                    .isInstanceOf(PortPolicies.PermanentFetchFailure.class);
        }
        assertThatThrownBy(() -> PortPolicies.parseTcbInfo(tcb, sha256(compose + " ")))
                .isInstanceOf(PortPolicies.PermanentFetchFailure.class)
                .hasMessageContaining("not the registered compose_hash");
    }

    @Property(tries = 50)
    void jsonRoundTrip(@ForAll @Size(max = 20) List<@IntRange(min = 0, max = 65535) Integer> ports,
                       @ForAll boolean restrict, @ForAll boolean pp) throws Exception {
        PortPolicy p = new PortPolicy(ports.stream().map(n -> new PortPolicy.Port(n, pp ^ (n % 2 == 0))).toList(),
                restrict);
        assertThat(PortPolicy.fromJson(json(p.toJson().toString()), "p")).isEqualTo(p);
        for (int port : ports) {
            assertThat(p.allows(port)).isTrue();
        }
        int absent = 0;
        while (ports.contains(absent)) {
            absent++;
        }
        assertThat(p.allows(absent)).isEqualTo(!restrict);
    }
}
