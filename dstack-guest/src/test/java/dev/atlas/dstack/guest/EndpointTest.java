package dev.atlas.dstack.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The endpoint lookup as a table: explicit, env (injected), socket probes (injected). */
class EndpointTest {
    static Stream<Arguments> table() {
        Set<String> none = Set.of();
        Set<String> both = Set.of("/var/run/dstack/dstack.sock", "/var/run/dstack.sock");
        return Stream.of(
                Arguments.of("/x.sock", Map.of("DSTACK_AGENT_ADDRESS", "unix:/a.sock"), both, "unix:/x.sock"),
                Arguments.of("http://h:1", Map.of(), none, "http://h:1"),
                Arguments.of("unix:/y.sock", Map.of(), none, "unix:/y.sock"),
                Arguments.of(null, Map.of("DSTACK_AGENT_ADDRESS", "unix:/a.sock", "DSTACK_SIMULATOR_ENDPOINT", "/s.sock"),
                        both, "unix:/a.sock"),
                Arguments.of(null, Map.of("DSTACK_AGENT_ADDRESS", "", "DSTACK_SIMULATOR_ENDPOINT", "/s.sock"), both,
                        "unix:/s.sock"),
                Arguments.of(null, Map.of("DSTACK_SIMULATOR_ENDPOINT", "http://127.0.0.1:8090"), both,
                        "http://127.0.0.1:8090"),
                Arguments.of(null, Map.of("DSTACK_SIMULATOR_ENDPOINT", "https://sim.example/base"), both,
                        "https://sim.example/base"),
                Arguments.of(null, Map.of(), both, "unix:/var/run/dstack/dstack.sock"),
                Arguments.of(null, Map.of(), Set.of("/var/run/dstack.sock"), "unix:/var/run/dstack.sock"),
                Arguments.of(null, Map.of(), Set.of("/run/dstack/dstack.sock", "/run/dstack.sock"),
                        "unix:/run/dstack/dstack.sock"),
                Arguments.of(null, Map.of(), Set.of("/run/dstack.sock"), "unix:/run/dstack.sock"),
                Arguments.of(null, Map.of(), none, "unix:/var/run/dstack/dstack.sock"));
    }

    @ParameterizedTest
    @MethodSource("table")
    void lookup(String explicit, Map<String, String> env, Set<String> existing, String expected) {
        Endpoint e = Endpoint.resolve(explicit, env, p -> existing.contains(p.toString()));
        assertThat(e.toString()).isEqualTo(expected);
        DstackClient c = DstackClient.builder().environment(env).socketProbe(p -> existing.contains(p.toString()))
                .build();
        if (explicit == null) {
            assertThat(c.endpoint()).isEqualTo(e);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "unix:", "http://", "ftp://x/", "http://u@h/", "http://h/?q=1", "http://h/#f"})
    void rejected(String s) {
        assertThatThrownBy(() -> Endpoint.parse(s)).isInstanceOf(IllegalArgumentException.class);
    }

    @ParameterizedTest
    @ValueSource(strings = {"ftp://x/", "http://h/?q"})
    void rejectedWithPath(String s) {
        assertThat(Endpoint.parse("relative.sock").socket()).isEqualTo(Path.of("relative.sock"));
        assertThatThrownBy(() -> Endpoint.parse(s)).isInstanceOf(IllegalArgumentException.class);
    }
}
