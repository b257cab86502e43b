package dev.atlas.tdx;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Jazzer target: the collateral JSON reader and the TCB info / QE identity parsers on arbitrary text.
 * Only {@link AttestationException} may escape.
 */
class CollateralParserFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void parse(FuzzedDataProvider data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI (long runs on demand: bench/fuzz.sh). */
    public static void fuzzerTestOneInput(FuzzedDataProvider data) {
        String text = data.consumeRemainingAsString();
        try {
            Collateral c = Collateral.fromJson(text);
            c.toJson();
        } catch (AttestationException expected) {
            // a reason is all we want
        }
        try {
            TcbInfo.parse(text);
        } catch (AttestationException expected) {
            // ditto
        }
        try {
            QeIdentity.parse(text);
        } catch (AttestationException expected) {
            // ditto
        }
    }
}
