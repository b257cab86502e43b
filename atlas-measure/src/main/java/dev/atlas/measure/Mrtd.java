package dev.atlas.measure;

import dev.atlas.measure.internal.Le;
import dev.atlas.measure.internal.Sha384;
import java.security.MessageDigest;

/**
 * MRTD: SHA-384 over the records QEMU's TDH.MEM.PAGE.ADD and TDH.MR.EXTEND calls feed the TDX module for the TDVF
 * sections (upstream {@code dstack/dstack-mr/src/tdvf.rs}).
 *
 * <p>Per page of a section without {@code PAGE_AUG}: a 128-byte record {@code "MEM.PAGE.ADD"} with the page's GPA
 * (little-endian u64) at offset 16. Per 256-byte chunk of a page of a section with {@code MR_EXTEND}: a 128-byte
 * record {@code "MR.EXTEND"} with the chunk's GPA at offset 16, then the chunk's 256 firmware bytes. Within a
 * section the order is per page ADD then EXTEND ({@link PageAddOrder#SINGLE_PASS}) or all ADDs then all EXTENDs
 * ({@link PageAddOrder#TWO_PASS}); {@link MachineConfig#twoPassAddPages()} chooses (QEMU 8.x: two pass).
 */
public final class Mrtd {
    static final int RECORD = 128;
    static final int CHUNK = 256;

    private Mrtd() {
    }

    /** The order in which QEMU adds and extends a section's pages. */
    public enum PageAddOrder {
        /** Per page: MEM.PAGE.ADD, then its MR.EXTENDs (QEMU 9.0 and later by default). */
        SINGLE_PASS,
        /** All MEM.PAGE.ADDs of a section, then all its MR.EXTENDs (QEMU 8.x by default). */
        TWO_PASS
    }

    /** The order {@code machine} implies. */
    public static PageAddOrder order(MachineConfig machine) {
        return machine.twoPassAddPages() ? PageAddOrder.TWO_PASS : PageAddOrder.SINGLE_PASS;
    }

    /** MRTD for {@code machine}'s page-add order. */
    public static byte[] compute(TdvfMetadata tdvf, MachineConfig machine) {
        return compute(tdvf, order(machine));
    }

    /** MRTD for the given page-add order (48 bytes). */
    public static byte[] compute(TdvfMetadata tdvf, PageAddOrder order) {
        MessageDigest h = Sha384.newDigest();
        byte[] fw = tdvf.firmware();
        byte[] rec = new byte[RECORD];
        for (TdvfMetadata.Section s : tdvf.sections()) {
            long pages = s.pages();
            if (order == PageAddOrder.TWO_PASS) {
                for (long p = 0; p < pages; p++) {
                    pageAdd(h, rec, s, p);
                }
                for (long p = 0; p < pages; p++) {
                    extend(h, rec, fw, s, p);
                }
            } else {
                for (long p = 0; p < pages; p++) {
                    pageAdd(h, rec, s, p);
                    extend(h, rec, fw, s, p);
                }
            }
        }
        return h.digest();
    }

    private static void pageAdd(MessageDigest h, byte[] rec, TdvfMetadata.Section s, long page) {
        if (s.pageAug()) {
            return;
        }
        record(rec, "MEM.PAGE.ADD", s.memAddress() + page * TdvfMetadata.PAGE_SIZE);
        h.update(rec);
    }

    private static void extend(MessageDigest h, byte[] rec, byte[] fw, TdvfMetadata.Section s, long page) {
        if (!s.mrExtend()) {
            return;
        }
        for (int i = 0; i < TdvfMetadata.PAGE_SIZE / CHUNK; i++) {
            long within = page * TdvfMetadata.PAGE_SIZE + (long) i * CHUNK;
            record(rec, "MR.EXTEND", s.memAddress() + within);
            h.update(rec);
            // TdvfMetadata.parse checked data_offset + raw_size (= mem_size) lies inside the file
            h.update(fw, (int) (s.dataOffset() + within), CHUNK);
        }
    }

    private static void record(byte[] rec, String op, long gpa) {
        java.util.Arrays.fill(rec, (byte) 0);
        for (int i = 0; i < op.length(); i++) {
            rec[i] = (byte) op.charAt(i);
        }
        Le.putU64(rec, 16, gpa);
    }
}
