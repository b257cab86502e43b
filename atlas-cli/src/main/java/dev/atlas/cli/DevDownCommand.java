package dev.atlas.cli;

import dev.atlas.cli.devnet.DevException;
import dev.atlas.cli.devnet.DevNet;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code atlas dev down}: stops the apps' VMs, then every component; keeps DIR (keys) for a later up. */
@Command(name = "down", mixinStandardHelpOptions = true,
        description = "Stop the devnet gracefully: the apps' VMs (ShutdownVm), then the VMM, gateway, KMS, their "
                + "CVMs and the auth server (SIGTERM, then SIGKILL after a grace period); nothing is left running. "
                + "DIR keeps the keys and configs: `atlas dev up` resumes.")
final class DevDownCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--dir", paramLabel = "DIR", defaultValue = "devnet", description = "The devnet directory (default: "
            + "./${DEFAULT-VALUE}).")
    Path dir;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        long t0 = System.nanoTime();
        try {
            DevNet.attach(dir).down();
        } catch (DevException e) {
            err.println("error: " + e.getMessage());
            err.flush();
            return e.kind() == DevException.Kind.STATE ? CliErrors.USAGE : 1;
        }
        out.printf("devnet in %s is down (%.1f s)%n", dir.toAbsolutePath().normalize(),
                (System.nanoTime() - t0) / 1e9);
        out.flush();
        return 0;
    }
}
