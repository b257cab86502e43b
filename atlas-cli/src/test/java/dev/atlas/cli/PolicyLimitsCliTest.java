package dev.atlas.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code atlas policy check} applies the library's limits (the same validation as every verification). */
class PolicyLimitsCliTest {
    @TempDir
    Path tmp;

    @Test
    void policyCheckRefusesAGracePeriodOverTheMaximumAndAcceptsTheMaximum() throws Exception {
        String base = "{\"type\":\"dstack_tdx\",\"disable_runtime_verification\":true,"
                + "\"allowed_tcb_status\":[\"UpToDate\",\"OutOfDate\"],\"grace_period\":";
        for (String g : new String[] {"9223372036854775807", "31536001"}) {
            Path bad = tmp.resolve("grace-" + g + ".json");
            Files.writeString(bad, base + g + "}");
            CliRun no = CliRun.of("policy", "check", bad.toString());
            assertThat(no.code()).as(no.out() + no.err()).isEqualTo(1);
            assertThat(no.err()).contains("grace_period", g, "maximum is 31536000 s");
        }
        Path max = tmp.resolve("grace-max.json");
        Files.writeString(max, base + "31536000}");
        CliRun ok = CliRun.of("policy", "check", max.toString());
        assertThat(ok.code()).as(ok.err()).isZero();
    }
}
