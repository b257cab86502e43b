package dev.atlas.measure;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** TDVF metadata parsing and MRTD on synthetic firmware: known answers and one-mutation refusals. */
class TdvfMetadataTest {

    @Test
    void parsesEverySectionField() throws Exception {
        TestImages.Fw f = TestImages.firmware();
        TdvfMetadata t = TdvfMetadata.parse(f.bytes);
        assertEquals(f.descAt, t.descriptorOffset());
        List<TestImages.Sec> want = TestImages.defaultSections();
        assertEquals(want.size(), t.sections().size());
        for (int i = 0; i < want.size(); i++) {
            TdvfMetadata.Section s = t.sections().get(i);
            TestImages.Sec w = want.get(i);
            assertEquals(i, s.index());
            assertEquals(f.sectionAt(i), s.fileOffset());
            assertEquals(w.dataOffset(), s.dataOffset());
            assertEquals(w.rawSize(), s.rawSize());
            assertEquals(w.memAddr(), s.memAddress());
            assertEquals(w.memSize(), s.memSize());
            assertEquals(w.type(), s.type());
            assertEquals(w.attributes(), s.attributes());
        }
        assertTrue(t.sections().get(0).mrExtend());
        assertTrue(t.sections().get(4).pageAug());
    }

    @Test
    void mrtdKnownAnswersBothOrders() throws Exception {
        TestImages.Fw f = TestImages.firmware();
        TdvfMetadata t = TdvfMetadata.parse(f.bytes);
        byte[] single = Mrtd.compute(t, Mrtd.PageAddOrder.SINGLE_PASS);
        byte[] two = Mrtd.compute(t, Mrtd.PageAddOrder.TWO_PASS);
        assertArrayEquals(TestImages.expectedMrtd(f.bytes, TestImages.defaultSections(), false), single);
        assertArrayEquals(TestImages.expectedMrtd(f.bytes, TestImages.defaultSections(), true), two);
        assertFalse(java.util.Arrays.equals(single, two), "a multi-page MR_EXTEND section orders differently");
    }

    /** Each section field varied: the MRTD follows the spec formula (independent computation) each time. */
    @ParameterizedTest
    @CsvSource({
        // dataOffset, rawSize, memAddr, memSize, type, attributes
        "0x1000, 0x1000, 0xFFFC0000, 0x1000, 0, 1",
        "0x2000, 0x2000, 0xFFFC0000, 0x2000, 0, 1",
        "0x1000, 0x3000, 0x00800000, 0x3000, 0, 1",
        "0x1000, 0x3000, 0xFFFC0000, 0x3000, 5, 1",
        "0x1000, 0x0000, 0xFFFC0000, 0x3000, 0, 0",
        "0x1000, 0x3000, 0xFFFC0000, 0x3000, 0, 3",
        "0x1000, 0x0000, 0xFFFC0000, 0x4000, 4, 2",
        "0x0000, 0x0000, 0x7FFFF000, 0x1000, 2, 0",
    })
    void mrtdFollowsEachFieldVaried(String off, String raw, String addr, String size, int type, int attr)
            throws Exception {
        List<TestImages.Sec> secs = new ArrayList<>(TestImages.defaultSections());
        secs.set(0, new TestImages.Sec(Long.decode(off), Long.decode(raw), Long.decode(addr), Long.decode(size), type,
                attr));
        TestImages.Fw f = TestImages.firmware(secs, 0x10000, 0x100, 3);
        TdvfMetadata t = TdvfMetadata.parse(f.bytes);
        for (boolean two : new boolean[] {false, true}) {
            assertArrayEquals(TestImages.expectedMrtd(f.bytes, secs, two),
                    Mrtd.compute(t, two ? Mrtd.PageAddOrder.TWO_PASS : Mrtd.PageAddOrder.SINGLE_PASS));
        }
    }

    @Test
    void pageAugPagesAreNotMeasured() throws Exception {
        List<TestImages.Sec> secs = new ArrayList<>(TestImages.defaultSections());
        TestImages.Fw a = TestImages.firmware(secs, 0x10000, 0x100, 1);
        secs.set(4, new TestImages.Sec(0, 0, 0x2000000, 0x200000, 4, 2)); // a different PAGE_AUG range
        TestImages.Fw b = TestImages.firmware(secs, 0x10000, 0x100, 1);
        assertArrayEquals(Mrtd.compute(TdvfMetadata.parse(a.bytes), Mrtd.PageAddOrder.SINGLE_PASS),
                Mrtd.compute(TdvfMetadata.parse(b.bytes), Mrtd.PageAddOrder.SINGLE_PASS));
    }

    @Test
    void descriptorAnywhereAndExtraEntriesAreWalked() throws Exception {
        TestImages.Fw f = TestImages.firmware(TestImages.defaultSections(), 0x10000, 0xE000, 5);
        assertEquals(0xE000, TdvfMetadata.parse(f.bytes).descriptorOffset());
    }

    @Test
    void pageOrderFollowsQemuVersion() throws Exception {
        assertEquals(Mrtd.PageAddOrder.TWO_PASS, Mrtd.order(machine("8.0.0")));
        assertEquals(Mrtd.PageAddOrder.TWO_PASS, Mrtd.order(machine("8.2.2")));
        assertEquals(Mrtd.PageAddOrder.SINGLE_PASS, Mrtd.order(machine("9.0.0")));
        assertEquals(Mrtd.PageAddOrder.SINGLE_PASS, Mrtd.order(machine("9.1.0")));
        assertEquals(Mrtd.PageAddOrder.SINGLE_PASS, Mrtd.order(machine("10.0.0")));
        MachineConfig forced = MachineConfig.builder().cpus(1).memoryBytes(1L << 31).qemuVersion("9.1.0")
                .twoPassAddPages(true).build();
        assertEquals(Mrtd.PageAddOrder.TWO_PASS, Mrtd.order(forced));
        TestImages.Fw f = TestImages.firmware();
        TdvfMetadata t = TdvfMetadata.parse(f.bytes);
        assertArrayEquals(TestImages.expectedMrtd(f.bytes, TestImages.defaultSections(), true),
                Mrtd.compute(t, machine("8.2.2")));
        assertArrayEquals(TestImages.expectedMrtd(f.bytes, TestImages.defaultSections(), false),
                Mrtd.compute(t, machine("9.1.0")));
    }

    private static MachineConfig machine(String qemu) throws MeasureException {
        return MachineConfig.builder().cpus(2).memoryBytes(2L << 30).qemuVersion(qemu).build();
    }

    @Test
    void tdHobLayoutFromSections() throws Exception {
        Rtmr0Fixed.TdHobLayout l = TdvfMetadata.parse(TestImages.firmware().bytes).tdHobLayout();
        assertEquals(0x809000, l.tdHobAddress());
        assertEquals(List.of(new Rtmr0Fixed.Range(0x809000, 0x2000), new Rtmr0Fixed.Range(0x80B000, 0x10000)),
                l.acceptedRanges());
    }

    // ------------------------------------------------------------------------------ one mutation, one reason

    private static void refused(MeasureException.Reason reason, String structure, long offset,
            Consumer<TestImages.Fw> mutation) {
        TestImages.Fw f = TestImages.firmware().copy();
        mutation.accept(f);
        MeasureException e = assertThrows(MeasureException.class, () -> TdvfMetadata.parse(f.bytes));
        assertEquals(reason, e.measureReason(), e.getMessage());
        assertEquals(structure, e.structure().orElse(null), e.getMessage());
        if (offset >= 0) {
            assertEquals(offset, e.offset().orElse(-1), e.getMessage());
            assertTrue(e.getMessage().contains("offset 0x" + Long.toHexString(offset)), e.getMessage());
        }
    }

    private static final MeasureException.Reason FOOTER = MeasureException.Reason.TDVF_FOOTER_INVALID;
    private static final MeasureException.Reason DESC = MeasureException.Reason.TDVF_DESCRIPTOR_INVALID;
    private static final MeasureException.Reason SEC = MeasureException.Reason.TDVF_SECTION_INVALID;

    @Test
    void footerMutations() {
        TestImages.Fw f = TestImages.firmware();
        refused(FOOTER, "ovmf.footer.guid", f.footerGuidAt, x -> x.bytes[x.footerGuidAt + 3] ^= 1);
        refused(FOOTER, "ovmf.footer.length", f.tableLenAt, x -> x.u16(x.tableLenAt, 0));
        refused(FOOTER, "ovmf.footer.length", f.tableLenAt, x -> x.u16(x.tableLenAt, 17));
        refused(FOOTER, "ovmf.footer.length", 64 - 50, x -> {
            x.bytes = java.util.Arrays.copyOfRange(x.bytes, x.size - 64, x.size); // a 64-byte file
            x.u16(64 - 50, 60);
        });
        refused(FOOTER, "ovmf.table[0].length", f.otherEntryLenAt, x -> x.u16(x.otherEntryLenAt, 17));
        refused(FOOTER, "ovmf.table[0].length", f.otherEntryLenAt, x -> x.u16(x.otherEntryLenAt, 47));
        refused(FOOTER, "ovmf.table[1].length", f.metaEntryLenAt, x -> x.u16(x.metaEntryLenAt, 21));
        refused(FOOTER, "ovmf.table", f.tableLenAt + 18 - 64, x -> x.bytes[x.metaGuidAt] ^= 1);
        refused(FOOTER, "ovmf.tdvf_metadata_offset", f.metaOffsetAt, x -> x.u32(x.metaOffsetAt, 15));
        refused(FOOTER, "ovmf.tdvf_metadata_offset", f.metaOffsetAt, x -> x.u32(x.metaOffsetAt, x.size + 1L));
        refused(FOOTER, "ovmf.footer", 0, x -> x.bytes = new byte[40]);
    }

    @Test
    void descriptorMutations() {
        TestImages.Fw f = TestImages.firmware();
        refused(DESC, "tdvf.descriptor.signature", f.descAt, x -> x.bytes[x.descAt] = 'X');
        refused(DESC, "tdvf.descriptor.version", f.descAt + 8, x -> x.u32(x.descAt + 8, 2));
        refused(DESC, "tdvf.descriptor.section_count", f.descAt + 12, x -> x.u32(x.descAt + 12, 0));
        refused(DESC, "tdvf.descriptor.section_count", f.descAt + 12, x -> x.u32(x.descAt + 12, 65));
        refused(DESC, "tdvf.descriptor.length", f.descAt + 4, x -> x.u32(x.descAt + 4, 16 + 32 * 5 - 1));
        refused(DESC, "tdvf.descriptor.signature", f.size - 20, x -> x.u32(x.metaOffsetAt, 20)); // into the table
        refused(DESC, "tdvf.descriptor.section_count", f.size - 150 + 12, x -> {
            int d = x.size - 150;
            System.arraycopy(x.bytes, x.descAt, x.bytes, d, 16);
            x.u32(x.metaOffsetAt, 150); // 5 sections of 32 bytes do not fit in the last 150 bytes
        });
    }

    @Test
    void sectionMutations() {
        TestImages.Fw f = TestImages.firmware();
        int s0 = f.sectionAt(0);
        int s2 = f.sectionAt(2);
        refused(SEC, "tdvf.section[2].mem_addr", s2 + 8, x -> x.u64(x.sectionAt(2) + 8, 0x809001));
        refused(SEC, "tdvf.section[2].mem_addr", s2 + 8, x -> x.u64(x.sectionAt(2) + 8, -4096));
        refused(SEC, "tdvf.section[2].mem_size", s2 + 16, x -> x.u64(x.sectionAt(2) + 16, 0x2001));
        refused(SEC, "tdvf.section[2].mem_size", s2 + 16, x -> x.u64(x.sectionAt(2) + 16, 1L << 52));
        refused(SEC, "tdvf.section[1].raw_size", f.sectionAt(1) + 4, x -> x.u32(x.sectionAt(1) + 4, 0x3000));
        refused(SEC, "tdvf.section[1].data_offset", f.sectionAt(1), x -> x.u32(x.sectionAt(1), 0xF000));
        refused(SEC, "tdvf.section[2].type", s2 + 24, x -> x.u32(x.sectionAt(2) + 24, 7));
        refused(SEC, "tdvf.section[2].attributes", s2 + 28, x -> x.u32(x.sectionAt(2) + 28, 4));
        refused(SEC, "tdvf.section[0].raw_size", s0 + 4, x -> x.u32(x.sectionAt(0) + 4, 0x2000));
        refused(SEC, "tdvf.section[4].mem_size", f.sectionAt(4) + 16, x -> {
            x.u64(x.sectionAt(4) + 16, 1L << 33);
            x.u32(x.sectionAt(4) + 28, 0); // 2^21 pages added before launch
        });
    }

    @Test
    void oversizeFirmwareIsRefusedBeforeParsing() {
        MeasureException e = assertThrows(MeasureException.class,
                () -> TdvfMetadata.parse(new byte[TdvfMetadata.MAX_FIRMWARE_SIZE + 1]));
        assertEquals(MeasureException.Reason.FILE_TOO_LARGE, e.measureReason());
    }

    @Test
    void emptyTdHobSectionIsRefusedForRtmr0() throws Exception {
        List<TestImages.Sec> secs = new ArrayList<>(TestImages.defaultSections());
        secs.set(2, new TestImages.Sec(0, 0, 0x809000, 0, 2, 0));
        TdvfMetadata t = TdvfMetadata.parse(TestImages.firmware(secs, 0x10000, 0x100, 1).bytes);
        MeasureException e = assertThrows(MeasureException.class, t::tdHobLayout);
        assertEquals(SEC, e.measureReason());
        assertEquals("tdvf.section[2].mem_size", e.structure().orElseThrow());
    }
}
