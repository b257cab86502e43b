package dev.atlas.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.atlas.dstack.gateway.certbot.CertbotConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code atlas certbot}: the template, the refusals and their exit codes (the issuance itself is tested against
 * pebble in dstack-gateway's certbot tests; docs/dstack-certbot.md has a transcript).
 */
class CertbotCommandTest {
    @TempDir
    Path dir;

    @Test
    void cfgPrintsAndWritesTheTemplate() throws Exception {
        CliRun r = CliRun.of("certbot", "cfg");
        assertThat(r.code()).isEqualTo(CliErrors.OK);
        assertThat(r.out()).isEqualTo(CertbotConfig.template()).contains("renew_days_before = 10");
        Path f = dir.resolve("certbot.toml");
        assertThat(CliRun.of("certbot", "cfg", "-w", f.toString()).code()).isEqualTo(CliErrors.OK);
        assertThat(Files.readString(f)).isEqualTo(CertbotConfig.template());
    }

    @Test
    void withoutASubcommandItPrintsUsage() {
        CliRun r = CliRun.of("certbot");
        assertThat(r.code()).isEqualTo(CliErrors.USAGE);
        assertThat(r.err()).contains("renew").contains("init").contains("set-caa").contains("cfg");
    }

    @Test
    void refusalsNameTheKeyOrTheFile() throws Exception {
        CliRun missing = CliRun.of("certbot", "renew", "--once", "-c", dir.resolve("nope.toml").toString());
        assertThat(missing.code()).isEqualTo(CliErrors.USAGE);
        assertThat(missing.err()).contains("nope.toml").contains("-c");
        Path f = Files.writeString(dir.resolve("certbot.toml"), CertbotConfig.template()
                .replace("cf_api_token = \"\"", "cf_api_token = \"tok-secret\"")
                .replace("renew_days_before", "renew_days"));
        CliRun typo = CliRun.of("certbot", "renew", "--once", "-c", f.toString());
        assertThat(typo.code()).isEqualTo(CliErrors.REJECTED);
        assertThat(typo.err()).contains("renew_days: unknown key").doesNotContain("tok-secret");
    }

    @Test
    void anUnreachableAcmeServerIsAnIoFailureAndWritesNothing() throws Exception {
        Path work = dir.resolve("work");
        Path f = Files.writeString(dir.resolve("certbot.toml"), """
                workdir = "%s"
                acme_url = "http://127.0.0.1:1/dir"
                cf_api_token = "tok-secret"
                cf_api_url = "http://127.0.0.1:1/client/v4"
                domains = ["*.example.test"]
                renew_timeout = 5
                """.formatted(work));
        CliRun r = CliRun.of("certbot", "init", "-c", f.toString());
        assertThat(r.code()).isEqualTo(CliErrors.IO);
        assertThat(r.err()).contains("ACME_FAILED").contains("register account").contains("127.0.0.1:1")
                .doesNotContain("tok-secret");
        assertThat(Files.exists(work.resolve("credentials.json"))).isFalse();
    }
}
