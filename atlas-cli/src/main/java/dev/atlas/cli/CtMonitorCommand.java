package dev.atlas.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** Skeleton: replaced by its owner. */
@Command(name = "ct-monitor", mixinStandardHelpOptions = true, description = "Certificate-transparency monitor for a gateway's domain (issue 19, being built)")
final class CtMonitorCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("atlas ct-monitor: not built yet");
        return 2;
    }
}
