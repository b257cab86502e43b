package dev.atlas.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code atlas kms}: the refusals before anything listens, with their exit codes. */
class KmsCommandTest {
    @TempDir
    Path dir;

    @Test
    void anUnreadableConfigIsAUsageError() {
        CliRun r = CliRun.of("kms", "-c", dir.resolve("nope.toml").toString());
        assertThat(r.code()).isEqualTo(CliErrors.USAGE);
        assertThat(r.err()).contains("nope.toml").contains("-c");
    }

    @Test
    void aRefusedConfigNamesTheKeyAndExits1() throws Exception {
        Path f = Files.writeString(dir.resolve("kms.toml"), "[core.attestation.root_ca]\ntdx = \"/r.pem\"\n");
        CliRun r = CliRun.of("kms", "-c", f.toString());
        assertThat(r.code()).isEqualTo(CliErrors.REJECTED);
        assertThat(r.err()).contains("core.attestation.root_ca").contains("external attestation trust anchors are "
                + "configured but insecure_allow_external_trust_anchors is false");
    }

    @Test
    void warningsComeFirstAndAMissingCertDirStopsTheStart() throws Exception {
        Path f = Files.writeString(dir.resolve("kms.toml"), "[core]\ncert_dir = \"" + dir.resolve("missing")
                + "\"\nshiny = 1\n");
        CliRun r = CliRun.of("kms", "-c", f.toString());
        assertThat(r.err()).contains("warning: core.shiny: unknown key, ignored");
        assertThat(r.err()).contains("core.cert_dir");
        assertThat(r.code()).isEqualTo(CliErrors.REJECTED);
    }
}
