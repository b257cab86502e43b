package dev.atlas.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code atlas dev status} (skeleton). */
@Command(name = "status", mixinStandardHelpOptions = true, description = "skeleton")
final class DevStatusCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("atlas dev status: not built yet");
        return 2;
    }
}
