package dev.atlas.dstack.simulator.internal;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.atlas.dstack.ra.RaException;

/**
 * Jazzer target: the host-share parsers ({@code app-compose.json}, {@code .sys-config.json}, {@code .instance_info})
 * on arbitrary bytes; only {@link RaException} with a reason and a field may escape. Seeds:
 * {@code src/test/resources/.../HostShareFuzzTestInputs}.
 */
class HostShareFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI. */
    public static void fuzzerTestOneInput(byte[] data) {
        try {
            HostShare.parseCompose(data);
        } catch (RaException e) {
            check(e);
        }
        try {
            HostShare.parseSysConfig(data);
        } catch (RaException e) {
            check(e);
        }
        try {
            HostShare.parseInstanceInfo(data);
        } catch (RaException e) {
            check(e);
        }
    }

    private static void check(RaException e) {
        if (e.raReason() == null || e.field() == null) {
            throw new AssertionError("a rejection without reason or field", e);
        }
    }
}
