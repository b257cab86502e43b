package dev.atlas.dstack.ra;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Jazzer target: the {@code AppInfo} msgpack array reader. Only {@link RaException} may escape; a decoded
 * value re-encodes and decodes to itself. Seeds: {@code src/test/resources/dev/atlas/dstack/ra/AppInfoFuzzTestInputs}.
 */
class AppInfoFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI. */
    public static void fuzzerTestOneInput(byte[] data) {
        try {
            AppInfo a = AppInfo.decode(data);
            if (!AppInfo.decode(a.encode()).equals(a)) {
                throw new AssertionError("AppInfo round trip differs");
            }
        } catch (RaException expected) {
            ScaleAttestationFuzzTest.check(expected);
        }
    }
}
