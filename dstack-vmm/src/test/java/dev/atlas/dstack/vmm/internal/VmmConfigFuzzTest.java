package dev.atlas.dstack.vmm.internal;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.atlas.dstack.ra.RaException;

import java.nio.file.Path;

/** Jazzer: the {@code vmm.toml} reader either returns a config or throws {@link RaException}, nothing else. */
class VmmConfigFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        try {
            VmmConfigReader.parseBytes(data, Path.of("/tmp/vmm-fuzz"));
        } catch (RaException expected) {
            // refused with a reason
        }
    }
}
