package dev.atlas.cli;

import dev.atlas.dstack.gateway.certbot.Certbot;
import dev.atlas.dstack.gateway.certbot.CertbotConfig;
import dev.atlas.dstack.gateway.certbot.IssuedCertificate;
import dev.atlas.dstack.ra.RaException;
import java.io.PrintWriter;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code atlas certbot renew [-c certbot.toml] [--once] [--force]}. */
@Command(name = "renew", mixinStandardHelpOptions = true,
        description = {"Obtain the certificate when live/ is empty, renew it when it expires within "
                + "renew_days_before days (or its names differ from domains), then run renewed_hook.",
            "Without --once: check again every renew_interval seconds until Ctrl-C or SIGTERM."})
final class CertbotRenewCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    CertbotConfigOption config;

    @Option(names = "--once", description = "Run one renewal check and exit.")
    boolean once;

    @Option(names = "--force", description = "Renew even when the certificate is not due (the first round only, "
            + "without --once).")
    boolean force;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        CertbotConfig c = config.load();
        Certbot bot = CertbotCommand.certbot(c);
        if (once) {
            Optional<IssuedCertificate> r;
            try {
                r = bot.renew(force);
            } catch (RaException e) {
                throw CertbotCommand.failure("renewal for " + c.domains(), e);
            }
            if (r.isPresent()) {
                out.println("renewed: " + c.liveDir().resolve("cert.pem") + " for " + r.get().domains()
                        + ", not after " + r.get().notAfter());
            } else {
                out.println("up to date: " + c.liveDir().resolve("cert.pem") + bot.current().map(i -> ", not after "
                        + i.notAfter()).orElse(""));
            }
            out.flush();
            return CliErrors.OK;
        }
        AtomicBoolean stop = new AtomicBoolean();
        Thread main = Thread.currentThread();
        Thread hook = new Thread(() -> {
            stop.set(true);
            main.interrupt();
        }, "certbot-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        if (force) {
            try {
                bot.renew(true);
            } catch (RaException e) {
                spec.commandLine().getErr().println("error: " + e.getMessage());
            }
        }
        try {
            bot.run(stop::get);
        } catch (InterruptedException e) {
            // stopped
        }
        return CliErrors.OK;
    }
}
