package dev.atlas.cli.devnet;

import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * A devnet operation failed. The message names the component, the step and, where the component has one, its log
 * file ({@link #logFile()}); never a secret.
 */
public final class DevException extends Exception {
    private static final long serialVersionUID = 1L;

    /** What kind of failure. */
    public enum Kind {
        /** Options, a config file or {@code devnet.json} is invalid. */
        CONFIG,
        /** A component's process could not start or exited. */
        START_FAILED,
        /** A component did not become ready in time. */
        NOT_READY,
        /** A protocol step failed (bootstrap, allowlisting, registration, deploy, reachability). */
        STEP_FAILED,
        /** The directory's state does not allow it (no devnet there, or one already running). */
        STATE,
        /** Reading or writing a file in the directory. */
        IO
    }

    private final Kind kind;
    private final String component;
    private final transient Path logFile;

    public DevException(Kind kind, String component, Path logFile, String message, Throwable cause) {
        super(component + ": " + message + (logFile == null ? "" : " (see " + logFile + ")"), cause);
        this.kind = Objects.requireNonNull(kind, "kind");
        this.component = Objects.requireNonNull(component, "component");
        this.logFile = logFile;
    }

    public DevException(Kind kind, String component, Path logFile, String message) {
        this(kind, component, logFile, message, null);
    }

    public Kind kind() {
        return kind;
    }

    /** The component that failed ({@code devnet} for the directory itself). */
    public String component() {
        return component;
    }

    /** Its log file, where it has one. */
    public Optional<Path> logFile() {
        return Optional.ofNullable(logFile);
    }
}
