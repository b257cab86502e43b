package dev.atlas.dstack;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.atlas.tdx.AttestationException;

/**
 * Jazzer target: {@link PolicyJson} reading (UTF-8 bytes); whatever loads must write and read back to an equal policy.
 * Seeds: {@code src/test/resources/dev/atlas/dstack/PolicyFuzzTestInputs}.
 */
class PolicyFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI (long runs on demand: bench/fuzz.sh). */
    public static void fuzzerTestOneInput(byte[] data) {
        try {
            DstackTdxPolicy p = PolicyJson.parse(data);
            DstackTdxPolicy again = PolicyJson.parse(PolicyJson.write(p));
            if (!again.equals(p) || !java.util.Objects.equals(again.composeHash(), p.composeHash())) {
                throw new AssertionError("policy does not round-trip: " + p.toJson());
            }
            p.warnings();
        } catch (AttestationException expected) {
            if (expected.reason() != AttestationException.Reason.INVALID_POLICY) {
                throw new AssertionError("unexpected reason " + expected.reason());
            }
        }
    }
}
