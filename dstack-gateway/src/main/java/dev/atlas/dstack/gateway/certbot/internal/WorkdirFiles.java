package dev.atlas.dstack.gateway.certbot.internal;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Set;

/**
 * The certbot's files: {@code live} is a symlink to {@code backup/<time>/} swapped with one {@code rename(2)}, so a
 * reader of {@code live/cert.pem} and {@code live/key.pem} sees the old pair or the new pair, never a mix; every
 * file is written to a temporary name, synced and renamed.
 */
public final class WorkdirFiles {
    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'")
            .withZone(ZoneOffset.UTC);
    private static final Set<PosixFilePermission> SECRET = PosixFilePermissions.fromString("rw-------");

    private WorkdirFiles() {
    }

    /** Writes {@code text} to {@code file} atomically; {@code secret} makes it owner-only. */
    public static void writeAtomic(Path file, String text, boolean secret) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = dir.resolve("." + file.getFileName() + ".tmp-" + ProcessHandle.current().pid());
        Files.deleteIfExists(tmp);
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            if (secret) {
                restrict(tmp);
            }
            ch.write(java.nio.ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
            ch.force(true);
        }
        move(tmp, file);
    }

    /**
     * Stores a chain and key as {@code backup/<time>/{cert.pem,key.pem}} (written under a temporary name, then
     * renamed whole) and points {@code live} at it; returns the backup directory. A real {@code live/}
     * directory (dstack's layout: symlinks to a backup) is moved to {@code backup/<time>-previous-live} first.
     */
    public static Path store(Path workdir, Instant now, String chainPem, String keyPem) throws IOException {
        Path backup = workdir.resolve("backup");
        Files.createDirectories(backup);
        String stamp = STAMP.format(now);
        Path target = backup.resolve(stamp);
        for (int i = 1; Files.exists(target, LinkOption.NOFOLLOW_LINKS); i++) {
            target = backup.resolve(stamp + "-" + i);
        }
        Path tmp = backup.resolve(".tmp-" + target.getFileName());
        deleteTree(tmp);
        Files.createDirectories(tmp);
        writeAtomic(tmp.resolve("cert.pem"), chainPem, false);
        writeAtomic(tmp.resolve("key.pem"), keyPem, true);
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        Path live = workdir.resolve("live");
        if (Files.isDirectory(live, LinkOption.NOFOLLOW_LINKS)) {
            Files.move(live, backup.resolve(target.getFileName() + "-previous-live"), StandardCopyOption.ATOMIC_MOVE);
        }
        Path link = workdir.resolve(".live.tmp");
        Files.deleteIfExists(link);
        Files.createSymbolicLink(link, workdir.relativize(target));
        move(link, live);
        return target;
    }

    /** Holds {@code workdir/.certbot.lock} while open; null when another process holds it. */
    public static AutoCloseable lock(Path workdir) throws IOException {
        Files.createDirectories(workdir);
        FileChannel ch = FileChannel.open(workdir.resolve(".certbot.lock"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE);
        java.nio.channels.FileLock l;
        try {
            l = ch.tryLock();
        } catch (java.nio.channels.OverlappingFileLockException e) {
            l = null;
        }
        if (l == null) {
            ch.close();
            return null;
        }
        java.nio.channels.FileLock held = l;
        return () -> {
            held.release();
            ch.close();
        };
    }

    /** A stamp for file names. */
    public static String stamp(Instant now) {
        return STAMP.format(now);
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("the file system of " + to + " cannot rename atomically", e);
        } catch (FileAlreadyExistsException e) {
            throw new IOException(to + " exists and cannot be replaced", e);
        }
    }

    private static void restrict(Path p) throws IOException {
        try {
            Files.setPosixFilePermissions(p, SECRET);
        } catch (UnsupportedOperationException e) {
            // not a POSIX file system: nothing better available
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
            try (var s = Files.list(p)) {
                for (Path c : (Iterable<Path>) s::iterator) {
                    deleteTree(c);
                }
            }
        }
        Files.delete(p);
    }
}
