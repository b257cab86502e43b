package dev.atlas.dstack.ra;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Jazzer target: the V0 SCALE reader (and, through the first byte, the V1 reader) on arbitrary bytes. Only
 * {@link RaException} with a reason may escape; a V0 input that decodes re-encodes to itself byte for byte.
 * Seeds: {@code src/test/resources/dev/atlas/dstack/ra/ScaleAttestationFuzzTestInputs}.
 */
class ScaleAttestationFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI. */
    public static void fuzzerTestOneInput(byte[] data) {
        byte[] in = data.clone();
        if (in.length > 0) {
            in[0] = 0; // always the SCALE path
        }
        try {
            VersionedAttestation a = VersionedAttestation.decode(in);
            if (!java.util.Arrays.equals(a.encode(), in)) {
                throw new AssertionError("V0 re-encoding differs");
            }
            a.stripped().encode();
            try {
                a.appInfo(false);
            } catch (RaException expected) {
                check(expected);
            }
        } catch (RaException expected) {
            check(expected);
        }
    }

    static void check(RaException e) {
        if (e.raReason() == null) {
            throw new AssertionError("no reason");
        }
    }
}
