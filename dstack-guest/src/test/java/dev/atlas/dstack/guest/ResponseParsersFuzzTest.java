package dev.atlas.dstack.guest;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Jazzer target: every response parser of {@link DstackClient} (Info, GetQuote, Attest, GetKey, GetTlsKey with
 * its PEM parsing, Sign, Verify, Version, the pRPC error body) on arbitrary bytes. Only a
 * {@link DstackGuestException} with reason {@code MALFORMED_RESPONSE} may escape. Seeds:
 * {@code src/test/resources/dev/atlas/dstack/guest/ResponseParsersFuzzTestInputs}.
 */
class ResponseParsersFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI (long runs on demand). */
    public static void fuzzerTestOneInput(byte[] data) {
        ResponseParsers.Ctx c = new ResponseParsers.Ctx("unix:/fuzz", "Fuzz");
        ResponseParsers.error(data);
        for (int i = 0; i < 8; i++) {
            try {
                switch (i) {
                    case 0 -> ResponseParsers.info(c, data);
                    case 1 -> ResponseParsers.quote(c, data).toString();
                    case 2 -> ResponseParsers.attestation(c, data);
                    case 3 -> ResponseParsers.key(c, data).toString();
                    case 4 -> ResponseParsers.tlsKey(c, data).toString();
                    case 5 -> ResponseParsers.signature(c, data).toString();
                    case 6 -> ResponseParsers.valid(c, data);
                    default -> ResponseParsers.version(c, data);
                }
            } catch (DstackGuestException expected) {
                if (expected.reason() != DstackGuestException.Reason.MALFORMED_RESPONSE) {
                    throw new AssertionError("unexpected reason " + expected.reason(), expected);
                }
            }
        }
    }
}
