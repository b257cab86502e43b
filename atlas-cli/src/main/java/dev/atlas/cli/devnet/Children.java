package dev.atlas.cli.devnet;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** Starting, finding and stopping the devnet's child processes. */
final class Children {
    private Children() {}

    /** Flags of every child JVM: small, quick to start (measured: see docs/dev-up.md). */
    static final List<String> JVM_FLAGS = List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k",
            "-Xshare:auto", "-XX:-UsePerfData", "--enable-native-access=ALL-UNNAMED",
            "--sun-misc-unsafe-memory-access=allow");

    /** {@code java <flags> -cp <this class path> dev.atlas.cli.Main}: this JVM running atlas-cli again. */
    static List<String> atlasCommand() {
        return atlasCommand(null);
    }

    /**
     * As {@link #atlasCommand()}, with a class-data-sharing archive per {@code cdsName} when this JVM runs from one
     * jar: {@code <jar dir>/atlas-cli-cds/<cdsName>.jsa}, used when it exists (the JVM ignores it when the jar has
     * changed). {@code ATLAS_DEV_CDS=create} has each child create (or re-create) its archive at exit
     * ({@code -XX:+AutoCreateSharedArchive}); {@code off} uses none. Not created by default: the dump at exit costs
     * seconds per JVM on 2 cores, which a first {@code atlas demo} would pay in its teardown.
     */
    static List<String> atlasCommand(String cdsName) {
        return javaCommand(cdsName, "dev.atlas.cli.Main");
    }

    /** {@code java <flags> [CDS] -cp <this class path> <mainClass>}. */
    static List<String> javaCommand(String cdsName, String mainClass) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(JVM_FLAGS);
        cdsArchive(cdsName).ifPresent(a -> {
            if (cdsCreate()) {
                cmd.add("-XX:SharedArchiveFile=" + a);
                cmd.add("-XX:+AutoCreateSharedArchive");
            } else if (Files.isRegularFile(a)) {
                cmd.add("-XX:SharedArchiveFile=" + a);
            } else {
                return;
            }
            cmd.add("-Xlog:cds=off");
            cmd.add("-Xlog:cds+dynamic=off");
        });
        String extra = System.getenv("ATLAS_DEV_JVM_FLAGS");
        if (extra != null && !extra.isBlank()) {
            cmd.addAll(List.of(extra.trim().split("\\s+")));
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(mainClass);
        return cmd;
    }

    /** {@code ATLAS_DEV_CDS=create}: children create their class-data-sharing archives at exit. */
    static boolean cdsCreate() {
        return "create".equals(System.getenv("ATLAS_DEV_CDS"));
    }

    static Optional<Path> cdsArchive(String name) {
        if (name == null || "off".equals(System.getenv("ATLAS_DEV_CDS"))) {
            return Optional.empty();
        }
        String cp = System.getProperty("java.class.path", "");
        if (cp.isEmpty() || cp.contains(java.io.File.pathSeparator) || !cp.endsWith(".jar")) {
            return Optional.empty();
        }
        Path dir = Path.of(cp).toAbsolutePath().getParent().resolve("atlas-cli-cds");
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            return Optional.empty();
        }
        return Files.isWritable(dir) ? Optional.of(dir.resolve(name + ".jsa")) : Optional.empty();
    }

    /**
     * Starts {@code atlas <args>} detached in its own session ({@code setsid}, so a Ctrl-C in the terminal after
     * {@code dev up} returned does not reach it), stdout and stderr appended to {@code log}.
     */
    static Process start(String name, List<String> atlasArgs, Map<String, String> env, Path log, Path workDir)
            throws IOException {
        List<String> cmd = new ArrayList<>();
        Path setsid = Path.of("/usr/bin/setsid");
        if (Files.isExecutable(setsid)) {
            cmd.add(setsid.toString());
        }
        cmd.addAll(atlasCommand(name));
        cmd.addAll(atlasArgs);
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(workDir.toFile()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
        pb.environment().remove("JAVA_TOOL_OPTIONS");
        pb.environment().putAll(env);
        return pb.start();
    }

    /**
     * The live process {@code pid} if it belongs to this devnet: its command line names {@code marker} (a path
     * inside the devnet directory), so a reused pid is never signalled.
     */
    static Optional<ProcessHandle> ours(long pid, String marker) {
        if (pid <= 0) {
            return Optional.empty();
        }
        return ProcessHandle.of(pid).filter(ProcessHandle::isAlive).filter(h -> cmdline(h).contains(marker));
    }

    static String cmdline(ProcessHandle h) {
        try {
            byte[] b = Files.readAllBytes(Path.of("/proc", Long.toString(h.pid()), "cmdline"));
            return new String(b, StandardCharsets.UTF_8).replace('\0', ' ');
        } catch (IOException e) {
            return h.info().commandLine().orElse("");
        }
    }

    /** SIGTERM to each, then waits up to {@code graceMillis} in all; what is left is killed with its descendants. */
    static void stop(List<ProcessHandle> handles, long graceMillis) {
        List<ProcessHandle> desc = new ArrayList<>();
        for (ProcessHandle h : handles) {
            desc.addAll(h.descendants().toList());
            h.destroy();
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(graceMillis);
        for (ProcessHandle h : handles) {
            long left = deadline - System.nanoTime();
            try {
                if (left > 0) {
                    h.onExit().get(left, TimeUnit.NANOSECONDS);
                }
            } catch (Exception e) {
                // killed below
            }
        }
        for (ProcessHandle h : handles) {
            if (h.isAlive()) {
                h.descendants().forEach(ProcessHandle::destroyForcibly);
                h.destroyForcibly();
            }
        }
        for (ProcessHandle d : desc) {
            if (d.isAlive()) {
                d.destroyForcibly();
            }
        }
        for (ProcessHandle h : handles) {
            try {
                h.onExit().get(5, TimeUnit.SECONDS);
            } catch (Exception e) {
                // nothing more to do
            }
        }
    }

    /**
     * SIGTERM to one process, SIGKILL after {@code graceMillis}; its descendants are left alone (the VMM's simulated
     * guests survive a VMM restart, as VMs do).
     */
    static void stopAlone(ProcessHandle h, long graceMillis) {
        h.destroy();
        try {
            h.onExit().get(graceMillis, TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            h.destroyForcibly();
            try {
                h.onExit().get(5, TimeUnit.SECONDS);
            } catch (Exception e2) {
                // nothing more to do
            }
        }
    }

    /** The log's last non-empty lines (for failure messages), at most {@code n}. */
    static String tail(Path log, int n) {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8).stream().filter(s -> !s.isBlank())
                    .toList();
            return String.join(" | ", lines.subList(Math.max(0, lines.size() - n), lines.size()));
        } catch (IOException | java.io.UncheckedIOException e) {
            return "";
        }
    }
}
