package dev.atlas.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** Skeleton: replaced by its owner. */
@Command(name = "measure", mixinStandardHelpOptions = true, subcommands = MeasureCheckCommand.class, description = "Expected bootchain measurements from image files (issue 22, being built)")
final class MeasureCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("atlas measure: not built yet");
        return 2;
    }
}
