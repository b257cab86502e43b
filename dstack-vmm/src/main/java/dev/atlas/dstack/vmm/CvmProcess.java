package dev.atlas.dstack.vmm;

import java.util.concurrent.CompletableFuture;

/** One running (or adopted) CVM process of a {@link CvmBackend}. */
public interface CvmProcess {
    /** The operating-system process id. */
    long pid();

    /** Whether the process is still running. */
    boolean isAlive();

    /** Asks the guest to power off (ACPI / QMP {@code system_powerdown} / SIGTERM); returns at once. */
    void shutdown();

    /** Stops the process now (QMP {@code quit} or SIGKILL); returns at once. */
    void kill();

    /** Completes with the exit code (or -1 when unknown, for an adopted process) when the process ends. */
    CompletableFuture<Integer> onExit();
}
