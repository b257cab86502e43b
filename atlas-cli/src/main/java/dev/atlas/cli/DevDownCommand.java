package dev.atlas.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code atlas dev down} (skeleton). */
@Command(name = "down", mixinStandardHelpOptions = true, description = "skeleton")
final class DevDownCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("atlas dev down: not built yet");
        return 2;
    }
}
