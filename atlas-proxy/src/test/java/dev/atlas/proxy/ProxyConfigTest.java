package dev.atlas.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Settings: Atlas's environment, the config file, overrides, and every refusal at start. */
class ProxyConfigTest {
    @Test
    void atlasEnvironmentWithDefaults() throws Exception {
        ProxyConfig c = ProxyConfigReader.load(Map.of("ATLS_PROXY_ALLOWLIST", " 127.0.0.1:8443 , ,example.com:443",
                "PATH", "/usr/bin", "OTHER_VAR", "x"), null, Map.of());
        assertThat(c.listen().getHostString()).isEqualTo("127.0.0.1");
        assertThat(c.listen().getPort()).isEqualTo(9000);
        assertThat(c.defaultTarget().orElseThrow().toString()).isEqualTo("127.0.0.1:8443");
        assertThat(c.allowlist()).extracting(Object::toString).containsExactly("127.0.0.1:8443", "example.com:443");
        assertThat(c.tokenRequired()).isFalse();
        assertThat(c.maxFrameBytes()).isEqualTo(1 << 20);
        assertThat(c.maxMessageBytes()).isEqualTo(64L << 20);
        assertThat(c.idleTimeout()).isEqualTo(Duration.ofMinutes(5));
    }

    @Test
    void refusesToStartWhenTheDefaultTargetIsNotAllowlisted() {
        assertThatThrownBy(() -> ProxyConfigReader.load(Map.of("ATLS_PROXY_ALLOWLIST", "example.com:443"), null, Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("127.0.0.1:8443")
                .hasMessageContaining("not in the allowlist");
        assertThatThrownBy(() -> ProxyConfigReader.load(Map.of("ATLS_PROXY_ALLOWLIST", ""), null, Map.of()))
                .hasMessageContaining("not in the allowlist");
        assertThatThrownBy(() -> ProxyConfigReader.load(Map.of(), null, Map.of()))
                .hasMessageContaining("ATLS_PROXY_ALLOWLIST is required");
    }

    @Test
    void anEmptyAllowlistWithoutDefaultTargetStartsAndRefusesEverything() throws Exception {
        ProxyConfig c = ProxyConfigReader.load(Map.of("ATLS_PROXY_ALLOWLIST", "", "ATLS_PROXY_TARGET", ""), null, Map.of());
        assertThat(c.allowlist()).isEmpty();
        assertThat(c.allows(TargetAddress.parse("127.0.0.1:8443"))).isFalse();
    }

    @Test
    void fileOverridesEnvironmentAndFlagsOverrideFile(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("proxy.env");
        Files.writeString(f, """
                # comment
                ATLS_PROXY_ALLOWLIST=a.example:443,b.example:443
                ATLS_PROXY_TARGET="a.example:443"
                ATLS_PROXY_IDLE_TIMEOUT=90s
                ATLS_PROXY_MAX_FRAME_BYTES=64KiB
                """);
        ProxyConfig c = ProxyConfigReader.load(Map.of("ATLS_PROXY_ALLOWLIST", "x.example:1", "ATLS_PROXY_LISTEN",
                "0.0.0.0:9100"), f, Map.of("ATLS_PROXY_TARGET", "b.example"));
        assertThat(c.listen().getPort()).isEqualTo(9100);
        assertThat(c.allowlist()).extracting(Object::toString).containsExactly("a.example:443", "b.example:443");
        assertThat(c.defaultTarget().orElseThrow().toString()).isEqualTo("b.example:443");
        assertThat(c.idleTimeout()).isEqualTo(Duration.ofSeconds(90));
        assertThat(c.maxFrameBytes()).isEqualTo(65536);
    }

    @Test
    void fileRefusesUnknownAndRepeatedKeys(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("p.env");
        Files.writeString(f, "ATLS_PROXY_ALLOWLIST=a:1\nATLS_PROXY_ALOWLIST=b:1\n");
        assertThatThrownBy(() -> ProxyConfigReader.load(Map.of(), f, Map.of())).hasMessageContaining(":2: unknown setting");
        Files.writeString(f, "ATLS_PROXY_ALLOWLIST=a:1\nATLS_PROXY_ALLOWLIST=b:1\n");
        assertThatThrownBy(() -> ProxyConfigReader.load(Map.of(), f, Map.of())).hasMessageContaining("given twice");
        Files.writeString(f, "just words\n");
        assertThatThrownBy(() -> ProxyConfigReader.load(Map.of(), f, Map.of())).hasMessageContaining("KEY=VALUE");
    }

    @Test
    void tokenFromFileIsHashedAndComparedWhole(@TempDir Path dir) throws Exception {
        Path t = dir.resolve("token");
        Files.writeString(t, "0123456789abcdef-token\n");
        ProxyConfig c = ProxyConfigReader.load(Map.of("ATLS_PROXY_ALLOWLIST", "127.0.0.1:8443", "ATLS_PROXY_TOKEN_FILE",
                t.toString()), null, Map.of());
        assertThat(c.tokenRequired()).isTrue();
        assertThat(c.tokenMatches("0123456789abcdef-token")).isTrue();
        assertThat(c.tokenMatches("0123456789abcdef-toke")).isFalse();
        assertThat(c.tokenMatches("0123456789abcdef-token ")).isFalse();
        assertThat(c.tokenMatches(null)).isFalse();
        assertThat(c.toString()).contains("token=set").doesNotContain("abcdef");
        assertThatThrownBy(() -> ProxyConfigReader.load(Map.of("ATLS_PROXY_ALLOWLIST", "127.0.0.1:8443",
                "ATLS_PROXY_TOKEN", "short"), null, Map.of())).hasMessageContaining("at least 16");
        assertThatThrownBy(() -> ProxyConfigReader.load(Map.of("ATLS_PROXY_ALLOWLIST", "127.0.0.1:8443",
                "ATLS_PROXY_TOKEN", "0123456789abcdef", "ATLS_PROXY_TOKEN_FILE", t.toString()), null, Map.of()))
                .hasMessageContaining("not both");
    }

    @Test
    void badValuesNameTheirSetting() {
        String[][] bad = {
            {"ATLS_PROXY_ALLOWLIST", "user@host:1"}, {"ATLS_PROXY_LISTEN", "nowhere"},
            {"ATLS_PROXY_ALLOWED_CIDRS", "10.0.0.1/8"}, {"ATLS_PROXY_ALLOWED_CIDRS", "10.1/8"},
            {"ATLS_PROXY_MAX_TUNNELS", "-1"}, {"ATLS_PROXY_IDLE_TIMEOUT", "soon"},
            {"ATLS_PROXY_MAX_FRAME_BYTES", "0"}, {"ATLS_PROXY_RATE_PER_CLIENT", "NaN"},
            {"ATLS_PROXY_TLS_CERT", "/x.pem"}, {"ATLS_PROXY_ALLOWED_ORIGINS", "https://a.example/"},
        };
        for (String[] b : bad) {
            java.util.Map<String, String> env = new java.util.HashMap<>(Map.of("ATLS_PROXY_ALLOWLIST", "127.0.0.1:8443"));
            env.put(b[0], b[1]);
            assertThatThrownBy(() -> ProxyConfigReader.load(env, null, Map.of())).as(b[0] + "=" + b[1])
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(b[0].equals("ATLS_PROXY_TLS_CERT")
                            ? "ATLS_PROXY_TLS_KEY" : b[0]);
        }
        assertThatThrownBy(() -> ProxyConfigReader.load(Map.of("ATLS_PROXY_ALLOWLIST", "127.0.0.1:8443"), null,
                Map.of("ATLS_PROXY_NOPE", "1"))).hasMessageContaining("unknown setting");
    }

    @Test
    void ipRanges() throws Exception {
        IpRange r = IpRange.parse("10.0.0.0/8");
        assertThat(r.contains(InetAddress.getByName("10.255.0.1"))).isTrue();
        assertThat(r.contains(InetAddress.getByName("11.0.0.1"))).isFalse();
        assertThat(r.contains(InetAddress.getByName("::1"))).isFalse();
        assertThat(IpRange.parse("fd00::/8").contains(InetAddress.getByName("fd12::1"))).isTrue();
        assertThat(IpRange.parse("127.0.0.1").contains(InetAddress.getByName("127.0.0.1"))).isTrue();
        assertThat(IpRange.parse("0.0.0.0/0").contains(InetAddress.getByName("8.8.8.8"))).isTrue();
        for (String bad : new String[] {"10.0.0.0/33", "10.0.0.0/", "10.0.0.1/8", "example.com/8", "10/8", "::/129"}) {
            assertThatThrownBy(() -> IpRange.parse(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void toBuilderKeepsEveryValueAndChangesOnlyWhatIsSet() throws Exception {
        ProxyConfig c = ProxyConfigReader.load(Map.of("ATLS_PROXY_ALLOWLIST", "127.0.0.1:8443,example.com:443",
                "ATLS_PROXY_TOKEN", "0123456789abcdef-token", "ATLS_PROXY_ALLOWED_CIDRS", "10.0.0.0/8",
                "ATLS_PROXY_IDLE_TIMEOUT", "7s", "ATLS_PROXY_MAX_TUNNELS", "12"), null, Map.of());
        assertThat(c.toBuilder().build().toSettings()).isEqualTo(c.toSettings());
        assertThat(c.toBuilder().build().tokenMatches("0123456789abcdef-token")).isTrue();
        ProxyConfig changed = c.toBuilder().maxTunnels(3).build();
        assertThat(changed.maxTunnels()).isEqualTo(3);
        assertThat(changed.idleTimeout()).isEqualTo(java.time.Duration.ofSeconds(7));
        assertThat(changed.allowlist()).isEqualTo(c.allowlist());
        assertThat(c.maxTunnels()).isEqualTo(12);
    }
}
