package dev.atlas.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code atlas dev up} (skeleton). */
@Command(name = "up", mixinStandardHelpOptions = true, description = "skeleton")
final class DevUpCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("atlas dev up: not built yet");
        return 2;
    }
}
