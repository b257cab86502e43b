package dev.atlas.cli;

import dev.atlas.dstack.gateway.certbot.CertbotConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code atlas certbot cfg [-w FILE]}: the commented certbot.toml template. */
@Command(name = "cfg", mixinStandardHelpOptions = true,
        description = "Print (or write) a commented certbot.toml with dstack's defaults.")
final class CertbotCfgCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = {"-w", "--write-to"}, paramLabel = "FILE", description = "Write the template to FILE.")
    Path writeTo;

    @Override
    public Integer call() throws Exception {
        String t = CertbotConfig.template();
        if (writeTo == null) {
            spec.commandLine().getOut().print(t);
            spec.commandLine().getOut().flush();
            return CliErrors.OK;
        }
        try {
            Files.writeString(writeTo, t, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw CliErrors.unwritable(writeTo, "--write-to", e);
        }
        return CliErrors.OK;
    }
}
