package dev.atlas.dstack.gateway.internal;

import dev.atlas.dstack.gateway.GatewayConfig;
import dev.atlas.dstack.ra.RaException;

import java.nio.file.Path;

/** Reads {@code gateway.toml} over the shipped defaults (skeleton). */
public final class GatewayConfigReader {
    private GatewayConfigReader() {
    }

    public static GatewayConfig load(Path file) throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }

    public static GatewayConfig read(byte[] bytes, Path file) throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }
}
