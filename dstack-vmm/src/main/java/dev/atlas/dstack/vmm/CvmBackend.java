package dev.atlas.dstack.vmm;

import dev.atlas.dstack.ra.RaException;
import java.util.Optional;

/**
 * What runs a CVM: {@code qemu} (a TDX guest under QEMU) or {@code simulator} (a simulated dstack guest OS as a child
 * process). The VMM core owns the state (VM directories, CIDs, ports, host share); a backend only starts, re-attaches
 * to and stops the process of one VM.
 */
public interface CvmBackend extends AutoCloseable {
    /** {@code "qemu"} or {@code "simulator"} (or a test's name); named in the VMM's start-up log. */
    String name();

    /**
     * Starts the VM described by {@code launch}. The host share ({@code launch.sharedDir()}) is complete when this is
     * called. A backend writes its pid file into {@code launch.workDir()} so that {@link #adopt} can find the process.
     *
     * @throws RaException when the process cannot be started (the message names the command or file)
     */
    CvmProcess start(VmLaunch launch) throws RaException;

    /**
     * Re-attaches to a VM process that survived a VMM restart (via the pid file in {@code launch.workDir()}).
     * Empty when no such process is alive; the VM is then shown as stopped.
     */
    Optional<CvmProcess> adopt(VmLaunch launch);

    /** Releases the backend's own resources. Running VMs keep running. */
    @Override
    void close();
}
