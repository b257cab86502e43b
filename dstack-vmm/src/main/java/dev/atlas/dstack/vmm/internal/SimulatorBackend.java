package dev.atlas.dstack.vmm.internal;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.vmm.CvmBackend;
import dev.atlas.dstack.vmm.CvmProcess;
import dev.atlas.dstack.vmm.PortMapping;
import dev.atlas.dstack.vmm.VmLaunch;
import dev.atlas.dstack.vmm.VmmConfig;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * The {@code simulator} backend ({@code [cvm] backend = "simulator"}): each VM is a simulated dstack guest OS
 * ({@code dev.atlas.dstack.simulator.SimulatedGuestOs}, module dstack-simulator) in a child process that boots from
 * the VM's host share, gets its keys from the KMS, runs the app and serves its port mappings on the host. This
 * module does not depend on dstack-simulator: the child is started by command line, {@code [cvm.simulator] command}
 * (a launcher prefix, for example {@code ["/opt/atlas/atlas", "simulate"]}... any command that accepts
 * {@code SimulatedGuestOs}'s flags) or, by default, this JVM's {@code java} with this JVM's class path (and module
 * path) and the main class, which works from the CLI's shaded jar.
 *
 * <p>The child's stdout (the boot log and the app's output) goes to the VM's serial log and its stderr to the VM's
 * stdout log (as QEMU's own output would). Its pid is written to {@link VmLaunch#pidFile()}; after a VMM restart
 * {@link #adopt} re-attaches to it when the pid is alive and its command line names the VM directory.
 *
 * <p>Per-VM {@code simulated_tee} (dstack's {@code vmm/src/main_service.rs}: a simulated TEE platform, which implies
 * {@code no_tee}): the simulator is a simulated {@code dstack-tdx}, so {@code "dstack-tdx"} runs as every VM here and
 * any other platform is refused at start naming the value. {@code no_tee} alone runs the same simulated TDX guest (the
 * simulator has no non-TEE mode); the serial log says so.
 */
public final class SimulatorBackend implements CvmBackend {
    /** The main class of the simulated guest OS. */
    public static final String MAIN_CLASS = "dev.atlas.dstack.simulator.SimulatedGuestOs";
    /** The only {@code simulated_tee} platform the simulator provides. */
    public static final String SIMULATED_TDX = "dstack-tdx";

    private static final System.Logger LOG = System.getLogger(SimulatorBackend.class.getName());

    private final VmmConfig config;
    private final List<String> launcher;

    public SimulatorBackend(VmmConfig config) {
        this.config = Objects.requireNonNull(config, "config");
        List<String> cmd = config.cvm().simulator().command();
        this.launcher = cmd.isEmpty() ? defaultLauncher() : List.copyOf(cmd);
        VmmConfig.Simulator s = config.cvm().simulator();
        if (s.insecureSkipKmsAttestation()) {
            LOG.log(Level.WARNING, "insecure: [cvm.simulator] insecure_skip_kms_attestation = true: simulated CVMs do"
                    + " not verify the KMS's attestation");
        }
        if (s.insecureLoopbackTransport()) {
            LOG.log(Level.WARNING, "insecure: [cvm.simulator] insecure_loopback_transport = true: simulated CVMs reach"
                    + " gateways over loopback instead of WireGuard");
        }
    }

    /** This JVM's {@code java}, class path (and module path) and {@link #MAIN_CLASS}. */
    static List<String> defaultLauncher() {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        String mp = System.getProperty("jdk.module.path", "");
        if (!mp.isEmpty()) {
            cmd.add("--module-path");
            cmd.add(mp);
            cmd.add("--add-modules");
            cmd.add("ALL-MODULE-PATH");
        }
        String cp = System.getProperty("java.class.path", "");
        if (!cp.isEmpty()) {
            cmd.add("-cp");
            cmd.add(cp);
        }
        cmd.add("-XX:+UseSerialGC");
        cmd.add("-XX:TieredStopAtLevel=1");
        cmd.add("-Xss512k");
        cmd.add(MAIN_CLASS);
        return List.copyOf(cmd);
    }

    /** The launcher prefix in use (the flags of one VM are appended). */
    public List<String> launcher() {
        return launcher;
    }

    @Override
    public String name() {
        return VmmConfig.Cvm.BACKEND_SIMULATOR;
    }

    /** The whole command line of one VM: the launcher, then {@code SimulatedGuestOs}'s flags. */
    public List<String> command(VmLaunch l) throws RaException {
        if (l.simulatedTee().isPresent() && !l.simulatedTee().get().equals(SIMULATED_TDX)) {
            throw new RaException(Reason.CONFIG_UNSUPPORTED, "simulated_tee", "the simulator backend simulates "
                    + SIMULATED_TDX + " only, not " + l.simulatedTee().get());
        }
        VmmConfig.Simulator s = l.config().cvm().simulator();
        List<String> cmd = new ArrayList<>(launcher);
        cmd.addAll(List.of("--host-share", l.sharedDir().toString(), "--work", l.workDir().toString(),
                "--cid", Long.toString(l.cid()), "--host-api", "unix:" + l.hostApiSocket(),
                "--pki-seed", Long.toString(s.pkiSeed())));
        if (s.insecureSkipKmsAttestation()) {
            cmd.add("--insecure-skip-kms-attestation");
        }
        if (s.insecureLoopbackTransport()) {
            cmd.add("--insecure-gateway-loopback-transport");
        }
        String dflt = l.config().cvm().portMapping().address();
        for (PortMapping p : l.ports()) {
            String addr = p.hostAddress().isEmpty() ? (dflt.isEmpty() ? "127.0.0.1" : dflt) : p.hostAddress();
            cmd.add("--port");
            cmd.add(p.protocol() + ":" + addr + ":" + p.hostPort() + ":" + p.vmPort());
        }
        return cmd;
    }

    @Override
    public CvmProcess start(VmLaunch l) throws RaException {
        List<String> cmd = command(l);
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(l.workDir().toFile());
        pb.redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
        pb.redirectOutput(ProcessBuilder.Redirect.appendTo(l.serialLog().toFile()));
        pb.redirectError(ProcessBuilder.Redirect.appendTo(l.stdoutLog().toFile()));
        try {
            Files.createDirectories(l.workDir());
            if (l.noTee() && l.simulatedTee().isEmpty()) {
                Files.writeString(l.serialLog(), "[vmm] no_tee: the simulator backend still runs a simulated TDX"
                        + " guest (it has no non-TEE mode)\n", StandardCharsets.UTF_8,
                        java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
            }
        } catch (IOException e) {
            throw new RaException(Reason.CONFIG_FILE_UNREADABLE, "run_path", "cannot write " + l.workDir() + ": "
                    + e.getMessage(), e);
        }
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new RaException(Reason.CONFIG_INVALID, "[cvm.simulator] command", "cannot start " + cmd.get(0)
                    + ": " + e.getMessage(), e);
        }
        try {
            writePid(l.pidFile(), p.pid());
        } catch (IOException e) {
            p.destroyForcibly();
            throw new RaException(Reason.CONFIG_FILE_UNREADABLE, "pid file", "cannot write " + l.pidFile() + ": "
                    + e.getMessage(), e);
        }
        LOG.log(Level.INFO, "VM " + l.id() + " (" + l.name() + "): simulated guest started, pid " + p.pid());
        return new Child(p, l.pidFile());
    }

    private static void writePid(Path file, long pid) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, pid + "\n", StandardCharsets.US_ASCII);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    @Override
    public Optional<CvmProcess> adopt(VmLaunch l) {
        long pid;
        try {
            String s = Files.readString(l.pidFile(), StandardCharsets.US_ASCII).trim();
            if (s.isEmpty() || s.length() > 19 || !s.chars().allMatch(Character::isDigit)) {
                LOG.log(Level.WARNING, "VM " + l.id() + ": pid file " + l.pidFile() + " does not hold a pid");
                return Optional.empty();
            }
            pid = Long.parseLong(s);
        } catch (IOException e) {
            return Optional.empty();
        }
        Optional<ProcessHandle> h = ProcessHandle.of(pid).filter(ProcessHandle::isAlive);
        if (h.isEmpty()) {
            return Optional.empty();
        }
        // a reused pid must not be adopted: the command line names this VM's directory after --work
        boolean ours = arguments(h.get()).map(a -> {
            int i = a.indexOf("--work");
            return i >= 0 && i + 1 < a.size() && a.get(i + 1).equals(l.workDir().toString());
        }).orElse(false);
        if (!ours) {
            LOG.log(Level.WARNING, "VM " + l.id() + ": pid " + pid + " from " + l.pidFile()
                    + " is alive but is not this VM's simulated guest; not adopted");
            return Optional.empty();
        }
        LOG.log(Level.INFO, "VM " + l.id() + ": re-attached to simulated guest pid " + pid);
        return Optional.of(new Adopted(h.get(), l.pidFile()));
    }

    /**
     * The arguments of a process: {@code /proc/<pid>/cmdline} where it exists (the JDK's {@code Info.arguments()} is
     * empty for long command lines such as a JVM's class path), else {@code ProcessHandle.Info}.
     */
    static Optional<List<String>> arguments(ProcessHandle h) {
        Path proc = Path.of("/proc", Long.toString(h.pid()), "cmdline");
        if (Files.isReadable(proc)) {
            try {
                byte[] b = Files.readAllBytes(proc);
                List<String> out = new ArrayList<>();
                int start = 0;
                for (int i = 0; i < b.length; i++) {
                    if (b[i] == 0) {
                        out.add(new String(b, start, i - start, StandardCharsets.UTF_8));
                        start = i + 1;
                    }
                }
                return Optional.of(out);
            } catch (IOException e) {
                return Optional.empty();
            }
        }
        return h.info().arguments().map(List::of);
    }

    @Override
    public void close() {
        // nothing of our own: the VMs keep running
    }

    @Override
    public String toString() {
        return "SimulatorBackend[" + String.join(" ", launcher.subList(0, 1)) + " ... " + MAIN_CLASS + "]";
    }

    private static void removePid(Path pidFile, long pid) {
        try {
            String s = Files.readString(pidFile, StandardCharsets.US_ASCII).trim();
            if (s.equals(Long.toString(pid))) {
                Files.deleteIfExists(pidFile);
            }
        } catch (IOException ignored) {
            // gone already
        }
    }

    /** A child this VMM started: the exit code is known. */
    private static final class Child implements CvmProcess {
        private final Process process;
        private final CompletableFuture<Integer> exit;

        Child(Process p, Path pidFile) {
            this.process = p;
            this.exit = p.onExit().thenApply(x -> {
                removePid(pidFile, x.pid());
                return x.exitValue();
            });
        }

        @Override
        public long pid() {
            return process.pid();
        }

        @Override
        public boolean isAlive() {
            return process.isAlive();
        }

        @Override
        public void shutdown() {
            process.destroy(); // SIGTERM: the guest stops its app and removes its sockets
        }

        @Override
        public void kill() {
            process.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
        }

        @Override
        public CompletableFuture<Integer> onExit() {
            return exit;
        }
    }

    /** A guest started by an earlier VMM: no exit code (-1). */
    private static final class Adopted implements CvmProcess {
        private final ProcessHandle handle;
        private final CompletableFuture<Integer> exit;

        Adopted(ProcessHandle h, Path pidFile) {
            this.handle = h;
            this.exit = h.onExit().thenApply(x -> {
                removePid(pidFile, x.pid());
                return -1;
            });
        }

        @Override
        public long pid() {
            return handle.pid();
        }

        @Override
        public boolean isAlive() {
            return handle.isAlive();
        }

        @Override
        public void shutdown() {
            handle.destroy();
        }

        @Override
        public void kill() {
            handle.descendants().forEach(ProcessHandle::destroyForcibly);
            handle.destroyForcibly();
        }

        @Override
        public CompletableFuture<Integer> onExit() {
            return exit;
        }
    }
}
