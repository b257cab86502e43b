package dev.atlas.dstack;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.atlas.tdx.AttestationException;

/**
 * Jazzer target: the quote-response and event-log parsers, consistency check and replay on arbitrary text.
 * Only {@link AttestationException} may escape. Seeds: {@code src/test/resources/dev/atlas/dstack/EventLogFuzzTestInputs}.
 */
class EventLogFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI (long runs on demand: bench/fuzz.sh). */
    public static void fuzzerTestOneInput(byte[] data) {
        String text = new String(data, java.nio.charset.StandardCharsets.UTF_8);
        try {
            EventLog log = EventLog.parse(text);
            log.replay();
            log.toJson();
            DstackEvents ev = log.verify();
            ev.keyProvider();
            ev.tlsCertificate();
        } catch (AttestationException expected) {
            if (expected.reason() == null) {
                throw new AssertionError("no reason");
            }
        }
        try {
            QuoteResponse.parse(text).toJson();
        } catch (AttestationException expected) {
            if (expected.reason() == null) {
                throw new AssertionError("no reason");
            }
        }
    }
}
