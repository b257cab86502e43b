package dev.atlas.dstack.vmm.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.vmm.CvmProcess;
import dev.atlas.dstack.vmm.PortMapping;
import dev.atlas.dstack.vmm.VmLaunch;
import dev.atlas.dstack.vmm.VmmConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The qemu backend's lifecycle with a stand-in {@code qemu_path} (a Python script written by the test, see
 * {@code stand-in-qemu.py}: records its arguments, writes serial output to the chardev log, serves QMP, exits on
 * QMP quit or SIGTERM): start, logs, pid file, stop by QMP / SIGTERM / SIGKILL, automatic restart, adoption by a
 * new backend, log rotation, refusals. No real QEMU is needed or used.
 */
class QemuBackendLifecycleTest {
    static final Path PYTHON = Path.of("/usr/bin/python3");
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path bin;
    @TempDir
    Path base;

    @BeforeAll
    static void writeStandIns() throws IOException {
        assumeTrue(Files.isExecutable(PYTHON), "the stand-in qemu needs /usr/bin/python3");
        install("stand-in-qemu.py", bin.resolve("qemu-system-x86_64"));
        install("stand-in-qemu-img.py", bin.resolve("qemu-img"));
    }

    static void install(String resource, Path target) throws IOException {
        try (InputStream in = QemuBackendLifecycleTest.class.getResourceAsStream("/dev/atlas/dstack/vmm/qemu/"
                + resource)) {
            Files.write(target, in.readAllBytes());
        }
        Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    QemuFixtures.Cvm cvm() {
        QemuFixtures.Cvm c = new QemuFixtures.Cvm();
        c.qemuPath = bin.resolve("qemu-system-x86_64").toString();
        c.useMrconfigid = false; // the MR_CONFIG_ID path is covered by the golden tests
        return c;
    }

    VmLaunch launch(VmmConfig cfg, String id) throws IOException {
        Path work = base.resolve("run/vm").resolve(id);
        Files.createDirectories(work.resolve("shared"));
        Files.writeString(work.resolve("shared/app-compose.json"), "{}");
        return VmLaunch.builder().id(id).name(id).workDir(work).cid(30000).vcpu(1).memoryMb(1024).diskGb(2)
                .ports(List.of(new PortMapping("tcp", "127.0.0.1", 18080, 8080)))
                .image(QemuFixtures.image(base.resolve("images/dstack-0.5.3"), "0.5.3", false)).config(cfg).build();
    }

    /** Waits (bounded) for a condition the stand-in makes true; the stand-in needs well under a second. */
    static void await(String what, BooleanSupplier cond) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
        }
    }

    static String read(Path p) {
        try {
            return Files.exists(p) ? Files.readString(p) : "";
        } catch (IOException e) {
            return "";
        }
    }

    static int exit(CvmProcess p) throws Exception {
        return p.onExit().get(15, TimeUnit.SECONDS);
    }

    @Test
    void startRecordsTheArgumentsWritesTheLogsAndStopsByQmpQuit() throws Exception {
        QemuFixtures.Cvm c = cvm();
        c.qmpSocket = true;
        VmmConfig cfg = c.build(base);
        try (QemuBackend b = QemuBackend.builder(cfg).build()) {
            VmLaunch l = launch(cfg, "vm-qmp");
            CvmProcess p = b.start(l);
            await("QMP ready", () -> read(l.stdoutLog()).contains("stand-in qmp ready"));
            List<String> expected = b.commandLine(l);
            List<?> recorded = JSON.readValue(l.workDir().resolve("stand-in-args.json").toFile(), List.class);
            assertThat(recorded).isEqualTo(expected.subList(1, expected.size()));
            assertThat(JSON.readValue(l.workDir().resolve(QemuBackend.ARGS_FILE).toFile(), List.class))
                    .isEqualTo(expected);
            assertThat(expected).contains("vhost-vsock-pci,guest-cid=30000")
                    .anyMatch(a -> a.contains("hostfwd=tcp:127.0.0.1:18080-:8080"));
            assertThat(read(l.serialLog())).contains("Booting dstack guest");
            assertThat(read(l.workDir().resolve("hda.img"))).contains("create -f qcow2").endsWith("2G\n");
            assertThat(JSON.readTree(l.pidFile().toFile()).get("pid").asLong()).isEqualTo(p.pid());
            assertThat(p.isAlive()).isTrue();
            assertThatThrownBy(() -> b.start(l)).isInstanceOf(RaException.class)
                    .hasMessageContaining("already running");

            p.kill();
            assertThat(exit(p)).isZero();
            assertThat(read(l.stdoutLog())).contains("stand-in qmp quit");
            assertThat(read(l.workDir().resolve("stand-in-runs")).lines()).hasSize(1);
        }
    }

    @Test
    void shutdownWithoutQmpSendsSigterm() throws Exception {
        VmmConfig cfg = cvm().build(base);
        try (QemuBackend b = QemuBackend.builder(cfg).build()) {
            VmLaunch l = launch(cfg, "vm-term");
            CvmProcess p = b.start(l);
            await("running", () -> read(l.stdoutLog()).contains("stand-in running"));
            p.shutdown();
            assertThat(exit(p)).isZero();
            assertThat(read(l.workDir().resolve("stderr.log"))).contains("terminating on signal 15");
        }
    }

    @Test
    void killEscalatesToSigkillAfterTheStopTimeout() throws Exception {
        VmmConfig cfg = cvm().build(base);
        try (QemuBackend b = QemuBackend.builder(cfg).stopTimeout(Duration.ofMillis(300)).build()) {
            VmLaunch l = launch(cfg, "vm-stubborn");
            Files.writeString(l.workDir().resolve("stand-in-ignore-term"), "");
            CvmProcess p = b.start(l);
            await("running", () -> read(l.stdoutLog()).contains("stand-in running"));
            p.kill();
            assertThat(exit(p)).isEqualTo(137); // 128 + SIGKILL
        }
    }

    @Test
    void aCrashingVmIsRestartedWithBackoffUntilTheBudgetIsUsedUp() throws Exception {
        VmmConfig cfg = cvm().build(base);
        List<String> events = new CopyOnWriteArrayList<>();
        try (QemuBackend b = QemuBackend.builder(cfg)
                .autoRestart(new VmmConfig.AutoRestart(true, Duration.ofSeconds(20), 2, Duration.ofMillis(20),
                        Duration.ofMillis(50), Duration.ofSeconds(300)))
                .events((vm, e, payload) -> events.add(vm + "|" + e + "|" + payload)).build()) {
            VmLaunch l = launch(cfg, "vm-crash");
            Files.writeString(l.workDir().resolve("stand-in-crash"), "99");
            CvmProcess p = b.start(l);
            assertThat(exit(p)).isEqualTo(3);
            assertThat(read(l.workDir().resolve("stand-in-runs")).lines()).hasSize(3); // first run + 2 retries
            assertThat(events).containsExactly(
                    "vm-crash|vmm.auto_restart.exhausted|Automatic restart stopped after 2 failed attempts");
            // each boot rotated the previous one's logs and marked its start
            assertThat(read(LogRotation.segment(l.workDir().resolve("stderr.log"), 1))).contains("stand-in crash 2");
            assertThat(read(l.workDir().resolve("stderr.log"))).contains("===== boot @").contains("stand-in crash 3");
        }
    }

    @Test
    void aVmThatCrashesOnceComesBack() throws Exception {
        VmmConfig cfg = cvm().build(base);
        try (QemuBackend b = QemuBackend.builder(cfg)
                .autoRestart(new VmmConfig.AutoRestart(true, Duration.ofSeconds(20), 5, Duration.ofMillis(20),
                        Duration.ofMillis(50), Duration.ofSeconds(300))).build()) {
            VmLaunch l = launch(cfg, "vm-flaky");
            Files.writeString(l.workDir().resolve("stand-in-crash"), "1");
            CvmProcess p = b.start(l);
            long first = p.pid();
            await("second run", () -> read(l.stdoutLog()).contains("stand-in running"));
            assertThat(p.pid()).isNotEqualTo(first);
            assertThat(p.isAlive()).isTrue();
            assertThat(p.onExit()).isNotDone();
            assertThat(JSON.readTree(l.pidFile().toFile()).get("pid").asLong()).isEqualTo(p.pid());
            p.kill();
            assertThat(exit(p)).isZero();
        }
    }

    @Test
    void aNewBackendAdoptsTheRunningVmFromItsPidFile() throws Exception {
        VmmConfig cfg = cvm().build(base);
        VmLaunch l = launch(cfg, "vm-adopt");
        long pid;
        try (QemuBackend first = QemuBackend.builder(cfg).build()) {
            CvmProcess p = first.start(l);
            pid = p.pid();
            await("running", () -> read(l.stdoutLog()).contains("stand-in running"));
        } // the VMM "restarts": supervision ends, the VM keeps running
        assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive)).contains(true);
        try (QemuBackend second = QemuBackend.builder(cfg).build()) {
            CvmProcess adopted = second.adopt(l).orElseThrow();
            assertThat(adopted.pid()).isEqualTo(pid);
            assertThat(adopted.isAlive()).isTrue();
            adopted.kill();
            assertThat(exit(adopted)).isEqualTo(-1); // not our child: the exit code is unknown
            assertThat(second.adopt(l)).isEmpty(); // dead now
        }
        // a pid file naming a live process that started at another instant (pid reuse) is not adopted
        Files.writeString(l.pidFile(), "{\"pid\":" + ProcessHandle.current().pid() + ",\"start_ms\":1}");
        try (QemuBackend third = QemuBackend.builder(cfg).build()) {
            assertThat(third.adopt(l)).isEmpty();
            Files.writeString(l.pidFile(), "not json");
            assertThat(third.adopt(l)).isEmpty();
        }
    }

    @Test
    void oversizedLogsAreRotatedInPlace() throws Exception {
        QemuFixtures.Cvm c = cvm();
        c.log = new VmmConfig.Log(16, 2, Duration.ofHours(1)); // checked only when the test asks
        VmmConfig cfg = c.build(base);
        try (QemuBackend b = QemuBackend.builder(cfg).build()) {
            VmLaunch l = launch(cfg, "vm-logs");
            CvmProcess p = b.start(l);
            await("running", () -> read(l.stdoutLog()).contains("stand-in running"));
            b.rotateOversizedLogs();
            assertThat(read(LogRotation.segment(l.serialLog(), 1))).contains("Booting dstack guest");
            assertThat(read(l.serialLog())).contains("===== rotated").doesNotContain("Booting dstack guest");
            p.kill();
            assertThat(exit(p)).isZero();
        }
    }

    @Test
    void refusalsLeaveNoProcessBehind() throws Exception {
        QemuFixtures.Cvm c = cvm();
        c.qemuPath = "";
        VmmConfig empty = c.build(base);
        try (QemuBackend b = QemuBackend.builder(empty).build()) {
            assertThatThrownBy(() -> b.start(launch(empty, "vm-empty"))).isInstanceOf(RaException.class)
                    .hasMessageContaining("cvm.qemu_path")
                    .satisfies(e -> assertThat(((RaException) e).raReason()).isEqualTo(Reason.CONFIG_INVALID));
        }
        QemuFixtures.Cvm v = cvm();
        v.hostShareMode = "vhd";
        VmmConfig vhd = v.build(base);
        try (QemuBackend b = QemuBackend.builder(vhd).build()) {
            VmLaunch l = launch(vhd, "vm-vhd");
            assertThatThrownBy(() -> b.start(l)).isInstanceOf(RaException.class)
                    .hasMessageContaining("vhd")
                    .satisfies(e -> assertThat(((RaException) e).raReason()).isEqualTo(Reason.CONFIG_UNSUPPORTED));
            assertThat(l.pidFile()).doesNotExist();
            assertThat(b.commandLine(l)).contains("file=" + l.workDir().resolve("shared.img")
                    + ",if=none,id=hd2,format=raw,readonly=on");
        }
        QemuFixtures.Cvm m = cvm();
        m.qemuPath = base.resolve("no-such-qemu").toString();
        VmmConfig missing = m.build(base);
        try (QemuBackend b = QemuBackend.builder(missing).build()) {
            VmLaunch l = launch(missing, "vm-missing");
            Files.writeString(l.workDir().resolve("hda.img"), "");
            assertThatThrownBy(() -> b.start(l)).isInstanceOf(RaException.class)
                    .hasMessageContaining("no-such-qemu")
                    .satisfies(e -> assertThat(((RaException) e).raReason()).isEqualTo(Reason.VM_PROCESS_FAILED));
            assertThat(l.pidFile()).doesNotExist();
            VmLaunch sim = l.toBuilder().simulatedTee(java.util.Optional.of("dstack-tdx")).build();
            assertThatThrownBy(() -> b.start(sim)).isInstanceOf(RaException.class)
                    .hasMessageContaining("simulator");
        }
    }
}
