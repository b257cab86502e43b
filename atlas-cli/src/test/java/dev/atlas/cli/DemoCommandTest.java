package dev.atlas.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code atlas demo}'s cheap paths. The whole demo (a devnet, the attestation through the gateway, the four attacks)
 * runs once per CI run inside {@code devnet.DevNetEndToEndTest} ({@code demo --json --devnet DIR}), because a devnet
 * costs tens of seconds on 2 cores; {@code ./atlas demo} itself is timed by hand (see the issue 21 report).
 */
class DemoCommandTest {
    private static final ObjectMapper M = new ObjectMapper();

    @Test
    void aDirectoryWithoutADevnetIsAUsageErrorNamingIt(@TempDir Path dir) throws Exception {
        CliRun r = CliRun.of("demo", "--devnet", dir.toString());
        assertThat(r.code()).as(r.err()).isEqualTo(2);
        assertThat(r.out()).isEmpty();
        assertThat(r.err()).contains("no devnet in " + dir.toAbsolutePath(), "atlas dev up --dir")
                .doesNotContain("Exception", "at dev.atlas");

        CliRun j = CliRun.of("demo", "--json", "--devnet", dir.toString());
        assertThat(j.code()).isEqualTo(2);
        List<String> lines = j.out().lines().toList();
        assertThat(lines).hasSize(1);
        JsonNode doc = M.readTree(lines.get(0));
        assertThat(doc.get("ok").asBoolean()).isFalse();
        assertThat(doc.get("error").get("kind").asText()).isEqualTo("STATE");
        assertThat(doc.get("error").get("component").asText()).isEqualTo("devnet");
    }

    @Test
    void shellWordsSplitsTheAttestCommandLine() {
        assertThat(DemoCommand.shellWords("A='x y' atlas get https://h/ --policy '/tmp/a b/p.json' --root-ca \"r\\\"c\" z\\ w"))
                .containsExactly("A=x y", "atlas", "get", "https://h/", "--policy", "/tmp/a b/p.json", "--root-ca",
                        "r\"c", "z w");
        assertThat(DemoCommand.shellWords("  ")).isEmpty();
        assertThat(DemoCommand.shellWords("''")).containsExactly("");
    }
}
