package dev.atlas.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** Skeleton: replaced by its owner. */
@Command(name = "certbot", mixinStandardHelpOptions = true, description = "ACME DNS-01 certificates with CAA pinning from dstack's certbot.toml (issue 19, being built)")
final class CertbotCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("atlas certbot: not built yet");
        return 2;
    }
}
