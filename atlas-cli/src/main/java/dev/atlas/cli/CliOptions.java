package dev.atlas.cli;

import java.nio.file.Path;
import java.security.cert.X509Certificate;
import picocli.CommandLine.Option;

/** Options shared by several commands, as picocli mixins ({@code @Mixin}). */
final class CliOptions {
    private CliOptions() {}

    /** {@code --root-ca FILE}: an Intel root that replaces the pinned one (simulated CVMs and tests only). */
    static final class RootCa {
        @Option(names = "--root-ca", paramLabel = "FILE",
                description = "TESTING ONLY: trust this Intel root instead of the pinned one (simulated CVMs).")
        Path file;

        /** Whether the option was given. */
        boolean given() {
            return file != null;
        }

        /** The certificate, or an input error naming the file and the option. */
        X509Certificate certificate() throws Inputs.InputException {
            return Inputs.certificate(file, "--root-ca");
        }
    }
}
