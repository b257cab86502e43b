package dev.atlas.measure;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.file.Path;

/**
 * Jazzer target: the kernel's PE headers, Authenticode and setup-header patch (first byte 0: edits of a valid
 * synthetic kernel as {@code (u16 offset, byte)} triples; 1: raw bytes) and {@code metadata.json} (first byte 2 or
 * more: the rest is the document). Only {@link MeasureException} may escape; a digest is 48 bytes.
 */
class ImageFilesFuzzTest {
    private static final byte[] KERNEL = TestImages.kernel().bytes;

    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI. */
    public static void fuzzerTestOneInput(byte[] data) {
        if (data.length == 0) {
            return;
        }
        byte[] rest = java.util.Arrays.copyOfRange(data, 1, data.length);
        try {
            switch (data[0] & 0xff) {
                case 0: {
                    byte[] k = KERNEL.clone();
                    for (int i = 0; i + 2 < rest.length; i += 3) {
                        int at = ((rest[i] & 0xff) | (rest[i + 1] & 0xff) << 8) % 0x600; // headers and setup header
                        k[at] = rest[i + 2];
                    }
                    kernel(k);
                    break;
                }
                case 1:
                    kernel(rest);
                    break;
                default: {
                    ImageDirectory d = ImageDirectory.parseMetadata(Path.of("img"), rest);
                    if (d.cmdline().isBlank() || d.bios().getFileName() == null
                            || !d.kernel().normalize().startsWith(Path.of("img"))) {
                        throw new AssertionError("parsed metadata breaks its invariants");
                    }
                    Rtmr2.cmdlineDigest(Rtmr2.measuredCmdline(d.cmdline()));
                    break;
                }
            }
        } catch (MeasureException e) {
            if (e.measureReason() == null) {
                throw new AssertionError("a refusal without reason");
            }
        }
    }

    private static void kernel(byte[] k) throws MeasureException {
        if (PeImage.parse(k).authenticodeSha384().length != 48) {
            throw new AssertionError("digest not 48 bytes");
        }
        for (long mem : new long[] {2L << 30, 0x20000000L}) {
            try {
                if (Rtmr1.kernelDigest(k, 0x100000, mem).length != 48) {
                    throw new AssertionError("digest not 48 bytes");
                }
            } catch (MeasureException e) {
                if (e.measureReason() == null) {
                    throw new AssertionError("a refusal without reason");
                }
            }
        }
    }
}
