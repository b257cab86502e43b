package dev.atlas.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The shared option mixins appear, with one wording, on every command that takes them. */
class CliOptionsTest {
    @Test
    void rootCaIsTheSameOptionOnGetAndBenchVerify() {
        for (String[] help : new String[][] {{"get", "--help"}, {"bench", "verify", "--help"}}) {
            CliRun r = CliRun.of(help);
            assertThat(r.code()).as(String.join(" ", help)).isZero();
            assertThat(r.out()).contains("--root-ca=FILE").contains("TESTING ONLY: trust this Intel root");
        }
    }

    @Test
    void aMixinOptionWithoutItsValueIsAUsageError() {
        CliRun r = CliRun.of("bench", "verify", "q.bin", "c.json", "--root-ca");
        assertThat(r.code()).isEqualTo(Main.USAGE);
        assertThat(r.err()).contains("--root-ca");
    }
}
