package dev.atlas.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** Skeleton: replaced by its owner. */
@Command(name = "dev", mixinStandardHelpOptions = true, description = "The whole dstack deployment on this machine (issue 21, being built)")
final class DevCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("atlas dev: not built yet");
        return 2;
    }
}
