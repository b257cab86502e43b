package dev.atlas.tdx;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Jazzer target: the quote parser on arbitrary bytes. Only {@link AttestationException} may escape.
 * Regression mode (every build) replays {@code src/test/resources/dev/atlas/tdx/QuoteParserFuzzTestInputs};
 * fuzzing mode: see docs/testing.md.
 */
class QuoteParserFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI (long runs on demand: bench/fuzz.sh). */
    public static void fuzzerTestOneInput(byte[] data) {
        try {
            Quote q = Quote.parse(data);
            q.toString();
            q.reportData();
            q.certificationData().bodyAsText();
        } catch (AttestationException expected) {
            if (expected.reason() == null) {
                throw new AssertionError("no reason");
            }
        }
    }
}
