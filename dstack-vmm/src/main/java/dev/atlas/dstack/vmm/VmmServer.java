package dev.atlas.dstack.vmm;

/** The VMM's listeners (skeleton; issue20-core fills it in). */
public final class VmmServer {
    private VmmServer() {}
}
