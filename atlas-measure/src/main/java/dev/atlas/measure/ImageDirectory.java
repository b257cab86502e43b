package dev.atlas.measure;

import java.nio.file.Path;
import java.util.Optional;

/**
 * A dstack OS image directory: {@code metadata.json} naming the firmware ({@code bios}), {@code kernel} and
 * {@code initrd} files and the kernel {@code cmdline}, plus the optional {@code digest.txt}.
 */
public final class ImageDirectory {
    private ImageDirectory() {
    }

    /** Reads and validates {@code dir/metadata.json}. */
    public static ImageDirectory open(Path dir) throws MeasureException {
        throw new UnsupportedOperationException("skeleton");
    }

    public Path dir() { throw new UnsupportedOperationException("skeleton"); }
    public Path bios() { throw new UnsupportedOperationException("skeleton"); }
    public Path kernel() { throw new UnsupportedOperationException("skeleton"); }
    public Path initrd() { throw new UnsupportedOperationException("skeleton"); }
    public String cmdline() { throw new UnsupportedOperationException("skeleton"); }
    public String version() { throw new UnsupportedOperationException("skeleton"); }
    public Optional<String> digest() { throw new UnsupportedOperationException("skeleton"); }
}
