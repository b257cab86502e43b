package dev.atlas.dstack.vmm;

import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * A guest OS image directory under {@code [image] path}: its {@code metadata.json} (kernel, initrd, bios, cmdline,
 * rootfs, version, is_dev) resolved against the directory, and {@code digest.txt} (the os image hash) when present.
 */
public record ImageInfo(
        String name,
        Path dir,
        Optional<Path> bios,
        Path kernel,
        Path initrd,
        Optional<Path> hda,
        Optional<Path> rootfs,
        String cmdline,
        String version,
        boolean isDev,
        boolean sharedRo,
        Optional<String> rootfsHash,
        Optional<String> digest) {
    public ImageInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dir, "dir");
        Objects.requireNonNull(bios, "bios");
        Objects.requireNonNull(kernel, "kernel");
        Objects.requireNonNull(initrd, "initrd");
        Objects.requireNonNull(hda, "hda");
        Objects.requireNonNull(rootfs, "rootfs");
        Objects.requireNonNull(cmdline, "cmdline");
        Objects.requireNonNull(version, "version");
        Objects.requireNonNull(rootfsHash, "rootfsHash");
        Objects.requireNonNull(digest, "digest");
    }
}
