package dev.atlas.measure;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** QEMU's setup-header patch and the RTMR1 event log. */
class Rtmr1Test {
    private static final long G = 1L << 30;

    private static long u32(byte[] b, int at) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getInt(at) & 0xFFFFFFFFL;
    }

    @Test
    void patchSetsTheBootProtocolFields() throws Exception {
        TestImages.Kernel k = TestImages.kernel();
        long initrd = 0x123456;
        byte[] p = Rtmr1.patchSetupHeader(k.bytes, initrd, 4 * G, Rtmr1.ACPI_DATA_SIZE);
        assertEquals((byte) 0xb0, p[0x210], "type_of_loader");
        assertEquals((byte) 0x81, p[0x211], "loadflags |= CAN_USE_HEAP");
        assertEquals(0x20000 - 0x10000 - 0x200, u32(p, 0x224), "heap_end_ptr");
        assertEquals(0x20000, u32(p, 0x228), "cmd_line_ptr");
        // protocol 2.15 with XLF_CAN_BE_LOADED_ABOVE_4G: the limit is the memory below 4 GiB minus the ACPI data
        long max = 0x80000000L - 0x28000 - 1;
        assertEquals((max - initrd) & ~4095L, u32(p, 0x218), "ramdisk_image");
        assertEquals(initrd, u32(p, 0x21c), "ramdisk_size");
        // nothing else changed
        byte[] q = p.clone();
        System.arraycopy(k.bytes, 0x210, q, 0x210, 2);
        System.arraycopy(k.bytes, 0x218, q, 0x218, 8);
        System.arraycopy(k.bytes, 0x224, q, 0x224, 8);
        assertArrayEquals(k.bytes, q);
        assertEquals(0, k.bytes[0x210], "the input is not modified");
    }

    @ParameterizedTest
    @CsvSource({
        // protocol, loadflags, initrd_addr_max, xloadflags, memory, expected ramdisk_image limit (before alignment)
        "0x020f, 0x01, 0x7fffffff, 0x40, 0x80000000, 0x7ffd7fff",
        "0x020f, 0x01, 0x7fffffff, 0x00, 0x80000000, 0x37ffffff",
        "0x020b, 0x01, 0x2fffffff, 0x40, 0x80000000, 0x2fffffff",
        "0x020b, 0x01, 0x00000000, 0x40, 0x80000000, 0x37ffffff",
        "0x0202, 0x01, 0x2fffffff, 0x40, 0x80000000, 0x37ffffff",
        "0x020f, 0x01, 0x7fffffff, 0x40, 0x40000000, 0x3ffd7fff",
        "0x020f, 0x01, 0x7fffffff, 0x40, 0xB0000000, 0x7ffd7fff",
        "0x020f, 0x01, 0x7fffffff, 0x40, 0xAFFFF000, 0xaffd6fff",
        "0x020f, 0x00, 0x7fffffff, 0x40, 0x100000000, 0x7ffd7fff",
    })
    void initrdPlacementFollowsProtocolAndMemory(String protocol, String loadflags, String initrdMax, String xlf,
            String memory, String limit) throws Exception {
        TestImages.Kernel k = TestImages.kernel(true, true, 0x123, Integer.decode(protocol), 5);
        k.bytes[0x211] = (byte) (int) Integer.decode(loadflags);
        k.u32(0x22c, Long.decode(initrdMax));
        k.u16(0x236, Integer.decode(xlf));
        long initrd = 0x200000;
        byte[] p = Rtmr1.patchSetupHeader(k.bytes, initrd, Long.decode(memory), Rtmr1.ACPI_DATA_SIZE);
        assertEquals((Long.decode(limit) - initrd) & ~4095L, u32(p, 0x218));
        boolean lowReal = (Integer.decode(loadflags) & 1) == 0;
        assertEquals(lowReal ? 0x9a000 : 0x20000, u32(p, 0x228));
        assertEquals(lowReal ? 0x9a000 - 0x90000 - 0x200 : 0x20000 - 0x10000 - 0x200, u32(p, 0x224));
    }

    @Test
    void oldProtocolsPatchTheLegacyCommandLineFields() throws Exception {
        TestImages.Kernel k = TestImages.kernel(true, true, 0x123, 0x0201, 5);
        k.bytes[0x211] = 0; // not LOADED_HIGH: real-mode code at 0x90000, command line at 0x9a000
        byte[] p = Rtmr1.patchSetupHeader(k.bytes, 0x1000, 2 * G, Rtmr1.ACPI_DATA_SIZE);
        assertEquals(0xa33f, u32(p, 0x20) & 0xffff);
        assertEquals(0x9a000 - 0x90000, u32(p, 0x22) & 0xffff);
        assertEquals(0x9a000 - 0x90000 - 0x200, u32(p, 0x224), "heap_end_ptr from protocol 2.01");
        assertEquals(u32(k.bytes, 0x228), u32(p, 0x228), "no cmd_line_ptr before protocol 2.02");
        TestImages.Kernel old = TestImages.kernel(true, true, 0x123, 0x01ff, 5);
        byte[] q = Rtmr1.patchSetupHeader(old.bytes, 0, 2 * G, Rtmr1.ACPI_DATA_SIZE);
        assertEquals(old.bytes[0x210], q[0x210], "type_of_loader only from protocol 2.00");
        MeasureException e = assertThrows(MeasureException.class,
                () -> Rtmr1.patchSetupHeader(old.bytes, 0x1000, 2 * G, Rtmr1.ACPI_DATA_SIZE));
        assertEquals(MeasureException.Reason.KERNEL_SETUP_INVALID, e.measureReason());
        assertEquals(0x206, e.offset().orElse(-1));
    }

    @Test
    void kernelDigestIsStableAtTwoGibAndHighMemoryOnly() throws Exception {
        byte[] k = TestImages.kernel().bytes;
        long initrd = 0x100000;
        byte[] at2g = Rtmr1.kernelDigest(k, initrd, Rtmr1.COMPAT_2G_MEMORY);
        assertArrayEquals(at2g, Rtmr1.kernelDigest(k, initrd, Rtmr1.STABLE_MIN_MEMORY));
        assertArrayEquals(at2g, Rtmr1.kernelDigest(k, initrd, 64 * G));
        assertNotEquals(TestImages.hex(at2g), TestImages.hex(Rtmr1.kernelDigest(k, initrd, 2 * G - 4096)));
        assertNotEquals(TestImages.hex(at2g), TestImages.hex(Rtmr1.kernelDigest(k, initrd, Rtmr1.STABLE_MIN_MEMORY
                - 4096)));
        assertNotEquals(TestImages.hex(at2g), TestImages.hex(Rtmr1.kernelDigest(k, initrd + 4096, 4 * G)));
    }

    @Test
    void rtmr1IsTheKernelDigestAndFourEfiEvents() throws Exception {
        byte[] k = TestImages.kernel().bytes;
        byte[] kd = Rtmr1.kernelDigest(k, 0x1000, 4 * G);
        byte[] mr = new byte[48];
        for (byte[] e : new byte[][] {kd,
                TestImages.sha384("Calling EFI Application from Boot Option".getBytes(StandardCharsets.US_ASCII)),
                TestImages.sha384(new byte[4]),
                TestImages.sha384("Exit Boot Services Invocation".getBytes(StandardCharsets.US_ASCII)),
                TestImages.sha384("Exit Boot Services Returned with Success".getBytes(StandardCharsets.US_ASCII))}) {
            mr = TestImages.sha384(TestImages.concat(mr, e));
        }
        assertArrayEquals(mr, Rtmr1.compute(k, 0x1000, 4 * G));
        assertArrayEquals(mr, Rtmr1.fromKernelDigest(kd));
    }

    @Test
    void refusals() {
        byte[] k = TestImages.kernel().bytes;
        MeasureException shortK = assertThrows(MeasureException.class,
                () -> Rtmr1.patchSetupHeader(Arrays.copyOf(k, 0xfff), 1, 4 * G, Rtmr1.ACPI_DATA_SIZE));
        assertEquals(MeasureException.Reason.KERNEL_SETUP_INVALID, shortK.measureReason());
        byte[] noHdr = k.clone();
        noHdr[0x202] = 'X';
        MeasureException hdr = assertThrows(MeasureException.class,
                () -> Rtmr1.patchSetupHeader(noHdr, 1, 4 * G, Rtmr1.ACPI_DATA_SIZE));
        assertEquals("kernel.setup_header.header", hdr.structure().orElseThrow());
        assertEquals(0x202, hdr.offset().orElse(-1));
        MeasureException big = assertThrows(MeasureException.class,
                () -> Rtmr1.patchSetupHeader(k, 0x7ffd7fff, 4 * G, Rtmr1.ACPI_DATA_SIZE));
        assertEquals(MeasureException.Reason.CONFIG_INVALID, big.measureReason());
        MeasureException tiny = assertThrows(MeasureException.class,
                () -> Rtmr1.patchSetupHeader(k, 1, 0x20000, Rtmr1.ACPI_DATA_SIZE));
        assertEquals(MeasureException.Reason.CONFIG_INVALID, tiny.measureReason());
        MeasureException huge = assertThrows(MeasureException.class,
                () -> Rtmr1.patchSetupHeader(k, 1L << 32, 4 * G, Rtmr1.ACPI_DATA_SIZE));
        assertEquals(MeasureException.Reason.FILE_TOO_LARGE, huge.measureReason());
    }
}
