package dev.atlas.measure;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * RTMR2: the kernel command line and the initrd as OVMF measures them (upstream
 * {@code dstack/dstack-mr/src/kernel.rs} {@code measure_cmdline}, {@code src/tdx.rs}
 * {@code measured_kernel_cmdline}): the image's command line plus {@value #INITRD_SUFFIX}, encoded UTF-16LE
 * followed by a UTF-16 NUL (two zero bytes), SHA-384; then SHA-384 of the initrd file.
 */
public final class Rtmr2 {
    /** What QEMU/OVMF append to the image's command line. */
    public static final String INITRD_SUFFIX = " initrd=initrd";

    private Rtmr2() {
    }

    /** The command line as measured: {@code base + " initrd=initrd"}. */
    public static String measuredCmdline(String baseCmdline) {
        return baseCmdline + INITRD_SUFFIX;
    }

    /** SHA-384 of UTF-16LE({@code cmdline}) ‖ 00 00; a lone surrogate is rejected (not encodable). */
    public static byte[] cmdlineDigest(String cmdline) throws MeasureException {
        ByteBuffer b;
        try {
            b = StandardCharsets.UTF_16LE.newEncoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).encode(java.nio.CharBuffer.wrap(cmdline));
        } catch (CharacterCodingException e) {
            throw new MeasureException(MeasureException.Reason.METADATA_INVALID, "the kernel command line has an"
                    + " unpaired UTF-16 surrogate", e);
        }
        byte[] out = new byte[b.remaining() + 2];
        b.get(out, 0, out.length - 2);
        return Rtmr.sha384(out);
    }

    /** The two RTMR2 event digests. */
    public static List<byte[]> log(byte[] cmdlineDigest, byte[] initrdDigest) {
        if (cmdlineDigest.length != Rtmr.SIZE || initrdDigest.length != Rtmr.SIZE) {
            throw new IllegalArgumentException("RTMR2 event digests must be 48 bytes");
        }
        return List.of(cmdlineDigest.clone(), initrdDigest.clone());
    }

    /** RTMR2 from the image's base command line (without the suffix) and the initrd's SHA-384. */
    public static byte[] compute(String baseCmdline, byte[] initrdDigest) throws MeasureException {
        return Rtmr.replay(log(cmdlineDigest(measuredCmdline(baseCmdline)), initrdDigest));
    }
}
