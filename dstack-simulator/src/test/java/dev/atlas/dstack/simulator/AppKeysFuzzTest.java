package dev.atlas.dstack.simulator;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.atlas.dstack.ra.RaException;

/**
 * Jazzer target: {@link AppKeys#parse} on arbitrary bytes; only {@link RaException} with a reason may escape, and
 * what parses must survive its own round trip. The same bytes go through the {@code sys-config.json} reader, from
 * which only {@link java.io.IOException} may escape. Seeds: {@code src/test/resources/.../AppKeysFuzzTestInputs}.
 */
class AppKeysFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI. */
    public static void fuzzerTestOneInput(byte[] data) {
        try {
            GuestAgentSimulator.vmConfig(data);
        } catch (java.io.IOException expected) {
            // rejected with a message; nothing else may escape
        }
        AppKeys k;
        try {
            k = AppKeys.parse(data);
        } catch (RaException expected) {
            if (expected.raReason() == null || expected.field() == null) {
                throw new AssertionError("a rejection without reason or field", expected);
            }
            return;
        }
        try {
            if (!AppKeys.parse(k.toJson()).equals(k)) {
                throw new AssertionError("round trip changed the keys");
            }
        } catch (RaException e) {
            throw new AssertionError("our own output does not parse", e);
        }
    }
}
