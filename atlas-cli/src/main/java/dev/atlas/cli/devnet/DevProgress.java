package dev.atlas.cli.devnet;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * Listener of {@link DevNet#up}'s progress: one call per step of a component, with the time elapsed since
 * {@code up} began; {@link #failed} when a component fails. A listener that throws never fails the operation
 * (the exception is dropped).
 */
@FunctionalInterface
public interface DevProgress {
    /** A step: {@code component} (auth, kms-cvm, kms, gateway-cvm, gateway, vmm, an app name), what happened. */
    void step(String component, String message, Duration elapsed);

    /** {@code component} failed; its log is {@code logFile} (absent when it has none). */
    default void failed(String component, Path logFile, String why) {
        // optional
    }

    /** No output. */
    DevProgress NONE = (c, m, e) -> { };

    /** One line per step on {@code out}: {@code [  3.2s] kms          bootstrapped ...}. */
    static DevProgress printing(PrintStream out) {
        Objects.requireNonNull(out, "out");
        return new DevProgress() {
            @Override
            public void step(String component, String message, Duration elapsed) {
                out.printf("[%5.1fs] %-12s %s%n", elapsed.toMillis() / 1000.0, component, message);
                out.flush();
            }

            @Override
            public void failed(String component, Path logFile, String why) {
                out.println("FAILED: " + component + ": " + why + (logFile == null ? "" : " (log: " + logFile + ")"));
                out.flush();
            }
        };
    }
}
