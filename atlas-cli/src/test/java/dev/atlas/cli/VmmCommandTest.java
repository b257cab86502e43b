package dev.atlas.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code atlas vmm}: the refusals before anything listens, with their exit codes. */
class VmmCommandTest {
    @TempDir
    Path dir;

    @Test
    void anUnreadableConfigIsAUsageError() {
        CliRun r = CliRun.of("vmm", "-c", dir.resolve("nope.toml").toString());
        assertThat(r.code()).isEqualTo(CliErrors.USAGE);
        assertThat(r.err()).contains("nope.toml").contains("-c");
    }

    @Test
    void anOffHostAddressWithoutAuthIsRefusedAfterTheWarnings() throws Exception {
        Path f = Files.writeString(dir.resolve("vmm.toml"), "address = \"tcp:0.0.0.0:0\"\nimage_path = \"img\"\n"
                + "run_path = \"run\"\n[cvm]\nbackend = \"simulator\"\n");
        CliRun r = CliRun.of("vmm", "-c", f.toString());
        assertThat(r.err()).contains("warning: image_path: deprecated");
        assertThat(r.err()).contains("auth.enabled").contains("reachable off-host");
        assertThat(r.code()).isEqualTo(CliErrors.REJECTED);
    }

    @Test
    void anUnknownBackendIsAUsageError() throws Exception {
        Path f = Files.writeString(dir.resolve("vmm.toml"), "address = \"unix:./vmm.sock\"\n");
        CliRun r = CliRun.of("vmm", "-c", f.toString(), "--backend", "docker");
        assertThat(r.code()).isEqualTo(CliErrors.USAGE);
        assertThat(r.err()).contains("--backend must be qemu or simulator");
    }
}
