package dev.atlas.cli;

import dev.atlas.cli.devnet.DevException;
import dev.atlas.cli.devnet.DevNet;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code atlas dev logs [COMPONENT]}: a component's log, or the last lines of every log. */
@Command(name = "logs", mixinStandardHelpOptions = true,
        description = "Print a component's log (auth, kms-cvm, kms, gateway-cvm, gateway, vmm, or an app name: its "
                + "VM's serial log); without COMPONENT the last lines of each.")
final class DevLogsCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--dir", paramLabel = "DIR", defaultValue = "devnet", description = "The devnet directory (default: "
            + "./${DEFAULT-VALUE}).")
    Path dir;

    @Option(names = {"-n", "--lines"}, paramLabel = "N", defaultValue = "10",
            description = "Without COMPONENT: lines per log (default: ${DEFAULT-VALUE}).")
    int lines;

    @Parameters(index = "0", arity = "0..1", paramLabel = "COMPONENT")
    String component;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        DevNet net;
        try {
            net = DevNet.attach(dir);
        } catch (DevException e) {
            err.println("error: " + e.getMessage());
            err.flush();
            return CliErrors.USAGE;
        }
        List<String> names = new ArrayList<>();
        if (component != null) {
            names.add(component);
        } else {
            names.addAll(DevNet.COMPONENTS);
            net.apps().forEach(a -> names.add(a.name()));
        }
        int rc = 0;
        for (String n : names) {
            Path log = net.logFile(n);
            List<String> text;
            try {
                text = Files.readAllLines(log, StandardCharsets.UTF_8);
            } catch (IOException e) {
                err.println("error: " + n + ": cannot read " + log + " (" + e.getClass().getSimpleName() + ")");
                rc = component != null ? CliErrors.USAGE : rc;
                continue;
            }
            if (component == null) {
                out.println("==> " + n + " (" + log + ") <==");
                text = text.subList(Math.max(0, text.size() - lines), text.size());
            }
            text.forEach(out::println);
        }
        out.flush();
        return rc;
    }
}
