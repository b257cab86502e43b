package dev.atlas.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AuthServerCommandTest {
    @Test
    void checkListsWhatTheConfigAllows(@TempDir Path dir) throws Exception {
        Path cfg = dir.resolve("auth-config.json");
        Files.writeString(cfg, """
                {"osImages": ["0x%s"], "kms": {"mrAggregated": ["0x%s"], "allowAnyDevice": true},
                 "apps": {"0x%s": {"composeHashes": ["0x%s"], "devices": []}}}"""
                .formatted("aa".repeat(32), "ee".repeat(32), "11".repeat(20), "cc".repeat(32)));
        CliRun r = CliRun.of("auth-server", "check", cfg.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("app 0x" + "11".repeat(20)).contains("0x" + "cc".repeat(32))
                .contains("auth-simple then allows every device").contains("valid");
        CliRun strict = CliRun.of("auth-server", "check", "--strict", cfg.toString());
        assertThat(strict.code()).isZero();
        assertThat(strict.out()).contains("NONE (strict mode: an empty list denies)");
    }

    @Test
    void checkRefusesABrokenFileAndMockInProduction(@TempDir Path dir) throws Exception {
        Path cfg = dir.resolve("bad.json");
        Files.writeString(cfg, "{\"osImages\": \"aa\"}");
        CliRun r = CliRun.of("auth-server", "check", cfg.toString());
        assertThat(r.code()).isEqualTo(Main.VERIFICATION_FAILED);
        assertThat(r.err()).contains("osImages: expected an array of strings").contains("deny every request");
        CliRun mock = CliRun.of("auth-server", "--mock-policy", "allow-all", "--production", "--port", "0");
        assertThat(mock.code()).isEqualTo(Main.USAGE);
        assertThat(mock.err()).contains("refused in production");
    }

    @Test
    void settleWindowOutOfRangeNamesTheOption(@TempDir Path dir) throws Exception {
        Path cfg = dir.resolve("auth-config.json");
        Files.writeString(cfg, "{}");
        CliRun r = CliRun.of("auth-server", "--config", cfg.toString(), "--port", "0", "--config-settle-ms", "1");
        assertThat(r.code()).isEqualTo(Main.USAGE);
        assertThat(r.err()).contains("--config-settle-ms 1").contains("from 10 ms to 5000 ms");
    }
}
