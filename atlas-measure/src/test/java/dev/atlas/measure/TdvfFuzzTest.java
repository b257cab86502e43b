package dev.atlas.measure;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Jazzer target: the TDVF metadata parser and MRTD. The input either is a firmware image itself (first byte even)
 * or is a list of {@code (u16 offset, byte value)} edits applied to a valid synthetic firmware (first byte odd), so
 * the fuzzer reaches the descriptor and section checks. Only {@link MeasureException} with a structure may escape;
 * a parsed image's sections keep their invariants and MRTD is computable in both orders.
 */
class TdvfFuzzTest {
    private static final byte[] BASE = TestImages.firmware(TestImages.defaultSections(), 0x8000, 0x7000, 9).bytes;

    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI. */
    public static void fuzzerTestOneInput(byte[] data) {
        byte[] fw;
        if (data.length > 0 && (data[0] & 1) == 1) {
            fw = BASE.clone();
            for (int i = 1; i + 2 < data.length; i += 3) {
                int at = ((data[i] & 0xff) | (data[i + 1] & 0xff) << 8) % fw.length;
                // bias edits towards the descriptor and the table at the end
                if ((data[i + 1] & 0x80) != 0) {
                    at = 0x7000 + (at % 0x100);
                } else if ((data[i + 1] & 0x40) != 0) {
                    at = fw.length - 1 - (at % 0x80);
                }
                fw[at] = data[i + 2];
            }
        } else {
            fw = data;
        }
        try {
            TdvfMetadata t = TdvfMetadata.parse(fw);
            long pages = 0;
            for (TdvfMetadata.Section s : t.sections()) {
                if (s.memAddress() % 4096 != 0 || s.memSize() % 4096 != 0 || s.rawSize() > s.memSize()
                        || (s.mrExtend() && s.dataOffset() + s.memSize() > fw.length)) {
                    throw new AssertionError("a parsed section breaks its invariants: " + s);
                }
                pages += s.pageAug() ? 0 : s.pages();
            }
            if (pages > TdvfMetadata.MAX_MEASURED_PAGES) {
                throw new AssertionError("page limit not enforced");
            }
            if (Mrtd.compute(t, Mrtd.PageAddOrder.SINGLE_PASS).length != 48
                    || Mrtd.compute(t, Mrtd.PageAddOrder.TWO_PASS).length != 48) {
                throw new AssertionError("MRTD is not 48 bytes");
            }
            try {
                t.tdHobLayout();
            } catch (MeasureException e) {
                check(e);
            }
        } catch (MeasureException e) {
            check(e);
        }
    }

    private static void check(MeasureException e) {
        if (e.measureReason() == null || e.structure().isEmpty()) {
            throw new AssertionError("a refusal without reason or structure: " + e.getMessage());
        }
    }
}
