package dev.atlas.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code atlas simulate --host-share DIR}: delegates to the simulated guest OS (its boot errors, exit status 2). */
class SimulateHostShareCommandTest {
    @TempDir
    Path dir;

    @Test
    void needsAWorkDirectory() {
        CliRun r = CliRun.of("simulate", "--host-share", dir.toString());
        assertThat(r.code()).isNotZero();
        assertThat(r.err()).contains("--host-share needs --work DIR");
    }

    @Test
    void aHostShareWithoutItsFilesIsABootErrorNamingTheFile() throws Exception {
        Path share = Files.createDirectories(dir.resolve("shared"));
        CliRun r = CliRun.of("simulate", "--host-share", share.toString(), "--work", dir.resolve("work").toString(),
                "--cid", "30000");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("boot error").contains("app-compose.json").contains("missing in the host share");
    }

    @Test
    void aComposeWithAnUnsupportedRunnerIsRefusedByName() throws Exception {
        Path share = Files.createDirectories(dir.resolve("shared"));
        Files.writeString(share.resolve("app-compose.json"),
                "{\"manifest_version\":2,\"name\":\"x\",\"runner\":\"nerdctl-compose\"}");
        Files.writeString(share.resolve(".sys-config.json"), "{\"kms_urls\":[],\"vm_config\":\"{}\"}");
        CliRun r = CliRun.of("simulate", "--host-share", share.toString(), "--work", dir.resolve("work").toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("app-compose.json: runner").contains("unsupported runner nerdctl-compose");
    }
}
