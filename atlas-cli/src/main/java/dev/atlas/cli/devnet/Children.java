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
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(JVM_FLAGS);
        String extra = System.getenv("ATLAS_DEV_JVM_FLAGS");
        if (extra != null && !extra.isBlank()) {
            cmd.addAll(List.of(extra.trim().split("\\s+")));
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add("dev.atlas.cli.Main");
        return cmd;
    }

    /**
     * Starts {@code atlas <args>} detached in its own session ({@code setsid}, so a Ctrl-C in the terminal after
     * {@code dev up} returned does not reach it), stdout and stderr appended to {@code log}.
     */
    static Process start(List<String> atlasArgs, Map<String, String> env, Path log, Path workDir) throws IOException {
        List<String> cmd = new ArrayList<>();
        Path setsid = Path.of("/usr/bin/setsid");
        if (Files.isExecutable(setsid)) {
            cmd.add(setsid.toString());
        }
        cmd.addAll(atlasCommand());
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
