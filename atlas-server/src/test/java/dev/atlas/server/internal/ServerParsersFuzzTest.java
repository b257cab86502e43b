package dev.atlas.server.internal;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Jazzer target for the server's parsers: the guest-agent HTTP/1.1 response reader (also fuzzed in atlas-protocol), the {@code /tdx_quote}
 * request parser and the event-log back-fill. The first byte picks the parser. Only the documented exceptions may
 * escape; the back-fill never throws, and what it rewrites is a JSON array again. Seeds:
 * {@code src/test/resources/dev/atlas/server/internal/ServerParsersFuzzTestInputs}.
 */
class ServerParsersFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI (long runs on demand: bench/fuzz.sh). */
    public static void fuzzerTestOneInput(byte[] data) {
        if (data.length == 0) {
            return;
        }
        byte[] rest = Arrays.copyOfRange(data, 1, data.length);
        switch ((data[0] & 0xff) % 3) {
            case 0 -> {
                // The guest-agent response reader: Http1ResponseReader.parseClosed, fuzzed in atlas-protocol
                // (Http1ResponseReaderClosedFuzzTest); this selector stays so the seeds keep their meaning.
                try {
                    var r = dev.atlas.protocol.Http1ResponseReader.parseClosed(rest, 1 << 16);
                    if (r.status() < 200 || r.status() > 599 || r.bodyLength() > 1 << 16) {
                        throw new AssertionError("accepted out-of-range response");
                    }
                } catch (IllegalArgumentException expected) {
                    // malformed
                }
            }
            case 1 -> {
                try {
                    if (TdxQuoteHandler.parseNonce(rest).length != 32) {
                        throw new AssertionError("nonce not 32 bytes");
                    }
                } catch (TdxQuoteHandler.InvalidRequest expected) {
                    expected.detailJson();
                }
            }
            default -> {
                String in = new String(rest, StandardCharsets.UTF_8);
                String out = EventLogBackfill.backfill(in);
                if (!out.equals(in)) {
                    try {
                        if (!new com.fasterxml.jackson.databind.ObjectMapper().readTree(out).isArray()) {
                            throw new AssertionError("back-fill produced a non-array");
                        }
                    } catch (java.io.IOException e) {
                        throw new AssertionError("back-fill produced malformed JSON", e);
                    }
                    if (!EventLogBackfill.backfill(out).equals(out)) {
                        throw new AssertionError("back-fill is not idempotent");
                    }
                }
            }
        }
    }
}
