package dev.atlas.dstack.vmm.internal;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.vmm.VmmConfig;

import java.nio.file.Path;

/** Reads {@code vmm.toml} into {@link VmmConfig} (skeleton). */
public final class VmmConfigReader {
    private VmmConfigReader() {}

    public static VmmConfig load(Path file) throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }

    public static VmmConfig parse(String toml, Path baseDir, String source) throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }
}
