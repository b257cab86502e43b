package dev.atlas.cli;

import dev.atlas.cli.devnet.DevException;
import dev.atlas.cli.devnet.DevNet;
import dev.atlas.cli.devnet.DevStatus;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code atlas dev status}: each component's URL, pid and state, and the apps. */
@Command(name = "status", mixinStandardHelpOptions = true,
        description = {"Show the devnet's components (URL, pid, state) and apps (URL, the atlas get command that "
                + "attests each through the gateway).",
            "--json: {\"components\":[{\"name\",\"url\",\"pid\",\"state\"}],\"apps\":[{\"name\",\"app_id\",\"url\","
                + "\"attest\"}]}. Exit 0 when every component runs, 1 otherwise, 2 when DIR holds no devnet."})
final class DevStatusCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--dir", paramLabel = "DIR", defaultValue = "devnet", description = "The devnet directory (default: "
            + "./${DEFAULT-VALUE}).")
    Path dir;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        DevStatus s;
        try {
            s = DevNet.attach(dir).status();
        } catch (DevException e) {
            err.println("error: " + e.getMessage());
            err.flush();
            return CliErrors.USAGE;
        }
        if (json) {
            out.println(s.toJson());
        } else {
            out.printf("%-12s %-8s %-8s %s%n", "COMPONENT", "STATE", "PID", "URL");
            for (DevStatus.Component c : s.components()) {
                out.printf("%-12s %-8s %-8s %s%n", c.name(), c.state(), c.pid() < 0 ? "-" : Long.toString(c.pid()),
                        c.url());
            }
            for (DevStatus.App a : s.apps()) {
                out.println();
                out.println("app " + a.name() + " (" + a.appId() + ")");
                out.println("  " + a.url());
                out.println("  " + a.attest());
            }
        }
        out.flush();
        return s.components().stream().allMatch(c -> c.state().equals("running")) ? 0 : 1;
    }
}
