package dev.atlas.cli;

import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Instant;
import picocli.CommandLine.Option;

/** Options shared by several commands, as picocli mixins ({@code @Mixin}). */
final class CliOptions {
    private CliOptions() {}

    /** {@code --root-ca FILE}: an Intel root that replaces the pinned one (simulated CVMs and tests only). */
    static final class RootCa {
        @Option(names = "--root-ca", paramLabel = "FILE",
                description = "TESTING ONLY: trust this Intel root (DER or PEM) instead of the pinned one (simulated CVMs).")
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

    /** {@code --at TIME}: the verification time, for checking old evidence against the collateral of its day. */
    static final class VerificationTime {
        @Option(names = "--at", paramLabel = "TIME", description = "verification time: seconds since the epoch or "
                + "ISO-8601 such as 2025-07-19T10:00:34Z (default: now)")
        Instant at;

        /** The given time, or now (read once, here at the edge; the library takes it as an argument). */
        Instant instant() {
            return at != null ? at : Instant.now();
        }
    }
}
