package dev.atlas.cli;

import dev.atlas.dstack.gateway.certbot.Certbot;
import dev.atlas.dstack.gateway.certbot.CertbotConfig;
import dev.atlas.dstack.gateway.certbot.CloudflareDns;
import dev.atlas.dstack.gateway.certbot.TxtLookup;
import dev.atlas.dstack.ra.RaException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.logging.ConsoleHandler;
import java.util.logging.Formatter;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code atlas certbot renew|init|set-caa|cfg -c certbot.toml}: dstack's standalone certbot (upstream
 * {@code certbot/cli/src/main.rs}) reading dstack's {@code certbot.toml} unchanged.
 */
@Command(name = "certbot", mixinStandardHelpOptions = true,
        description = {"ACME DNS-01 certificates through the Cloudflare API with CAA pinning, from dstack's "
                + "certbot.toml (wire- and file-compatible with dstack's certbot).",
            "Files in workdir: credentials.json (the ACME account), live/cert.pem + live/key.pem (replaced "
                + "atomically), backup/<time>/. See docs/dstack-certbot.md."},
        subcommands = {CertbotRenewCommand.class, CertbotInitCommand.class, CertbotSetCaaCommand.class,
            CertbotCfgCommand.class},
        footer = {"", "Exit codes: 0 done; 1 refused (ACME or the DNS provider said no, bad config); 2 usage or an "
                + "unreadable file; 3 a server could not be reached."})
final class CertbotCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return CliErrors.USAGE;
    }

    /** Loads {@code certbot.toml} (exit 2 when unreadable, 1 when refused). */
    static CertbotConfig load(Path config) throws CliErrors.CliException {
        return ServerConfigs.load(config, "certbot.toml", CertbotConfig::load);
    }

    /** The certbot of a config: the Cloudflare API of {@code cf_api_url}, the system resolvers, the system clock. */
    static Certbot certbot(CertbotConfig c) throws CliErrors.CliException {
        logToStderr();
        Duration perCall = c.renewTimeout().compareTo(Duration.ofSeconds(30)) < 0 ? c.renewTimeout()
                : Duration.ofSeconds(30);
        try {
            return Certbot.create(c, CloudflareDns.create(c.cfApiUrl(), c.cfApiToken(), perCall), TxtLookup.system(),
                    Clock.systemUTC());
        } catch (RaException e) {
            throw ServerConfigs.failure("certbot.toml", e);
        }
    }

    /** A refusal of the certbot, with its reason. */
    static CliErrors.CliException failure(String what, RaException e) {
        return ServerConfigs.failure(what, e);
    }

    /** The certbot's progress as {@code certbot: message} lines on stderr (INFO and up). */
    static void logToStderr() {
        Logger l = Logger.getLogger("dev.atlas.dstack.gateway.certbot");
        if (l.getHandlers().length > 0) {
            return;
        }
        ConsoleHandler h = new ConsoleHandler();
        h.setLevel(Level.INFO);
        h.setFormatter(new Formatter() {
            @Override
            public String format(LogRecord r) {
                String level = r.getLevel().intValue() >= Level.SEVERE.intValue() ? "error: "
                        : r.getLevel().intValue() >= Level.WARNING.intValue() ? "warning: " : "";
                return "certbot: " + level + formatMessage(r) + System.lineSeparator();
            }
        });
        l.addHandler(h);
        l.setLevel(Level.INFO);
        l.setUseParentHandlers(false);
    }
}
