package dev.atlas.measure;

import dev.atlas.measure.internal.Le;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * RTMR1: the kernel as OVMF loads it (upstream {@code dstack/dstack-mr/src/kernel.rs}). QEMU first patches the
 * bzImage's Linux setup header ({@link #patchSetupHeader}); OVMF then measures the patched image's Authenticode
 * SHA-384 and four EFI boot events: {@code "Calling EFI Application from Boot Option"}, the separator
 * {@code 00000000}, {@code "Exit Boot Services Invocation"} and {@code "Exit Boot Services Returned with Success"}.
 *
 * <p>The patched {@code ramdisk_image} depends on the memory size below 4 GiB, so the kernel digest is stable for
 * memory of exactly 2 GiB or at least {@link #STABLE_MIN_MEMORY}.
 */
public final class Rtmr1 {
    /** The ACPI data size QEMU reserves below the initrd (dstack-mr's constant). */
    public static final long ACPI_DATA_SIZE = 0x28000;
    /** From this memory size on, the initrd placement (and the kernel digest) no longer depends on memory. */
    public static final long STABLE_MIN_MEMORY = 0xB0000000L;
    /** 2 GiB: the one smaller memory size that places the initrd like the high-memory case. */
    public static final long COMPAT_2G_MEMORY = 0x80000000L;
    /** The four EFI events after the kernel digest, as text (the separator is four zero bytes). */
    public static final List<String> EFI_EVENTS = List.of("Calling EFI Application from Boot Option", "\0\0\0\0",
            "Exit Boot Services Invocation", "Exit Boot Services Returned with Success");

    private static final int MIN_KERNEL = 0x1000;
    private static final long U32_MAX = 0xFFFFFFFFL;

    private Rtmr1() {
    }

    /**
     * QEMU's setup-header patch of a bzImage (x86 {@code load_linux}) as dstack-mr models it: {@code type_of_loader
     * = 0xb0}, {@code CAN_USE_HEAP} with {@code heap_end_ptr}, {@code cmd_line_ptr} (or the old command-line magic),
     * and {@code ramdisk_image}/{@code ramdisk_size} for a non-empty initrd. Returns a patched copy.
     */
    public static byte[] patchSetupHeader(byte[] kernel, long initrdSize, long memoryBytes, long acpiDataSize)
            throws MeasureException {
        final MeasureException.Reason bad = MeasureException.Reason.KERNEL_SETUP_INVALID;
        if (kernel.length < MIN_KERNEL) {
            throw new MeasureException(bad, "kernel.setup_header", 0, "the kernel image has " + kernel.length
                    + " bytes, fewer than " + MIN_KERNEL);
        }
        if (kernel.length > PeImage.MAX_IMAGE_SIZE) {
            throw new MeasureException(MeasureException.Reason.FILE_TOO_LARGE, "kernel", -1, "the kernel has "
                    + kernel.length + " bytes, more than the limit of " + PeImage.MAX_IMAGE_SIZE);
        }
        if (initrdSize < 0 || initrdSize > U32_MAX) {
            throw new MeasureException(MeasureException.Reason.FILE_TOO_LARGE, "initrd", -1, "the initrd has "
                    + initrdSize + " bytes; the setup header's ramdisk_size holds at most 4 GiB - 1");
        }
        if (memoryBytes <= 0 || acpiDataSize < 0) {
            throw new MeasureException(MeasureException.Reason.CONFIG_INVALID, "memory must be positive, got "
                    + memoryBytes);
        }
        if (Le.u32(kernel, 0x202, bad, "kernel.setup_header.header") != 0x53726448L) {
            throw new MeasureException(bad, "kernel.setup_header.header", 0x202, "no \"HdrS\" magic: not a Linux"
                    + " bzImage (QEMU would load it as a pre-2.00 image)");
        }
        byte[] kd = kernel.clone();
        int protocol = Le.u16(kd, 0x206, bad, "kernel.setup_header.version");
        long realAddr;
        long cmdlineAddr;
        if (protocol < 0x200 || (kd[0x211] & 0x01) == 0) {
            realAddr = 0x90000;
            cmdlineAddr = 0x9a000;
        } else {
            realAddr = 0x10000;
            cmdlineAddr = 0x20000;
        }
        if (protocol >= 0x200) {
            kd[0x210] = (byte) 0xb0;
        }
        if (protocol >= 0x201) {
            kd[0x211] |= (byte) 0x80;
            long heapEnd = Math.max(0, Math.max(0, cmdlineAddr - realAddr) - 0x200);
            Le.putU32(kd, 0x224, heapEnd);
        }
        if (protocol >= 0x202) {
            Le.putU32(kd, 0x228, cmdlineAddr);
        } else {
            Le.putU16(kd, 0x20, 0xa33f);
            Le.putU16(kd, 0x22, (int) (Math.max(0, cmdlineAddr - realAddr) & 0xffff));
        }
        if (initrdSize > 0) {
            if (protocol < 0x200) {
                throw new MeasureException(bad, "kernel.setup_header.version", 0x206, "boot protocol 0x"
                        + Integer.toHexString(protocol) + " is too old for an initrd");
            }
            long initrdMax;
            if (protocol >= 0x20c) {
                int xlf = Le.u16(kd, 0x236, bad, "kernel.setup_header.xloadflags");
                initrdMax = (xlf & 0x40) != 0 ? U32_MAX : 0x37ffffffL;
            } else if (protocol >= 0x203) {
                long max = Le.u32(kd, 0x22c, bad, "kernel.setup_header.initrd_addr_max");
                initrdMax = max == 0 ? 0x37ffffffL : max;
            } else {
                initrdMax = 0x37ffffffL;
            }
            long lowmem = memoryBytes < STABLE_MIN_MEMORY ? STABLE_MIN_MEMORY : COMPAT_2G_MEMORY;
            long below4g = memoryBytes >= lowmem ? lowmem : memoryBytes;
            if (acpiDataSize > below4g) {
                throw new MeasureException(MeasureException.Reason.CONFIG_INVALID, "memory below 4 GiB ("
                        + below4g + " bytes) is smaller than the ACPI data size (" + acpiDataSize + ")");
            }
            long available = below4g - acpiDataSize;
            if (initrdMax >= available) {
                initrdMax = Math.max(0, available - 1);
            }
            if (initrdSize >= initrdMax) {
                throw new MeasureException(MeasureException.Reason.CONFIG_INVALID, "the initrd (" + initrdSize
                        + " bytes) does not fit below the initrd limit 0x" + Long.toHexString(initrdMax)
                        + " for " + memoryBytes + " bytes of memory");
            }
            long initrdAddr = (initrdMax - initrdSize) & ~4095L & U32_MAX;
            Le.putU32(kd, 0x218, initrdAddr);
            Le.putU32(kd, 0x21c, initrdSize);
        }
        return kd;
    }

    /** The first RTMR1 event: Authenticode SHA-384 of the patched kernel. */
    public static byte[] kernelDigest(byte[] kernel, long initrdSize, long memoryBytes) throws MeasureException {
        return PeImage.parse(patchSetupHeader(kernel, initrdSize, memoryBytes, ACPI_DATA_SIZE)).authenticodeSha384();
    }

    /** The five RTMR1 event digests given the kernel digest. */
    public static List<byte[]> log(byte[] kernelDigest) {
        if (kernelDigest.length != Rtmr.SIZE) {
            throw new IllegalArgumentException("the kernel digest must be 48 bytes, got " + kernelDigest.length);
        }
        return List.of(kernelDigest.clone(),
                Rtmr.sha384(EFI_EVENTS.get(0).getBytes(StandardCharsets.US_ASCII)),
                Rtmr.sha384(new byte[4]),
                Rtmr.sha384(EFI_EVENTS.get(2).getBytes(StandardCharsets.US_ASCII)),
                Rtmr.sha384(EFI_EVENTS.get(3).getBytes(StandardCharsets.US_ASCII)));
    }

    /** RTMR1 from the kernel digest (for example {@code kernel_authenticode} of a measurement document). */
    public static byte[] fromKernelDigest(byte[] kernelDigest) {
        return Rtmr.replay(log(kernelDigest));
    }

    /** RTMR1 of a kernel image for an initrd size and memory size. */
    public static byte[] compute(byte[] kernel, long initrdSize, long memoryBytes) throws MeasureException {
        return fromKernelDigest(kernelDigest(kernel, initrdSize, memoryBytes));
    }
}
