package dev.atlas.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code atlas dev}: the whole dstack deployment of the guide on this machine (up, status, logs, down). */
@Command(name = "dev", mixinStandardHelpOptions = true,
        description = "The whole dstack deployment on this machine: auth server, KMS, gateway and VMM (simulated CVMs) "
                + "plus demo apps; see docs/dev-up.md.",
        subcommands = {DevUpCommand.class, DevStatusCommand.class, DevLogsCommand.class, DevDownCommand.class,
            DevCvmCommand.class})
final class DevCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getErr());
    }
}
