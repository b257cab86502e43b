package dev.atlas.measure;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Jazzer target: the document parsers, chosen by the first byte — 0 {@code measurement.tdx.cbor} (CBOR reader and
 * schema), 1 {@code sha256sum.txt}, 2 the TD HOB witness and its digest (the next 8 bytes are the memory size). Only
 * {@link MeasureException} may escape. Seeds: {@code src/test/resources/dev/atlas/measure/LiteDocumentFuzzTestInputs}.
 */
class LiteDocumentFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI. */
    public static void fuzzerTestOneInput(byte[] data) {
        if (data.length == 0) {
            return;
        }
        byte[] rest = Arrays.copyOfRange(data, 1, data.length);
        try {
            switch ((data[0] & 0xff) % 3) {
                case 0: {
                    if (rest.length > MeasurementDocument.MAX_BYTES) {
                        return;
                    }
                    MeasurementDocument.Content c = new MeasurementDocument(new byte[0], rest).decode();
                    if (c.mrtdTwoPass().length != 48 || c.kernelAuthenticode().length != 48) {
                        throw new AssertionError("digest length not enforced");
                    }
                    break;
                }
                case 1: {
                    byte[] h = MeasurementDocument.entryHash(rest, MeasurementDocument.TDX_MEASUREMENT_FILENAME);
                    if (h.length != 32) {
                        throw new AssertionError("entry hash is not 32 bytes");
                    }
                    break;
                }
                default: {
                    if (rest.length < 8) {
                        return;
                    }
                    long mem = ByteBuffer.wrap(rest, 0, 8).getLong() & 0x7fffffffffffffffL;
                    Rtmr0Fixed.TdHobLayout l = Rtmr0Fixed.TdHobLayout.fromWitness(Arrays.copyOfRange(rest, 8, rest.length));
                    if (Rtmr0Fixed.tdHobDigest(l, Math.max(1, mem % (1L << 46))).length != 48) {
                        throw new AssertionError("TD HOB digest is not SHA-384");
                    }
                }
            }
        } catch (MeasureException expected) {
            if (expected.measureReason() == null || expected.getMessage() == null) {
                throw new AssertionError("no reason");
            }
        }
    }
}
