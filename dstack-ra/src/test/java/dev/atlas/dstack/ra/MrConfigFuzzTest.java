package dev.atlas.dstack.ra;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;

/**
 * Jazzer target: the {@code MrConfigV3} document reader. Only {@link RaException} may escape; a parsed
 * document's canonical form parses to the same value. Seeds:
 * {@code src/test/resources/dev/atlas/dstack/ra/MrConfigFuzzTestInputs}.
 */
class MrConfigFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI. */
    public static void fuzzerTestOneInput(byte[] data) {
        try {
            MrConfigV3 c = MrConfigV3.fromDocument(new String(data, StandardCharsets.UTF_8));
            if (!MrConfigV3.fromDocument(c.toCanonicalJson()).equals(c)) {
                throw new AssertionError("MrConfigV3 round trip differs");
            }
            c.tdxMrConfigId();
        } catch (RaException expected) {
            ScaleAttestationFuzzTest.check(expected);
        }
    }
}
