package dev.atlas.dstack.ra;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Jazzer target: the V1 msgpack reader on arbitrary bytes. Only {@link RaException} may escape; a decoded
 * attestation re-encodes to bytes that decode to the same value. Seeds:
 * {@code src/test/resources/dev/atlas/dstack/ra/MsgpackAttestationFuzzTestInputs}.
 */
class MsgpackAttestationFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI. */
    public static void fuzzerTestOneInput(byte[] data) {
        try {
            VersionedAttestation a = VersionedAttestation.decode(data);
            if (!VersionedAttestation.decode(a.encode()).equals(a)) {
                throw new AssertionError("V1 round trip differs");
            }
            a.stripped();
        } catch (RaException expected) {
            ScaleAttestationFuzzTest.check(expected);
        }
    }
}
