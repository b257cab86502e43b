package dev.atlas.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MainTest {
    private static Path samples() {
        Path p = Path.of(System.getProperty("atlas.shared.dir", "../../shared"), "testdata", "dcap");
        assumeTrue(Files.isDirectory(p), "../shared/testdata is absent: skipping CLI tests on real samples");
        return p;
    }

    private static CliRun run(String... args) {
        return CliRun.of(args);
    }

    @Test
    void verify_tdxSample_json_exit0() {
        Path s = samples();
        CliRun r = run("quote", "verify", s.resolve("tdx_quote").toString(), s.resolve("tdx_quote_collateral.json").toString(),
                "--at", "1752919234", "--json");
        assertThat(r.code()).isZero();
        assertThat(r.out()).startsWith("{\"status\":\"UpToDate\",\"advisory_ids\":[]");
    }

    @Test
    void verify_sgxSample_exit0_withAdvisories() {
        Path s = samples();
        CliRun r = run("quote", "verify", s.resolve("sgx_quote").toString(), s.resolve("sgx_quote_collateral.json").toString(),
                "--at", "1752919277", "--json");
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("\"status\":\"ConfigurationAndSWHardeningNeeded\"")
                .contains("\"advisory_ids\":[\"INTEL-SA-00289\",\"INTEL-SA-00615\"]");
    }

    @Test
    void verify_outdatedSample_exit1_withReason() {
        Path s = samples();
        CliRun r = run("quote", "verify", s.resolve("tdx_quote_outdated").toString(),
                s.resolve("tdx_quote_outdated_collateral.json").toString(), "--at", "1774003274");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("NO_MATCHING_TCB_LEVEL");
    }

    @Test
    void verify_hexQuoteIsDetected() {
        Path s = samples();
        // The hex samples have no collateral: parsing succeeds, verification fails on the (unrelated) sample's FMSPC.
        CliRun r = run("quote", "verify", s.resolve("tdx-quote.hex").toString(), s.resolve("tdx_quote_collateral.json").toString(),
                "--at", "1752919234");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).doesNotContain("MALFORMED_QUOTE");
    }

    @Test
    void unreadableFile_exit2(@TempDir Path dir) {
        CliRun r = run("quote", "verify", dir.resolve("missing").toString(), dir.resolve("missing.json").toString());
        assertThat(r.code()).isEqualTo(2);
    }

    @Test
    void usageError_exit2() {
        assertThat(run("quote", "verify").code()).isEqualTo(2);
    }
}
