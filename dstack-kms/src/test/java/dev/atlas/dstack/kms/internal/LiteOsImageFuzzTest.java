package dev.atlas.dstack.kms.internal;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.atlas.dstack.ra.RaException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Jazzer target: every parser of the lite OS-image check, chosen by the first byte — 0 the vm_config JSON
 * ({@link LiteVmConfig}, then the document's hash binding), 1 {@code sha256sum.txt} ({@link MeasurementDocument}),
 * 2 {@code measurement.tdx.cbor} ({@link TdxImageMeasurement}), 3 the TD HOB witness ({@link TdHob}, the next 8
 * bytes are the memory size). Only {@link RaException} with a reason may escape. Seeds:
 * {@code src/test/resources/dev/atlas/dstack/kms/internal/LiteOsImageFuzzTestInputs}.
 */
class LiteOsImageFuzzTest {
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
            switch ((data[0] & 0xff) % 4) {
                case 0 -> {
                    LiteVmConfig c = LiteVmConfig.parse(new String(rest, StandardCharsets.UTF_8));
                    if (c.tdxMeasurement().isPresent()) {
                        c.tdxMeasurement().get().verify(c.osImageHash());
                        TdxImageMeasurement.decode(c.tdxMeasurement().get().measurement());
                    }
                }
                case 1 -> {
                    byte[] h = MeasurementDocument.entryHash(rest, MeasurementDocument.TDX_MEASUREMENT_FILENAME);
                    if (h.length != 32) {
                        throw new AssertionError("entry hash is not 32 bytes");
                    }
                }
                case 2 -> {
                    TdxImageMeasurement m = TdxImageMeasurement.decode(rest);
                    if (m.mrtdTwoPass().length != 48 || m.cmdlineSha384().length != 48) {
                        throw new AssertionError("digest length not enforced");
                    }
                }
                default -> {
                    if (rest.length < 8) {
                        return;
                    }
                    long mem = ByteBuffer.wrap(rest, 0, 8).getLong();
                    byte[] d = TdHob.measure(Arrays.copyOfRange(rest, 8, rest.length), mem);
                    if (d.length != 48) {
                        throw new AssertionError("TD HOB digest is not SHA-384");
                    }
                }
            }
        } catch (RaException expected) {
            if (expected.raReason() == null || expected.getMessage() == null) {
                throw new AssertionError("no reason");
            }
        }
    }
}
