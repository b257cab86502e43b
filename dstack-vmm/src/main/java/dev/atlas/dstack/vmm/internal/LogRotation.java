package dev.atlas.dstack.vmm.internal;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

/**
 * In-place log rotation for logs written through {@code O_APPEND} descriptors ({@code [cvm.log]}; upstream
 * {@code vmm/src/logrotate.rs}): segments {@code log.1 .. log.N} shift up, the oldest is dropped, the live file is
 * copied to {@code log.1} and truncated, so a writer that keeps its descriptor (QEMU with {@code logappend=on}, the
 * child's redirected stdout) resumes at the new end of file. A note saying where the bytes went is appended.
 */
public final class LogRotation {
    private LogRotation() {}

    /** Rotates {@code log} when it is non-empty; returns the bytes rotated (0: nothing done). */
    public static long rotate(Path log, int maxBackups) throws IOException {
        long bytes = Files.exists(log) ? Files.size(log) : 0;
        if (bytes == 0) {
            return 0;
        }
        String note;
        if (maxBackups <= 0) {
            truncate(log);
            note = "\n===== discarded " + bytes + " bytes @ " + now() + " =====\n";
        } else {
            Files.deleteIfExists(segment(log, maxBackups));
            for (int i = maxBackups - 1; i >= 1; i--) {
                Path from = segment(log, i);
                if (Files.exists(from)) {
                    Files.move(from, segment(log, i + 1), StandardCopyOption.REPLACE_EXISTING);
                }
            }
            Files.copy(log, segment(log, 1), StandardCopyOption.REPLACE_EXISTING);
            truncate(log);
            note = "\n===== rotated " + bytes + " bytes to " + segment(log, 1).getFileName() + " @ " + now()
                    + " =====\n";
        }
        append(log, note);
        return bytes;
    }

    /** Rotates {@code log} when it is larger than {@code maxBytes} (0 disables). */
    public static long rotateIfOversized(Path log, long maxBytes, int maxBackups) throws IOException {
        if (maxBytes <= 0 || !Files.exists(log) || Files.size(log) <= maxBytes) {
            return 0;
        }
        return rotate(log, maxBackups);
    }

    /** Appends the boot separator ({@code ===== boot @ <time> =====}) to an existing log. */
    public static void bootSeparator(Path log) throws IOException {
        if (Files.exists(log)) {
            append(log, "\n===== boot @ " + now() + " =====\n\n");
        }
    }

    public static Path segment(Path log, int index) {
        return log.resolveSibling(log.getFileName() + "." + index);
    }

    private static void truncate(Path log) throws IOException {
        try (var ch = Files.newByteChannel(log, StandardOpenOption.WRITE)) {
            ch.truncate(0);
        }
    }

    private static void append(Path log, String text) throws IOException {
        Files.writeString(log, text, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    }

    private static String now() {
        return Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
    }
}
