package dev.atlas.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** Skeleton: replaced by its owner (issue22-lite). */
@Command(name = "check", mixinStandardHelpOptions = true,
        description = "Lite OS-image check of a GetQuote response (issue 22, being built)")
final class MeasureCheckCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("atlas measure check: not built yet");
        return 2;
    }
}
