package dev.atlas.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProxyCommandTest {
    @Test
    void checkPrintsTheNormalizedSettingsWithoutTheToken(@TempDir Path dir) throws Exception {
        Path cfg = dir.resolve("proxy.env");
        Path token = dir.resolve("token");
        Files.writeString(token, "a-long-enough-secret-token\n");
        Files.writeString(cfg, "ATLS_PROXY_ALLOWLIST=Example.COM.:443,127.0.0.1:8443\nATLS_PROXY_TOKEN_FILE=" + token + "\n");
        CliRun r = CliRun.of("proxy", "--config", cfg.toString(), "--target", "example.com", "--check");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("allowlist=[example.com:443, 127.0.0.1:8443]")
                .contains("defaultTarget=example.com:443").contains("token=set").doesNotContain("secret");
    }

    @Test
    void refusesADefaultTargetOutsideTheAllowlist() {
        CliRun r = CliRun.of("proxy", "--allowlist", "example.com:443", "--check");
        assertThat(r.code()).isEqualTo(Main.USAGE);
        assertThat(r.err()).contains("127.0.0.1:8443 is not in the allowlist");
    }
}
