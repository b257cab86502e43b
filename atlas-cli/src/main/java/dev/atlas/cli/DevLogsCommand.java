package dev.atlas.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code atlas dev logs} (skeleton). */
@Command(name = "logs", mixinStandardHelpOptions = true, description = "skeleton")
final class DevLogsCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("atlas dev logs: not built yet");
        return 2;
    }
}
