package dev.atlas.dstack.vmm.internal.web;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.vmm.CvmBackend;
import dev.atlas.dstack.vmm.CvmProcess;
import dev.atlas.dstack.vmm.VmLaunch;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A backend for the dashboard and vmm-cli.py tests: each VM is a {@code sleep} child process; start() writes a few
 * serial-console lines and remembers the launch (the tests read the host share from it). No guest runs.
 */
final class WebTestBackend implements CvmBackend {
    final Map<String, VmLaunch> launches = new ConcurrentHashMap<>();
    /** The latest process of each VM id (tests wait on its exit instead of polling). */
    final Map<String, Process> processes = new ConcurrentHashMap<>();
    private final String name;

    /**
     * @param name the backend name the VMM sees; "simulator" makes it accept {@code simulated_tee} (the VMM allows
     *     that field only on the simulator backend)
     */
    WebTestBackend(String name) {
        this.name = name;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public CvmProcess start(VmLaunch launch) throws RaException {
        launches.put(launch.id(), launch);
        try {
            Files.createDirectories(launch.serialLog().getParent());
            Files.writeString(launch.serialLog(), "web-test: booting " + launch.name() + "\nweb-test: hello from "
                    + launch.name() + " (cid " + launch.cid() + ")\n", StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            Process p = new ProcessBuilder("sleep", "600").redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(launch.stdoutLog().toFile())).start();
            Files.writeString(launch.pidFile(), Long.toString(p.pid()));
            processes.put(launch.id(), p);
            return new CvmProcess() {
                @Override
                public long pid() {
                    return p.pid();
                }

                @Override
                public boolean isAlive() {
                    return p.isAlive();
                }

                @Override
                public void shutdown() {
                    p.destroy();
                }

                @Override
                public void kill() {
                    p.destroyForcibly();
                }

                @Override
                public CompletableFuture<Integer> onExit() {
                    return p.onExit().thenApply(Process::exitValue);
                }
            };
        } catch (IOException e) {
            throw new IllegalStateException("web-test backend: cannot start " + launch.name(), e);
        }
    }

    @Override
    public Optional<CvmProcess> adopt(VmLaunch launch) {
        return Optional.empty();
    }

    @Override
    public void close() {
    }
}
