package dev.atlas.cli;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Writing files the CLI produces: private keys with mode 0600 from the moment they exist (a temporary file
 * created with that mode in the target's directory, then moved over the target), public files normally.
 */
final class SecretFiles {
    private SecretFiles() {}

    /** Writes {@code bytes} to {@code file} with mode 0600 (owner read/write only); replaces an existing file. */
    static void writePrivate(Path file, byte[] bytes, String option) throws CliErrors.CliException {
        Path abs = file.toAbsolutePath();
        Path dir = abs.getParent();
        boolean posix = FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
        Path tmp = null;
        try {
            if (dir == null || !Files.isDirectory(dir)) {
                throw CliErrors.input("cannot write " + file + " (" + option + "): its directory does not exist");
            }
            if (Files.isDirectory(abs)) {
                throw CliErrors.input("cannot write " + file + " (" + option + "): it is a directory");
            }
            tmp = posix ? Files.createTempFile(dir, ".atlas-key-", ".tmp",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))
                    : Files.createTempFile(dir, ".atlas-key-", ".tmp");
            Files.write(tmp, bytes);
            try {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            }
            tmp = null;
        } catch (IOException e) {
            throw CliErrors.unwritable(file, option, e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // best effort: the temporary file holds the key; report the original failure
                }
            }
        }
    }

    /** Writes a public file (a certificate chain). */
    static void writePublic(Path file, byte[] bytes, String option) throws CliErrors.CliException {
        try {
            Files.write(file, bytes);
        } catch (IOException e) {
            throw CliErrors.unwritable(file, option, e);
        }
    }
}
