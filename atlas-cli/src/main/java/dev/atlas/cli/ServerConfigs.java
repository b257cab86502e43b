package dev.atlas.cli;

import dev.atlas.dstack.ra.RaException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;

/**
 * What {@code atlas kms}, {@code atlas gateway} and {@code atlas vmm} share: loading dstack's config file with one
 * mapping of its errors to exit codes, and the start-up warnings on stderr.
 */
final class ServerConfigs {
    /** A config loader of one of the servers ({@code KmsConfig::load}, ...). */
    @FunctionalInterface
    interface Loader<C> {
        C load(Path file) throws RaException;
    }

    private ServerConfigs() {}

    /**
     * Loads {@code file} (given with {@code -c}): the file itself unreadable is a usage error naming {@code -c}
     * (exit 2); anything else the loader refuses names {@code what} (for example {@code kms.toml}) and the file.
     */
    static <C> C load(Path file, String what, Loader<C> loader) throws CliErrors.CliException {
        try {
            return loader.load(file);
        } catch (RaException e) {
            if (e.raReason() == RaException.Reason.CONFIG_FILE_UNREADABLE && file.toString().equals(e.field())) {
                throw CliErrors.unreadable(file, "-c", e);
            }
            throw failure(what + " " + file, e);
        }
    }

    /** Each warning of the loaded config as a {@code warning: } line on stderr. */
    static void printWarnings(List<String> warnings, PrintWriter err) {
        for (String w : warnings) {
            err.println("warning: " + w);
        }
        err.flush();
    }

    /** A refusal by a server or its config: the exit code of its kind, the fine reason, {@code what: detail}. */
    static CliErrors.CliException failure(String what, RaException e) {
        return new CliErrors.CliException(CliErrors.exitCode(e), e.raReason().name(), what + ": "
                + CliErrors.scrub(e.detail()), e);
    }
}
