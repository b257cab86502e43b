package dev.atlas.cli;

import dev.atlas.dstack.gateway.certbot.AcmeIssuer;
import dev.atlas.dstack.gateway.certbot.CertbotConfig;
import dev.atlas.dstack.ra.RaException;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code atlas certbot set-caa [-c certbot.toml]}: pin CAA to the account. */
@Command(name = "set-caa", mixinStandardHelpOptions = true,
        description = {"Pin the CAA records of each base name of domains to this ACME account, in four steps: add "
                + "0 issue \";\" and 0 issuewild \";\" guards, delete the other issue/issuewild records, add "
                + "0 issue/issuewild \"letsencrypt.org;validationmethods=dns-01;accounturi=<account>\", delete the "
                + "guards."})
final class CertbotSetCaaCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    CertbotConfigOption config;

    @Override
    public Integer call() throws Exception {
        CertbotConfig c = config.load();
        var bot = CertbotCommand.certbot(c);
        String account;
        try {
            account = bot.init().accountUri();
            bot.setCaa();
        } catch (RaException e) {
            throw CertbotCommand.failure("set-caa for " + c.domains(), e);
        }
        Set<String> bases = new LinkedHashSet<>();
        for (String d : c.domains()) {
            bases.add(d.startsWith("*.") ? d.substring(2) : d);
        }
        for (String b : bases) {
            for (String tag : new String[] {"issue", "issuewild"}) {
                spec.commandLine().getOut().println(b + ". CAA 0 " + tag + " \"" + AcmeIssuer.CAA_ISSUER
                        + ";validationmethods=dns-01;accounturi=" + account + "\"");
            }
        }
        spec.commandLine().getOut().flush();
        return CliErrors.OK;
    }
}
