package dev.atlas.dstack.ra;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.util.Arrays;

/**
 * Jazzer target: {@code SignCert} CSR decoding, version 2 and version 1, on arbitrary bytes. Only
 * {@link RaException} with a reason may escape; a version 2 input that decodes re-encodes to itself byte for
 * byte; an upgraded version 1 request decodes again as version 2 with the same config. Seeds:
 * {@code src/test/resources/dev/atlas/dstack/ra/CertSigningRequestFuzzTestInputs}.
 */
class CertSigningRequestFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void decode(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI. */
    public static void fuzzerTestOneInput(byte[] data) {
        try {
            CertSigningRequest r = CertSigningRequest.decode(data, 2);
            if (!Arrays.equals(r.encode(), data)) {
                throw new AssertionError("v2 re-encoding differs");
            }
        } catch (RaException expected) {
            ScaleAttestationFuzzTest.check(expected);
        }
        try {
            CertSigningRequest r = CertSigningRequest.decode(data, 1);
            if (!CertSigningRequest.decode(r.encode(), 2).config().equals(r.config())) {
                throw new AssertionError("upgraded v1 does not decode as v2");
            }
        } catch (RaException expected) {
            ScaleAttestationFuzzTest.check(expected);
        }
    }
}
