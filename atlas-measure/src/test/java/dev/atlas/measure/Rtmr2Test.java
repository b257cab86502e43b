package dev.atlas.measure;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** RTMR2: the command line with " initrd=initrd" as UTF-16LE plus NUL, then the initrd. */
class Rtmr2Test {

    @Test
    void cmdlineDigestKnownAnswer() throws Exception {
        String base = "console=ttyS0 dstack.rootfs_hash=ab";
        byte[] utf16 = (base + " initrd=initrd").getBytes(StandardCharsets.UTF_16LE);
        byte[] expected = TestImages.sha384(TestImages.concat(utf16, new byte[2]));
        assertArrayEquals(expected, Rtmr2.cmdlineDigest(Rtmr2.measuredCmdline(base)));
        byte[] initrd = TestImages.sha384("initrd".getBytes(StandardCharsets.US_ASCII));
        byte[] mr = TestImages.sha384(TestImages.concat(new byte[48], expected));
        mr = TestImages.sha384(TestImages.concat(mr, initrd));
        assertArrayEquals(mr, Rtmr2.compute(base, initrd));
    }

    /** ASCII, Latin-1, BMP and a supplementary character (a surrogate pair): Python's UTF-16LE agrees. */
    @ParameterizedTest
    @ValueSource(strings = {"console=ttyS0 root=/dev/vda", "café=1", "名前=値", "emoji=\uD83D\uDE00 x", " "})
    void cmdlineDigestAgreesWithPythonOracle(String base) throws Exception {
        PythonOracle.assumeAvailable();
        String arg = HexFormat.of().formatHex(base.getBytes(StandardCharsets.UTF_8));
        assertEquals(PythonOracle.run(PythonOracle.CMDLINE, arg),
                TestImages.hex(Rtmr2.cmdlineDigest(Rtmr2.measuredCmdline(base))));
    }

    @Test
    void loneSurrogateIsRefused() {
        MeasureException e = assertThrows(MeasureException.class, () -> Rtmr2.cmdlineDigest("a\uD800b"));
        assertEquals(MeasureException.Reason.METADATA_INVALID, e.measureReason());
    }
}
