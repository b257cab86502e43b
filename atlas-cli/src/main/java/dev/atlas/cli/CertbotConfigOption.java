package dev.atlas.cli;

import dev.atlas.dstack.gateway.certbot.CertbotConfig;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The {@code -c certbot.toml} option the certbot subcommands share (a picocli mixin). */
final class CertbotConfigOption {
    @Option(names = {"-c", "--config"}, paramLabel = "FILE", defaultValue = "certbot.toml",
            description = "dstack's certbot.toml (default: ${DEFAULT-VALUE}).")
    Path config;

    /** The loaded file, or a CLI error naming it. */
    CertbotConfig load() throws CliErrors.CliException {
        return CertbotCommand.load(config);
    }
}
