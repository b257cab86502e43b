package dev.atlas.dstack.gateway.internal;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.atlas.dstack.ra.RaException;
import java.util.Arrays;
import java.util.Optional;

/**
 * Jazzer target: the PROXY v1/v2 header parser. Only {@link RaException} with a reason and a field may escape; a
 * parsed header takes at most its version's bound, re-encodes to bytes that parse back to the same header, and
 * every shorter prefix of a complete header asks for more instead of answering differently.
 */
class ProxyHeaderFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI. */
    public static void fuzzerTestOneInput(byte[] data) {
        Optional<ProxyProtocol.Parsed> p;
        try {
            p = ProxyProtocol.parse(data, data.length);
        } catch (RaException e) {
            if (e.raReason() == null || e.field() == null) {
                throw new AssertionError("a refusal without reason or field");
            }
            return;
        }
        if (p.isEmpty()) {
            if (data.length >= ProxyProtocol.V2_MAX) {
                throw new AssertionError("still asking for more after " + data.length + " bytes");
            }
            return;
        }
        ProxyProtocol.Parsed parsed = p.get();
        int bound = parsed.header().version() == 1 ? ProxyProtocol.V1_MAX : ProxyProtocol.V2_MAX;
        if (parsed.length() > bound || parsed.length() > data.length) {
            throw new AssertionError("a header longer than its bound");
        }
        try {
            ProxyProtocol.Header again = ProxyProtocol.parseExactly(ProxyProtocol.encode(parsed.header()));
            if (!again.equals(parsed.header()) && !(parsed.header().local() && again.local())) {
                throw new AssertionError("encode/parse changes the header: " + parsed.header() + " / " + again);
            }
            Optional<ProxyProtocol.Parsed> shorter =
                    ProxyProtocol.parse(Arrays.copyOf(data, parsed.length() - 1), parsed.length() - 1);
            if (shorter.isPresent()) {
                throw new AssertionError("a prefix of a header parsed as a whole header");
            }
        } catch (RaException e) {
            throw new AssertionError("an encoded header or a prefix of a valid one is refused", e);
        }
    }
}
