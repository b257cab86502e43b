package dev.atlas.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code atlas gateway}: the refusals before anything listens, with their exit codes. */
class GatewayCommandTest {
    @TempDir
    Path dir;

    @Test
    void anUnreadableConfigIsAUsageError() {
        CliRun r = CliRun.of("gateway", "-c", dir.resolve("nope.toml").toString());
        assertThat(r.code()).isEqualTo(CliErrors.USAGE);
        assertThat(r.err()).contains("nope.toml").contains("-c");
    }

    @Test
    void aRefusedConfigNamesTheKeyAndExits1() throws Exception {
        Path f = Files.writeString(dir.resolve("gateway.toml"), "[core.wg]\nclient_ip_range = \"10.9.0.0/25\"\n");
        CliRun r = CliRun.of("gateway", "-c", f.toString());
        assertThat(r.code()).isEqualTo(CliErrors.REJECTED);
        assertThat(r.err()).contains("core.wg.client_ip_range").contains("Client IP range is not in the network");
    }

    @Test
    void warningsComeFirstAndAnAdminWithoutTokenStopsTheStart() throws Exception {
        Path f = Files.writeString(dir.resolve("gateway.toml"), """
                [core]
                shiny = 1
                [core.admin]
                enabled = true
                [core.debug]
                insecure_skip_attestation = true
                """);
        CliRun r = CliRun.of("gateway", "-c", f.toString());
        assertThat(r.err()).contains("warning: core.shiny: unknown key, ignored");
        assertThat(r.err()).contains("core.admin.auth_token").contains("neither a token nor an htpasswd file");
        assertThat(r.code()).isEqualTo(CliErrors.REJECTED);
    }
}
