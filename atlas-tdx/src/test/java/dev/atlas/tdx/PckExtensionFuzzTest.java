package dev.atlas.tdx;

import com.code_intelligence.jazzer.junit.FuzzTest;

/** Jazzer target: the DER reader behind the PCK SGX extension. Only {@link AttestationException} may escape. */
class PckExtensionFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void parse(byte[] der) {
        fuzzerTestOneInput(der);
    }

    /** Entry point for the Jazzer CLI (long runs on demand: bench/fuzz.sh). */
    public static void fuzzerTestOneInput(byte[] der) {
        try {
            PckExtension e = PckExtension.parse(der);
            e.fmspc();
            e.cpuSvn();
        } catch (AttestationException expected) {
            // a reason is all we want
        }
    }
}
