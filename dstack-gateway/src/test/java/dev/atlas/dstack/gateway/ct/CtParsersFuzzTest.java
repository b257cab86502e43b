package dev.atlas.dstack.gateway.ct;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.atlas.dstack.ra.RaException;
import java.util.Arrays;
import java.util.List;

/**
 * Jazzer target: the CT monitor's parsers of untrusted input, selected by the first byte: the gateway's
 * {@code /acme-info}, crt.sh's JSON listing, crt.sh's certificate PEM, and the state file. Only
 * {@link RaException} with a fine reason and a field may escape; what parses stays within its limits.
 */
class CtParsersFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI. */
    public static void fuzzerTestOneInput(byte[] data) {
        if (data.length == 0) {
            return;
        }
        byte[] in = Arrays.copyOfRange(data, 1, data.length);
        try {
            switch ((data[0] & 0xff) % 4) {
                case 0 -> {
                    AcmeInfo a = AcmeInfo.parse(in, "fuzz");
                    if (a.quotedKeys().size() > AcmeInfo.MAX_KEYS) {
                        throw new AssertionError("more keys than the limit");
                    }
                    for (AcmeInfo.QuotedKey k : a.quotedKeys()) {
                        if (k.spki().length == 0) {
                            throw new AssertionError("an empty key was accepted");
                        }
                    }
                }
                case 1 -> {
                    List<CrtShEntry> rows = CrtShEntry.parseList(in, 1 << 20, "fuzz");
                    for (CrtShEntry e : rows) {
                        if (e.id() <= 0) {
                            throw new AssertionError("a non-positive id was accepted");
                        }
                    }
                }
                case 2 -> {
                    byte[] spki = CertificateKey.spkiFromPem(in, "fuzz");
                    if (spki.length == 0) {
                        throw new AssertionError("an empty SPKI");
                    }
                }
                default -> MonitorState.parse(in, "fuzz", "fuzz.test").toJson();
            }
        } catch (RaException e) {
            if (e.raReason() == null || e.field() == null) {
                throw new AssertionError("a refusal without reason or field", e);
            }
        }
    }
}
