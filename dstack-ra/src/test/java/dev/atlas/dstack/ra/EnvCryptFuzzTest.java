package dev.atlas.dstack.ra;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;

/**
 * Jazzer target: env decryption and the env JSON reader on arbitrary ciphertexts and plaintexts. Only
 * {@link RaException} may escape. Seeds: {@code src/test/resources/dev/atlas/dstack/ra/EnvCryptFuzzTestInputs}.
 */
class EnvCryptFuzzTest {
    static final SecretBytes KEY = SecretBytes.of(dev.atlas.dstack.ra.internal.Hashes.sha256(
            "fuzz".getBytes(StandardCharsets.US_ASCII)));

    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI. */
    public static void fuzzerTestOneInput(byte[] data) {
        try {
            EnvCrypt.decrypt(KEY, data);
        } catch (RaException expected) {
            ScaleAttestationFuzzTest.check(expected);
        }
        try {
            EnvCrypt.parse(data);
        } catch (RaException expected) {
            ScaleAttestationFuzzTest.check(expected);
        }
    }
}
