package dev.atlas.protocol;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Jazzer target: the HTTP/1.1 response reader in closed mode ({@link Http1ResponseReader#parseClosed}, the
 * guest agent's answers) on arbitrary bytes. Only {@link IllegalArgumentException} may escape; an accepted
 * response is within the limits. Seeds:
 * {@code src/test/resources/dev/atlas/protocol/Http1ResponseReaderClosedFuzzTestInputs}.
 */
class Http1ResponseReaderClosedFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI (long runs on demand: bench/fuzz.sh). */
    public static void fuzzerTestOneInput(byte[] data) {
        try {
            Http1ResponseReader.Response r = Http1ResponseReader.parseClosed(data, 1 << 16);
            if (r.status() < 200 || r.status() > 599 || r.body().length > 1 << 16) {
                throw new AssertionError("accepted out-of-range response");
            }
        } catch (IllegalArgumentException expected) {
            // malformed
        }
    }
}
