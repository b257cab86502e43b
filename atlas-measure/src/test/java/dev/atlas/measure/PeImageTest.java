package dev.atlas.measure;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** PE headers and the Authenticode SHA-384 on synthetic kernels: known answers, Python oracle, refusals. */
class PeImageTest {
    @TempDir
    static Path tmp;

    /** The expected hash written out for the default layout: explicit byte ranges, no parsing. */
    @Test
    void authenticodeKnownAnswerFromExplicitRanges() throws Exception {
        TestImages.Kernel k = TestImages.kernel();
        byte[] d = k.bytes;
        byte[] expected = TestImages.sha384(TestImages.concat(
                Arrays.copyOfRange(d, 0, k.checksumAt),
                Arrays.copyOfRange(d, k.checksumAt + 4, k.certDirAt),
                Arrays.copyOfRange(d, k.certDirAt + 8, 0x200),
                Arrays.copyOfRange(d, 0x200, 0x1200),   // .setup (lowest file offset first)
                Arrays.copyOfRange(d, 0x1200, 0x1400),  // .reloc
                Arrays.copyOfRange(d, 0x1400, 0x5400),  // .text
                Arrays.copyOfRange(d, 0x5400, d.length - 0x100), // trailing bytes before the certificate table
                new byte[8 - d.length % 8]));
        PeImage pe = PeImage.parse(d);
        assertTrue(pe.pe32Plus());
        assertEquals(3, pe.sections().size(), "the section without raw data is skipped");
        assertEquals(0x200, pe.sizeOfHeaders());
        assertArrayEquals(expected, pe.authenticodeSha384());
    }

    @Test
    void withoutCertificateTableTrailingBytesAreNotHashed() throws Exception {
        TestImages.Kernel k = TestImages.kernel(true, false, 0x18, 0x20f, 3);
        byte[] d = k.bytes;
        byte[] expected = TestImages.sha384(TestImages.concat(
                Arrays.copyOfRange(d, 0, k.checksumAt),
                Arrays.copyOfRange(d, k.checksumAt + 4, k.certDirAt),
                Arrays.copyOfRange(d, k.certDirAt + 8, 0x5400)));
        assertEquals(0, d.length % 8);
        assertArrayEquals(expected, PeImage.parse(d).authenticodeSha384());
    }

    /** The layouts varied (PE32/PE32+, certificate table, trailing length): the Python oracle agrees. */
    @ParameterizedTest
    @CsvSource({"true, true, 0x123", "true, false, 0x5", "false, true, 0x100", "false, false, 0", "true, true, 0x108"})
    void authenticodeAgreesWithPythonOracle(boolean plus, boolean cert, String trailing) throws Exception {
        PythonOracle.assumeAvailable();
        TestImages.Kernel k = TestImages.kernel(plus, cert, Integer.decode(trailing), 0x20f, 17);
        Path f = Files.write(tmp.resolve("pe-" + plus + cert + trailing), k.bytes);
        assertEquals(PythonOracle.run(PythonOracle.AUTHENTICODE, f.toString()),
                TestImages.hex(PeImage.parse(k.bytes).authenticodeSha384()));
        byte[] patched = Rtmr1.patchSetupHeader(k.bytes, 0x100000, 2L << 30, Rtmr1.ACPI_DATA_SIZE);
        Path g = Files.write(tmp.resolve("patched-" + plus + cert + trailing), patched);
        assertEquals(PythonOracle.run(PythonOracle.AUTHENTICODE, g.toString()),
                TestImages.hex(Rtmr1.kernelDigest(k.bytes, 0x100000, 2L << 30)));
    }

    @Test
    void checksumAndCertificateEntryDoNotChangeTheHash() throws Exception {
        TestImages.Kernel k = TestImages.kernel();
        byte[] base = PeImage.parse(k.bytes).authenticodeSha384();
        TestImages.Kernel c = k.copy();
        c.u32(c.checksumAt, 0x12345678);
        assertArrayEquals(base, PeImage.parse(c.bytes).authenticodeSha384());
        TestImages.Kernel h = k.copy();
        h.bytes[0x300] ^= 1; // inside .setup
        assertTrue(!Arrays.equals(base, PeImage.parse(h.bytes).authenticodeSha384()));
    }

    private static void refused(String structure, long offset, Consumer<TestImages.Kernel> mutation) {
        TestImages.Kernel k = TestImages.kernel().copy();
        mutation.accept(k);
        MeasureException e = assertThrows(MeasureException.class, () -> PeImage.parse(k.bytes));
        assertEquals(MeasureException.Reason.PE_INVALID, e.measureReason(), e.getMessage());
        assertEquals(structure, e.structure().orElse(null), e.getMessage());
        assertEquals(offset, e.offset().orElse(-1), e.getMessage());
    }

    @Test
    void headerMutations() {
        TestImages.Kernel k = TestImages.kernel();
        refused("pe.dos_header.e_magic", 0, x -> x.bytes[0] = 'X');
        refused("pe.signature", 0x40, x -> x.bytes[0x41] = 'X');
        refused("pe.signature", 0xFFFFFF0L, x -> x.u32(0x3c, 0xFFFFFF0L));
        refused("pe.optional_header.magic", k.opt, x -> x.u16(x.opt, 0x107));
        refused("pe.coff.size_of_optional_header", k.coff + 16, x -> x.u16(x.coff + 16, 112 + 4 * 8));
        refused("pe.optional_header.size_of_headers", k.sizeOfHeadersAt, x -> x.u32(x.sizeOfHeadersAt, 0x80));
        refused("pe.optional_header.size_of_headers", k.sizeOfHeadersAt,
                x -> x.u32(x.sizeOfHeadersAt, x.bytes.length + 1L));
        refused("pe.coff.number_of_sections", k.coff + 2, x -> x.u16(x.coff + 2, 97));
        refused("pe.section_table", k.sectionTable, x -> {
            x.u32(x.sizeOfHeadersAt, x.certDirAt + 8);
            x.bytes = Arrays.copyOf(x.bytes, x.sectionTable + 40 * 4 + 20);
            x.u16(x.coff + 2, 5);
        });
        refused("pe.section[0].pointer_to_raw_data", k.sectionTable + 20,
                x -> x.u32(x.sectionTable + 16, 0x4000 + x.bytes.length));
        refused("pe.dos_header", 0, x -> x.bytes = Arrays.copyOf(x.bytes, 0x20));
    }
}
