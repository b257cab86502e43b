package dev.atlas.measure;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.constraints.Size;

/** Properties of the parsers and the measurement arithmetic. */
class MeasureProperties {

    /** Any bytes: the TDVF parser refuses with a structure or parses; it never throws anything else. */
    @Property(tries = 300)
    void tdvfParserIsTotal(@ForAll @Size(max = 600) byte[] fw) {
        try {
            TdvfMetadata.parse(fw);
        } catch (MeasureException e) {
            assert e.structure().isPresent();
        }
    }

    /** One byte of a valid firmware changed anywhere: parse or a MeasureException, never another exception. */
    @Property(tries = 150)
    void tdvfSingleByteEdits(@ForAll @IntRange(min = 0, max = 0x7fff) int at, @ForAll byte value) {
        byte[] fw = TestImages.firmware(TestImages.defaultSections(), 0x8000, 0x7000, 9).bytes;
        fw[at] = value;
        try {
            TdvfMetadata t = TdvfMetadata.parse(fw);
            Mrtd.compute(t, Mrtd.PageAddOrder.TWO_PASS);
        } catch (MeasureException e) {
            assert e.structure().isPresent();
        }
    }

    @Provide
    Arbitrary<List<TestImages.Sec>> sections() {
        Arbitrary<TestImages.Sec> sec = Combinators.combine(
                Arbitraries.integers().between(0, 3), // pages
                Arbitraries.longs().between(0, 0xFFFFF).map(p -> p * 4096), // address
                Arbitraries.integers().between(0, 3), // attributes
                Arbitraries.integers().between(0, 6), // type
                Arbitraries.integers().between(1, 4)) // data page
                .as((pages, addr, attr, type, dataPage) -> new TestImages.Sec(
                        (attr & 1) != 0 ? dataPage * 4096L : 0, (attr & 1) != 0 ? pages * 4096L : 0, addr,
                        pages * 4096L, type, attr));
        return sec.list().ofMinSize(1).ofMaxSize(6);
    }

    /** Random valid section lists: MRTD equals the independent spec formula in both orders. */
    @Property(tries = 60)
    void mrtdMatchesTheFormula(@ForAll("sections") List<TestImages.Sec> secs) throws Exception {
        TestImages.Fw f = TestImages.firmware(secs, 0x10000, 0x8000, secs.size());
        TdvfMetadata t = TdvfMetadata.parse(f.bytes);
        assert Arrays.equals(TestImages.expectedMrtd(f.bytes, secs, false), Mrtd.compute(t,
                Mrtd.PageAddOrder.SINGLE_PASS));
        assert Arrays.equals(TestImages.expectedMrtd(f.bytes, secs, true), Mrtd.compute(t,
                Mrtd.PageAddOrder.TWO_PASS));
    }

    /** The two orders agree exactly when no MR_EXTEND section spans more than one added page. */
    @Property(tries = 60)
    void ordersDifferOnlyWithMultiPageExtends(@ForAll("sections") List<TestImages.Sec> secs) throws Exception {
        TdvfMetadata t = TdvfMetadata.parse(TestImages.firmware(secs, 0x10000, 0x8000, 1).bytes);
        boolean multi = secs.stream().anyMatch(s -> (s.attributes() & 1) != 0 && s.memSize() > 4096);
        boolean same = Arrays.equals(Mrtd.compute(t, Mrtd.PageAddOrder.SINGLE_PASS),
                Mrtd.compute(t, Mrtd.PageAddOrder.TWO_PASS));
        // a multi-page extended section with PAGE_AUG has no ADD records to interleave
        boolean interleaves = secs.stream().anyMatch(s -> (s.attributes() & 3) == 1 && s.memSize() > 4096);
        assert same == !interleaves : secs;
        assert !interleaves || multi;
    }

    /** Random PE bytes behind a valid DOS header: refused with a structure or hashed to 48 bytes. */
    @Property(tries = 100)
    void peParserIsTotal(@ForAll @Size(max = 800) byte[] tail, @ForAll @IntRange(min = 0, max = 0x300) int lfanew) {
        byte[] b = Arrays.copyOf(new byte[] {'M', 'Z'}, 0x40 + tail.length);
        System.arraycopy(tail, 0, b, 0x40, tail.length);
        b[0x3c] = (byte) lfanew;
        b[0x3d] = (byte) (lfanew >> 8);
        try {
            assert PeImage.parse(b).authenticodeSha384().length == 48;
        } catch (MeasureException e) {
            assert e.structure().isPresent();
        }
    }

    /** The ramdisk address is page aligned, below the limit and does not overlap it, for every memory size. */
    @Property(tries = 200)
    void initrdPlacement(@ForAll @LongRange(min = 0x100000, max = 1L << 40) long memory,
            @ForAll @LongRange(min = 1, max = 0x10000000) long initrd) throws Exception {
        byte[] k = TestImages.kernel().bytes;
        long mem = memory & ~4095L;
        long below4g = mem >= 0xB0000000L ? 0x80000000L : mem;
        try {
            byte[] p = Rtmr1.patchSetupHeader(k, initrd, mem, Rtmr1.ACPI_DATA_SIZE);
            long addr = java.nio.ByteBuffer.wrap(p).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt(0x218)
                    & 0xFFFFFFFFL;
            assert addr % 4096 == 0;
            assert addr + initrd <= below4g - Rtmr1.ACPI_DATA_SIZE;
        } catch (MeasureException e) {
            assert e.measureReason() == MeasureException.Reason.CONFIG_INVALID;
            assert initrd >= below4g - Rtmr1.ACPI_DATA_SIZE - 1 || below4g < Rtmr1.ACPI_DATA_SIZE;
        }
    }

    /** Sizes: n followed by a unit parses to n times the unit. */
    @Property(tries = 200)
    void sizeUnits(@ForAll @LongRange(min = 0, max = 1L << 20) long n, @ForAll("units") String unit)
            throws Exception {
        long mult = switch (unit) {
            case "K" -> 1L << 10;
            case "M" -> 1L << 20;
            case "G" -> 1L << 30;
            case "T" -> 1L << 40;
            default -> 1;
        };
        assert MachineConfig.parseSize("--memory", n + unit) == n * mult;
    }

    @Provide
    Arbitrary<String> units() {
        return Arbitraries.of("", "K", "M", "G", "T");
    }

    /** Any metadata.json text: parsed with the invariants, or a METADATA_INVALID/CONFIG_UNSUPPORTED refusal. */
    @Property(tries = 120)
    void metadataParserIsTotal(@ForAll("metadataish") String json) {
        try {
            ImageDirectory d = ImageDirectory.parseMetadata(java.nio.file.Path.of("img"),
                    json.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            assert !d.cmdline().isBlank();
        } catch (MeasureException e) {
            assert e.measureReason() == MeasureException.Reason.METADATA_INVALID
                    || e.measureReason() == MeasureException.Reason.CONFIG_UNSUPPORTED : e.getMessage();
        }
    }

    @Provide
    Arbitrary<String> metadataish() {
        List<String> keys = new ArrayList<>(List.of("bios", "kernel", "initrd", "cmdline", "version", "is_dev",
                "ovmf_variant", "bios-sev", "x"));
        Arbitrary<String> value = Arbitraries.oneOf(Arbitraries.of("\"a\"", "\"../b\"", "\"\"", "1", "true", "null",
                "[]", "{}", "\"0.5.1\"", "\"pre202505\"", "\"c d\""), Arbitraries.strings().ofMaxLength(8)
                .map(TestImages::jsonString));
        Arbitrary<String> member = Combinators.combine(Arbitraries.of(keys), value).as((k, v) -> "\"" + k + "\":" + v);
        return member.list().ofMaxSize(9).map(l -> "{" + String.join(",", l) + "}");
    }
}
