package dev.atlas.dstack.vmm.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.vmm.CvmBackend;
import dev.atlas.dstack.vmm.CvmProcess;
import dev.atlas.dstack.vmm.PortMapping;
import dev.atlas.dstack.vmm.VmLaunch;
import dev.atlas.dstack.vmm.VmmConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The {@code qemu} backend: runs {@code [cvm] qemu_path} with the arguments of {@link QemuCommandLine} as a
 * supervised child process of the VMM.
 *
 * <ul>
 *   <li>Launch: the data disk {@code hda.img} is created with {@code qemu-img create -f qcow2} (the
 *       {@code qemu-img} next to {@code qemu_path}, else on {@code PATH}) when missing; the previous boot's logs are
 *       rotated ({@code [cvm.log] max_backups}) and a boot separator is appended; QEMU's stdout goes to
 *       {@code stdout.log}, its stderr to {@code stderr.log} (both {@code O_APPEND}), the serial console to
 *       {@code serial.log} (QEMU's own chardev log with {@code logappend=on}); the argument list is kept in
 *       {@code qemu-args.json}.</li>
 *   <li>Pid file ({@code VmLaunch.pidFile()}): {@code {"pid", "start_ms", "command"}}; {@link #adopt} re-attaches
 *       only when a process with that pid is alive and started at that instant (no pid-reuse confusion).</li>
 *   <li>Supervision: an exit that nobody asked for is handled by {@link RestartPolicy} ({@code [cvm.auto_restart]}):
 *       restarts with backoff; when the budget is used up the event {@code vmm.auto_restart.exhausted} goes to the
 *       event listener and {@link CvmProcess#onExit()} completes. The {@link CvmProcess} handle stays the same across
 *       restarts ({@code pid()} changes).</li>
 *   <li>Stop: {@code shutdown()} sends QMP {@code system_powerdown} (ACPI) when {@code [cvm] qmp_socket} is on, else
 *       SIGTERM; {@code kill()} sends QMP {@code quit} (or SIGTERM) and SIGKILL after the stop timeout.</li>
 *   <li>Logs over {@code [cvm.log] max_bytes} are rotated in place every {@code check_interval}.</li>
 * </ul>
 * Not supported (refused at start with {@code CONFIG_UNSUPPORTED}): {@code host_share_mode = "vhd"} (needs a FAT32
 * image writer), {@code platform = "amd-sev-snp"}, {@code simulated_tee} (use the simulator backend).
 */
public final class QemuBackend implements CvmBackend {
    /** The file that records the argument list of the last launch. */
    public static final String ARGS_FILE = "qemu-args.json";
    /** The shipped {@code [cvm.product]} ({@code sys_vendor = product_name = "dstack"}) as QEMU's SMBIOS type 1. */
    public static final String DEFAULT_SMBIOS = "type=1,manufacturer=dstack,product=dstack";
    private static final System.Logger LOG = System.getLogger("dev.atlas.dstack.vmm.qemu");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final VmmConfig config;
    private final VmmConfig.AutoRestart autoRestart;
    private final VmmConfig.Log logConfig;
    private final Clock clock;
    private final Duration stopTimeout;
    private final HostApiListener events;
    private final HostTopology topology;
    private final ScheduledExecutorService scheduler;
    private final Map<String, Supervised> running = new ConcurrentHashMap<>();
    private final ScheduledFuture<?> rotationTask;

    /** Host facts the command line needs (sysfs on a real host; fixed values in tests). */
    public interface HostTopology {
        /** The host NUMA node of a PCI device ({@code /sys/bus/pci/devices/0000:<slot>/numa_node}, -1 → "0"). */
        String pciNumaNode(String slot) throws RaException;

        /** The CPU list of a NUMA node ({@code /sys/devices/system/node/node<N>/cpulist}). */
        String nodeCpus(String node) throws RaException;

        /** The real host's sysfs. */
        static HostTopology sysfs() {
            return new HostTopology() {
                @Override
                public String pciNumaNode(String slot) throws RaException {
                    if (!slot.matches("[0-9a-fA-F:.]+")) {
                        throw new RaException(Reason.CONFIG_INVALID, "gpus", "Invalid device string: " + slot);
                    }
                    String n = readSys(Path.of("/sys/bus/pci/devices/0000:" + slot + "/numa_node"));
                    return n.equals("-1") ? "0" : n;
                }

                @Override
                public String nodeCpus(String node) throws RaException {
                    return readSys(Path.of("/sys/devices/system/node/node" + node + "/cpulist"));
                }
            };
        }
    }

    private QemuBackend(Builder b) {
        this.config = b.config;
        this.autoRestart = b.autoRestart != null ? b.autoRestart : config.cvm().autoRestart();
        this.logConfig = b.log != null ? b.log : config.cvm().log();
        this.clock = b.clock;
        this.stopTimeout = b.stopTimeout;
        this.events = b.events;
        this.topology = b.topology;
        this.scheduler = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("qemu-supervisor")
                .factory());
        long every = Math.max(1, logConfig.checkInterval().toMillis());
        this.rotationTask = logConfig.maxBytes() > 0
                ? scheduler.scheduleWithFixedDelay(this::rotateOversizedLogs, every, every, TimeUnit.MILLISECONDS)
                : null;
    }

    public static Builder builder(VmmConfig config) {
        return new Builder(config);
    }

    @Override
    public String name() {
        return VmmConfig.Cvm.BACKEND_QEMU;
    }

    @Override
    public CvmProcess start(VmLaunch launch) throws RaException {
        Supervised old = running.get(launch.id());
        if (old != null && old.isAlive()) {
            throw new RaException(Reason.VM_PROCESS_FAILED, "id", "VM " + launch.id() + " is already running (pid "
                    + old.pid() + ")");
        }
        Supervised s = new Supervised(launch);
        synchronized (s) {
            s.launchNow();
        }
        running.put(launch.id(), s);
        return s;
    }

    @Override
    public Optional<CvmProcess> adopt(VmLaunch launch) {
        Optional<ProcessHandle> h = readPidFile(launch.pidFile());
        if (h.isEmpty()) {
            return Optional.empty();
        }
        Supervised s = new Supervised(launch);
        synchronized (s) {
            s.attach(h.get(), null);
        }
        running.put(launch.id(), s);
        LOG.log(System.Logger.Level.INFO, "adopted VM " + launch.id() + " (pid " + h.get().pid() + ")");
        return Optional.of(s);
    }

    /** Stops supervising (VMs keep running; a new backend adopts them from their pid files). */
    @Override
    public void close() {
        for (Supervised s : running.values()) {
            s.detach();
        }
        running.clear();
        if (rotationTask != null) {
            rotationTask.cancel(false);
        }
        scheduler.shutdownNow();
    }

    /** The argument list {@code launch} would run with (reads the host share for MR_CONFIG_ID). */
    public List<String> commandLine(VmLaunch launch) throws RaException {
        return QemuCommandLine.build(spec(launch));
    }

    /** The {@link QemuCommandLine.Spec} of a launch: the VM, the image, {@code [cvm]} and the host facts. */
    QemuCommandLine.Spec spec(VmLaunch l) throws RaException {
        VmmConfig.Cvm c = config.cvm();
        if (c.qemuPath().isEmpty()) {
            throw new RaException(Reason.CONFIG_INVALID, "cvm.qemu_path",
                    "qemu_path is empty; set [cvm] qemu_path to qemu-system-x86_64 or use [cvm] backend = \"simulator\"");
        }
        if (!c.platform().equals("auto") && !c.platform().equals("tdx")) {
            throw new RaException(Reason.CONFIG_UNSUPPORTED, "cvm.platform",
                    "platform " + c.platform() + " is not supported by this VMM's qemu backend (tdx)");
        }
        if (l.simulatedTee().isPresent()) {
            throw new RaException(Reason.CONFIG_UNSUPPORTED, "simulated_tee",
                    "simulated_tee " + l.simulatedTee().get() + " needs [cvm] backend = \"simulator\"");
        }
        VmmConfig.Networking n = c.networking();
        List<QemuCommandLine.Port> ports = new ArrayList<>();
        for (PortMapping p : l.ports()) {
            ports.add(new QemuCommandLine.Port(p.protocol(), p.hostAddress(), p.hostPort(), p.vmPort()));
        }
        Map<String, Integer> numaNodes = new LinkedHashMap<>();
        Map<String, String> gpuNodes = new LinkedHashMap<>();
        if (l.hugepages()) {
            for (String slot : l.gpus()) {
                String node = topology.pciNumaNode(slot);
                numaNodes.merge(node, 1, Integer::sum);
                gpuNodes.put(slot, node);
            }
            if (numaNodes.isEmpty()) {
                numaNodes.put("0", 0);
            }
        }
        String numaCpus = null;
        if (l.pinNuma()) {
            String node = l.gpus().isEmpty() ? "0" : topology.pciNumaNode(l.gpus().getFirst());
            numaCpus = topology.nodeCpus(node);
        }
        QemuCommandLine.Builder b = QemuCommandLine.Spec.builder()
                .qemuPath(c.qemuPath())
                .user(c.user())
                .vmId(l.id())
                .workDir(l.workDir())
                .qmpSocket(c.qmpSocket())
                .bios(l.image().bios().orElse(null))
                .kernel(l.image().kernel())
                .initrd(l.image().initrd())
                .cmdline(l.image().cmdline().isEmpty() ? null : l.image().cmdline())
                .rootfs(l.image().rootfs().orElse(null))
                .imageVersion(l.image().version())
                .sharedReadOnly(l.image().sharedRo())
                .hotplugOff(c.qemuHotplugOff())
                .pciHole64Size(c.qemuPciHole64Size())
                .networks(List.of(new QemuCommandLine.Network(n.mode(), n.net(), n.dhcpStart(), n.restrict(),
                        n.bridge(), n.macPrefix())))
                .ports(ports)
                .smbios(List.of(DEFAULT_SMBIOS))
                .cid(l.cid())
                .hostShareMode(c.hostShareMode())
                .vcpu(l.vcpu())
                .memoryMb(Math.toIntExact(l.memoryMb()))
                .hugepages(l.hugepages())
                .hugepageNumaNodes(numaNodes)
                .gpuNumaNodes(gpuNodes)
                .numaCpus(numaCpus)
                .gpus(l.gpus())
                .noTee(l.noTee())
                .useMrconfigid(c.useMrconfigid())
                .qgsPort(c.qgsPort().isPresent() ? c.qgsPort().getAsInt() : null);
        QemuCommandLine.Spec s = b.build();
        if (s.wantsMrConfigId()) {
            s = s.toBuilder().mrConfigId(MrConfigIds.forHostShare(l.sharedDir())).build();
        }
        return s;
    }

    /** Rotates every supervised VM's logs that grew past {@code [cvm.log] max_bytes}. */
    void rotateOversizedLogs() {
        for (Supervised s : running.values()) {
            if (!s.isAlive()) {
                continue;
            }
            for (Path p : s.logs()) {
                try {
                    long n = LogRotation.rotateIfOversized(p, logConfig.maxBytes(), logConfig.maxBackups());
                    if (n > 0) {
                        LOG.log(System.Logger.Level.INFO, "rotated " + n + " bytes of " + p);
                    }
                } catch (IOException e) {
                    LOG.log(System.Logger.Level.WARNING, "cannot rotate " + p + ": " + e.getMessage());
                }
            }
        }
    }

    // ---- pid file --------------------------------------------------------------------------------------------

    static void writePidFile(Path file, ProcessHandle h) throws IOException {
        ObjectNode o = JSON.createObjectNode();
        o.put("pid", h.pid());
        h.info().startInstant().ifPresent(t -> o.put("start_ms", t.toEpochMilli()));
        h.info().command().ifPresent(c -> o.put("command", c));
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, JSON.writeValueAsString(o));
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    /** The live process the pid file names, when it is still the same process (pid and start instant agree). */
    static Optional<ProcessHandle> readPidFile(Path file) {
        try {
            if (!Files.exists(file) || Files.size(file) > 4096) {
                return Optional.empty();
            }
            JsonNode o = JSON.readTree(Files.readString(file));
            if (o == null || !o.path("pid").canConvertToLong()) {
                return Optional.empty();
            }
            Optional<ProcessHandle> h = ProcessHandle.of(o.get("pid").asLong()).filter(ProcessHandle::isAlive);
            if (h.isEmpty()) {
                return Optional.empty();
            }
            if (o.has("start_ms")) {
                Optional<Instant> t = h.get().info().startInstant();
                if (t.isPresent() && t.get().toEpochMilli() != o.get("start_ms").asLong()) {
                    LOG.log(System.Logger.Level.INFO, "pid file " + file + " names pid " + h.get().pid()
                            + ", which is now another process; not adopting");
                    return Optional.empty();
                }
            }
            return h;
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "unreadable pid file " + file + ": " + e.getMessage());
            return Optional.empty();
        }
    }

    private static String readSys(Path p) throws RaException {
        try {
            return Files.readString(p).trim();
        } catch (IOException e) {
            throw new RaException(Reason.CONFIG_INVALID, p.toString(), "cannot read " + p + ": " + e.getMessage());
        }
    }

    // ---- one supervised VM -----------------------------------------------------------------------------------

    /** One VM across its restarts. Guarded by {@code this}. */
    private final class Supervised implements CvmProcess {
        private final VmLaunch launch;
        private final RestartPolicy policy = new RestartPolicy(autoRestart);
        private final CompletableFuture<Integer> done = new CompletableFuture<>();
        private ProcessHandle handle;
        private Process process;
        private boolean stopRequested;
        private boolean detached;

        Supervised(VmLaunch launch) {
            this.launch = launch;
        }

        List<Path> logs() {
            return List.of(launch.stdoutLog(), launch.workDir().resolve("stderr.log"), launch.serialLog());
        }

        /** Starts QEMU now (guarded). */
        void launchNow() throws RaException {
            QemuCommandLine.Spec spec = spec(launch);
            List<String> args = QemuCommandLine.build(spec);
            if ("vhd".equals(spec.hostShareMode())) {
                throw new RaException(Reason.CONFIG_UNSUPPORTED, "cvm.host_share_mode",
                        "host_share_mode = \"vhd\" needs a FAT32 image of the host share, which this VMM does not "
                                + "build; use 9p or vvfat");
            }
            Path wd = launch.workDir();
            try {
                Files.createDirectories(launch.sharedDir());
                Path hda = wd.resolve("hda.img");
                if (!Files.exists(hda)) {
                    createDisk(hda);
                }
                for (String f : List.of("serial.pty", "qmp.sock")) {
                    Files.deleteIfExists(wd.resolve(f));
                }
                for (Path log : logs()) {
                    LogRotation.rotate(log, logConfig.maxBackups());
                    LogRotation.bootSeparator(log);
                }
                Files.writeString(wd.resolve(ARGS_FILE), JSON.writeValueAsString(args));
            } catch (IOException e) {
                throw new RaException(Reason.VM_PROCESS_FAILED, "workDir",
                        "cannot prepare " + wd + " for VM " + launch.id() + ": " + e.getMessage(), e);
            }
            ProcessBuilder pb = new ProcessBuilder(args).directory(wd.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(launch.stdoutLog().toFile()))
                    .redirectError(ProcessBuilder.Redirect.appendTo(wd.resolve("stderr.log").toFile()));
            Process p;
            try {
                p = pb.start();
            } catch (IOException e) {
                throw new RaException(Reason.VM_PROCESS_FAILED, "cvm.qemu_path",
                        "cannot run " + args.getFirst() + " for VM " + launch.id() + ": " + e.getMessage(), e);
            }
            try {
                writePidFile(launch.pidFile(), p.toHandle());
            } catch (IOException e) {
                p.destroyForcibly();
                throw new RaException(Reason.VM_PROCESS_FAILED, "pidFile",
                        "cannot write " + launch.pidFile() + ": " + e.getMessage(), e);
            }
            LOG.log(System.Logger.Level.INFO, "started VM " + launch.id() + " (pid " + p.pid() + ", cid "
                    + launch.cid() + ")");
            attach(p.toHandle(), p);
        }

        private void createDisk(Path hda) throws IOException, RaException {
            Path qemu = Path.of(config.cvm().qemuPath());
            Path sibling = qemu.getParent() == null ? null : qemu.resolveSibling("qemu-img");
            String img = sibling != null && Files.isExecutable(sibling) ? sibling.toString() : "qemu-img";
            List<String> cmd = new ArrayList<>(List.of(img, "create", "-f", "qcow2"));
            if (launch.image().hda().isPresent()) {
                cmd.addAll(List.of("-o", "backing_file=" + launch.image().hda().get(), "-o", "backing_fmt=qcow2"));
            }
            cmd.add(hda.toString());
            cmd.add(launch.diskGb() + "G");
            Process p;
            try {
                p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            } catch (IOException e) {
                throw new RaException(Reason.VM_PROCESS_FAILED, "qemu-img",
                        "cannot run " + img + " to create " + hda + ": " + e.getMessage(), e);
            }
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            try {
                if (p.waitFor() != 0) {
                    throw new RaException(Reason.VM_PROCESS_FAILED, "qemu-img",
                            "Failed to create disk " + hda + ": " + out.strip());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while creating " + hda, e);
            }
        }

        /** Watches {@code h} (guarded). */
        void attach(ProcessHandle h, Process p) {
            this.handle = h;
            this.process = p;
            Instant started = clock.instant();
            policy.observeRunning(started);
            CompletableFuture<?> exit = p != null ? p.onExit() : h.onExit();
            exit.whenComplete((x, e) -> exited(h, started));
        }

        private synchronized void exited(ProcessHandle h, Instant started) {
            if (h != handle || detached) {
                return;
            }
            int code = process != null ? process.exitValue() : -1;
            Instant now = clock.instant();
            LOG.log(System.Logger.Level.INFO, "VM " + launch.id() + " (pid " + h.pid() + ") exited with " + code);
            if (stopRequested || !autoRestart.enabled()) {
                done.complete(code);
                return;
            }
            policy.observeRunning(started);
            policy.observeRunning(now);
            decide(code);
        }

        private void decide(int code) {
            RestartPolicy.Decision d = policy.observeExited(clock.instant());
            switch (d) {
                case RestartPolicy.Decision.Scheduled s -> retryAfter(s.delay(), code);
                case RestartPolicy.Decision.Wait w -> {
                    if (!w.until().equals(Instant.MAX)) {
                        retryAfter(Duration.between(clock.instant(), w.until()), code);
                    }
                }
                case RestartPolicy.Decision.Restart r -> {
                    LOG.log(System.Logger.Level.INFO, "automatic restart " + r.attempt() + " of VM " + launch.id());
                    try {
                        launchNow();
                    } catch (RaException e) {
                        LOG.log(System.Logger.Level.WARNING, "automatic restart attempt of VM " + launch.id()
                                + " failed: " + e.getMessage());
                        retryAfter(r.nextDelay(), code);
                    }
                }
                case RestartPolicy.Decision.Exhausted x -> {
                    LOG.log(System.Logger.Level.WARNING, "automatic restart of VM " + launch.id()
                            + " stopped after " + x.attempts() + " failed attempts");
                    if (events != null) {
                        try {
                            events.notify(launch.id(), "vmm.auto_restart.exhausted",
                                    "Automatic restart stopped after " + x.attempts() + " failed attempts");
                        } catch (RuntimeException e) {
                            LOG.log(System.Logger.Level.WARNING, "event listener failed", e);
                        }
                    }
                    done.complete(code);
                }
            }
        }

        private void retryAfter(Duration delay, int code) {
            long ms = Math.max(0, delay.toMillis());
            try {
                scheduler.schedule(() -> {
                    synchronized (Supervised.this) {
                        if (!stopRequested && !detached && !isAlive()) {
                            decide(code);
                        }
                    }
                }, ms, TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                // the backend is closing; the VM stays down until a new VMM adopts or starts it
            }
        }

        synchronized void detach() {
            detached = true;
        }

        @Override
        public synchronized long pid() {
            return handle.pid();
        }

        @Override
        public synchronized boolean isAlive() {
            return handle != null && handle.isAlive();
        }

        @Override
        public void shutdown() {
            ProcessHandle h;
            synchronized (this) {
                stopRequested = true;
                policy.reset();
                h = handle;
            }
            if (!qmp("system_powerdown")) {
                h.destroy();
            }
        }

        @Override
        public void kill() {
            ProcessHandle h;
            synchronized (this) {
                stopRequested = true;
                policy.reset();
                h = handle;
            }
            if (!qmp("quit")) {
                h.destroy();
            }
            try {
                scheduler.schedule(() -> {
                    if (h.isAlive()) {
                        LOG.log(System.Logger.Level.WARNING, "VM " + launch.id() + " (pid " + h.pid()
                                + ") still running " + stopTimeout + " after the stop request; SIGKILL");
                        h.destroyForcibly();
                    }
                }, stopTimeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                h.destroyForcibly();
            }
        }

        @Override
        public CompletableFuture<Integer> onExit() {
            return done;
        }

        /** Sends one QMP command; false when QMP is off or unreachable (the caller falls back to a signal). */
        private boolean qmp(String command) {
            if (!config.cvm().qmpSocket()) {
                return false;
            }
            Path sock = launch.workDir().resolve("qmp.sock");
            try {
                QmpClient.execute(sock, command, Duration.ofSeconds(5));
                return true;
            } catch (IOException e) {
                LOG.log(System.Logger.Level.INFO, "QMP " + command + " on " + sock + " failed (" + e.getMessage()
                        + "); sending SIGTERM");
                return false;
            }
        }
    }

    /** Options. */
    public static final class Builder {
        private final VmmConfig config;
        private VmmConfig.AutoRestart autoRestart;
        private VmmConfig.Log log;
        private Clock clock = Clock.systemUTC();
        private Duration stopTimeout = Duration.ofSeconds(10);
        private HostApiListener events;
        private HostTopology topology = HostTopology.sysfs();

        private Builder(VmmConfig config) {
            this.config = Objects.requireNonNull(config, "config");
        }

        /** Overrides {@code [cvm.auto_restart]} (tests use millisecond backoffs). */
        public Builder autoRestart(VmmConfig.AutoRestart v) { autoRestart = v; return this; }
        /** Overrides {@code [cvm.log]}. */
        public Builder log(VmmConfig.Log v) { log = v; return this; }
        public Builder clock(Clock v) { clock = Objects.requireNonNull(v); return this; }
        /** Time between the stop request ({@code kill()}) and SIGKILL (default 10 s). */
        public Builder stopTimeout(Duration v) { stopTimeout = Objects.requireNonNull(v); return this; }
        /** Receives {@code vmm.auto_restart.exhausted} (as a VM event). */
        public Builder events(HostApiListener v) { events = v; return this; }
        public Builder hostTopology(HostTopology v) { topology = Objects.requireNonNull(v); return this; }

        public QemuBackend build() {
            return new QemuBackend(this);
        }
    }

    /** The few QMP exchanges the backend needs: greeting, {@code qmp_capabilities}, one command. */
    static final class QmpClient {
        private QmpClient() {}

        static void execute(Path socket, String command, Duration timeout) throws IOException {
            CompletableFuture<Void> f = CompletableFuture.runAsync(() -> {
                try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                    ch.connect(UnixDomainSocketAddress.of(socket));
                    InputStream in = Channels.newInputStream(ch);
                    OutputStream out = Channels.newOutputStream(ch);
                    readLine(in); // {"QMP": {...}}
                    out.write("{\"execute\":\"qmp_capabilities\"}\n".getBytes(StandardCharsets.US_ASCII));
                    readReturn(in);
                    out.write(("{\"execute\":\"" + command + "\"}\n").getBytes(StandardCharsets.US_ASCII));
                    readReturn(in);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }, r -> Thread.ofVirtual().name("qmp").start(r));
            try {
                f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.ExecutionException e) {
                throw e.getCause() instanceof java.io.UncheckedIOException u ? u.getCause()
                        : new IOException(e.getCause());
            } catch (java.util.concurrent.TimeoutException e) {
                f.cancel(true);
                throw new IOException("no QMP answer within " + timeout);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted");
            }
        }

        /** Reads lines until one with {@code "return"} (events are skipped); an {@code "error"} fails. */
        private static void readReturn(InputStream in) throws IOException {
            for (int i = 0; i < 64; i++) {
                String line = readLine(in);
                if (line == null) {
                    return; // quit: QEMU may close before answering
                }
                JsonNode n = JSON.readTree(line);
                if (n.has("return")) {
                    return;
                }
                if (n.has("error")) {
                    throw new IOException("QMP error: " + n.get("error"));
                }
            }
            throw new IOException("no QMP return after 64 lines");
        }

        private static String readLine(InputStream in) throws IOException {
            StringBuilder b = new StringBuilder();
            int c;
            while ((c = in.read()) >= 0) {
                if (c == '\n') {
                    return b.toString();
                }
                if (b.length() > 64 * 1024) {
                    throw new IOException("QMP line longer than 64 KiB");
                }
                b.append((char) c);
            }
            return b.isEmpty() ? null : b.toString();
        }
    }
}
