package dev.atlas.dstack.vmm.internal;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.vmm.CvmBackend;
import dev.atlas.dstack.vmm.CvmProcess;
import dev.atlas.dstack.vmm.VmLaunch;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A test backend: a "process" is an object that stays alive until killed; it writes a pid file into the VM
 * directory and a first serial line. Processes live in a static table so that a second VMM (a restart in the same
 * JVM) adopts them through the pid file, as a real backend would.
 */
final class FakeBackend implements CvmBackend {
    static final Map<Long, Proc> PROCESSES = new ConcurrentHashMap<>();
    private static final AtomicLong PIDS = new AtomicLong(100_000);

    final List<VmLaunch> started = new CopyOnWriteArrayList<>();
    volatile boolean failNextStart;

    static final class Proc implements CvmProcess {
        final long pid = PIDS.incrementAndGet();
        final CompletableFuture<Integer> exit = new CompletableFuture<>();
        volatile boolean shutdownRequested;

        @Override
        public long pid() {
            return pid;
        }

        @Override
        public boolean isAlive() {
            return !exit.isDone();
        }

        @Override
        public void shutdown() {
            shutdownRequested = true;
            exit.complete(0);
        }

        @Override
        public void kill() {
            exit.complete(137);
        }

        @Override
        public CompletableFuture<Integer> onExit() {
            return exit;
        }
    }

    @Override
    public String name() {
        return "fake";
    }

    @Override
    public CvmProcess start(VmLaunch launch) throws RaException {
        if (failNextStart) {
            failNextStart = false;
            throw new RaException(RaException.Reason.CONFIG_INVALID, "fake", "start refused by the test");
        }
        Proc p = new Proc();
        PROCESSES.put(p.pid, p);
        try {
            Files.writeString(launch.pidFile(), Long.toString(p.pid));
            Files.writeString(launch.serialLog(), "\u001B[32mboot\u001B[0m " + launch.name() + " cid " + launch.cid()
                    + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new RaException(RaException.Reason.CONFIG_INVALID, "fake", e.toString());
        }
        started.add(launch);
        return p;
    }

    @Override
    public Optional<CvmProcess> adopt(VmLaunch launch) {
        try {
            long pid = Long.parseLong(Files.readString(launch.pidFile()).trim());
            Proc p = PROCESSES.get(pid);
            return p != null && p.isAlive() ? Optional.of(p) : Optional.empty();
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    @Override
    public void close() {}
}
