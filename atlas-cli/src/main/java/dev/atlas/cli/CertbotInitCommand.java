package dev.atlas.cli;

import dev.atlas.dstack.gateway.certbot.AcmeCredentials;
import dev.atlas.dstack.gateway.certbot.CertbotConfig;
import dev.atlas.dstack.ra.RaException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code atlas certbot init [-c certbot.toml]}: create (or load) the ACME account. */
@Command(name = "init", mixinStandardHelpOptions = true,
        description = {"Create the ACME account in workdir/credentials.json (or load the existing one) and print "
                + "its URL; a new account gets its CAA records when auto_set_caa is true."})
final class CertbotInitCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    CertbotConfigOption config;

    @Override
    public Integer call() throws Exception {
        CertbotConfig c = config.load();
        AcmeCredentials a;
        try {
            a = CertbotCommand.certbot(c).init();
        } catch (RaException e) {
            throw CertbotCommand.failure("ACME account at " + c.acmeUrl(), e);
        }
        spec.commandLine().getOut().println("account: " + a.accountUri());
        spec.commandLine().getOut().flush();
        return CliErrors.OK;
    }
}
