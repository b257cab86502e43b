package dev.atlas.measure;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;

/**
 * Jazzer target: {@link LiteCheck#check(String)} on an arbitrary GetQuote response (the response JSON, the event
 * log, the vm_config and its measurement document, the quote). Only {@link MeasureException} may escape. Seeds:
 * {@code src/test/resources/dev/atlas/measure/LiteResponseFuzzTestInputs}.
 */
class LiteResponseFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void check(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI. */
    public static void fuzzerTestOneInput(byte[] data) {
        try {
            LiteCheck.check(new String(data, StandardCharsets.UTF_8));
        } catch (MeasureException expected) {
            if (expected.measureReason() == null || expected.getMessage() == null) {
                throw new AssertionError("no reason");
            }
        }
    }
}
