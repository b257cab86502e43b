package dev.atlas.dstack.gateway.internal;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.atlas.dstack.ra.RaException;

/**
 * Jazzer target: the ZT-domain certbot's state file ({@code zt-state.json}). Only {@link RaException}
 * {@code CERTBOT_STATE_INVALID} with a field may escape; a parsed state serializes and parses back to itself.
 */
class ZtStoreFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI. */
    public static void fuzzerTestOneInput(byte[] data) {
        ZtStore.State s;
        try {
            s = ZtStore.parse(data, "/fuzz/zt-state.json");
        } catch (RaException e) {
            if (e.raReason() != RaException.Reason.CERTBOT_STATE_INVALID || e.field() == null) {
                throw new AssertionError("a refusal without the state reason or a field", e);
            }
            return;
        }
        try {
            if (!ZtStore.parse(ZtStore.serialize(s), "again").equals(s)) {
                throw new AssertionError("a parsed state does not round-trip");
            }
        } catch (RaException e) {
            throw new AssertionError("a parsed state does not parse again", e);
        }
    }
}
