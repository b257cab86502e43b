package dev.atlas.dstack.kms.internal;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The first RTMR0 event of a TDX guest: SHA-384 of the TD HOB that OVMF builds, recomputed from the image's
 * compact witness and the VM's memory size ({@code dstack-mr/src/tdx.rs} {@code measure_td_hob_from_witness_data};
 * spec §6.6). The witness is unsigned LEB128 varints {@code base_page, td_hob_page_delta, count,
 * (start_page_delta, page_count) × count}, in 4 KiB pages.
 */
public final class TdHob {
    /** Most witness ranges accepted (ours; dstack's OVMF has two or three). */
    public static final int MAX_RANGES = 64;
    /** {@code TDX_KERNEL_HASH_STABLE_MIN_MEMORY}: above it the last range is split around the 2–4 GiB hole. */
    public static final long STABLE_MIN_MEMORY = 0xB0000000L;
    private static final long PAGE = 0x1000;
    /** Page numbers above this would overflow a 64-bit address (ours: keeps the arithmetic exact). */
    private static final long MAX_PAGE = (1L << 51) - 1;

    private TdHob() {}

    /**
     * The TD HOB digest for {@code memorySize} (unsigned).
     *
     * @throws RaException {@code TRUNCATED}, {@code TRAILING_BYTES}, {@code LIMIT_EXCEEDED} or
     *                     {@code WRONG_TYPE} (a varint or address out of range), field {@code td_hob}
     */
    public static byte[] measure(byte[] witness, long memorySize) throws RaException {
        Reader in = new Reader(witness);
        long basePage = in.pageNumber("base_page");
        long hobDelta = in.pageNumber("td_hob_page_delta");
        long count = in.varuint("range_count");
        if (count > MAX_RANGES) {
            throw new RaException(Reason.LIMIT_EXCEEDED, "td_hob.range_count", count + " > " + MAX_RANGES);
        }
        long hobBase = page(basePage, hobDelta, "td_hob_page_delta");
        if (memorySize < 0) {
            // above 2^63 bytes: no real VM; refuse rather than reason about unsigned ranges
            throw new RaException(Reason.WRONG_TYPE, "vm_config.memory_size", "larger than 2^63 bytes");
        }
        List<long[]> ranges = new ArrayList<>(); // {accepted 0/1, start, end}
        ranges.add(new long[] {0, 0, memorySize});
        for (long i = 0; i < count; i++) {
            long start = page(basePage, in.pageNumber("start_page_delta"), "start_page_delta");
            long pages = in.pageNumber("page_count");
            long len = pages * PAGE;
            if (start + len < 0) {
                throw new RaException(Reason.WRONG_TYPE, "td_hob.page_count", "range end overflows");
            }
            accept(ranges, start, start + len);
        }
        if (in.remaining() != 0) {
            throw new RaException(Reason.TRAILING_BYTES, "td_hob", "TD HOB witness has trailing bytes");
        }

        ByteBuffer hob = ByteBuffer.allocate(56 + 48 * (ranges.size() + 2)).order(ByteOrder.LITTLE_ENDIAN);
        hob.putShort((short) 0x0001).putShort((short) 56).putInt(0).putInt(9).putInt(0); // PHIT: type, length, -, version, boot mode
        hob.putLong(0).putLong(0).putLong(0).putLong(0).putLong(0); // memory top/bottom, free top/bottom, end of list
        long[] last = ranges.remove(ranges.size() - 1);
        for (long[] r : ranges) {
            resource(hob, r[0] == 1 ? 0x00 : 0x07, r[1], r[2] - r[1]);
        }
        long lastStart = last[1];
        long lastEnd = last[2];
        if (Long.compareUnsigned(memorySize, STABLE_MIN_MEMORY) >= 0) {
            if (lastStart < 0x80000000L) {
                resource(hob, 0x07, lastStart, 0x80000000L - lastStart);
            }
            if (lastEnd > 0x80000000L) {
                resource(hob, 0x07, 0x100000000L, lastEnd - 0x80000000L);
            }
        } else {
            resource(hob, 0x07, lastStart, lastEnd - lastStart);
        }
        int len = hob.position();
        hob.putLong(48, hobBase + len + 8);
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-384");
            d.update(hob.array(), 0, len);
            return d.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void resource(ByteBuffer b, int type, long start, long length) {
        b.putShort((short) 0x0003).putShort((short) 48).putInt(0); // type, length, reserved
        b.put(new byte[16]); // owner GUID
        b.put((byte) type).put(new byte[3]);
        b.putInt(7); // resource attribute
        b.putLong(start).putLong(length);
    }

    /** {@code MemoryAcceptor::accept}: carve {@code [start, end)} out of the unaccepted ranges, keep sorted. */
    private static void accept(List<long[]> ranges, long start, long end) {
        if (start >= end) {
            return;
        }
        List<long[]> out = new ArrayList<>();
        for (long[] r : ranges) {
            if (r[0] == 1 || r[2] <= start || r[1] >= end) {
                out.add(r);
            } else {
                if (r[1] < start) {
                    out.add(new long[] {0, r[1], start});
                }
                if (r[2] > end) {
                    out.add(new long[] {0, end, r[2]});
                }
            }
        }
        out.add(new long[] {1, start, end});
        out.sort(Comparator.comparingLong(r -> r[1])); // stable, as Rust's sort_by_key
        ranges.clear();
        ranges.addAll(out);
    }

    private static long page(long base, long delta, String field) throws RaException {
        long p = base + delta;
        if (p > MAX_PAGE) {
            throw new RaException(Reason.WRONG_TYPE, "td_hob." + field, "address overflow");
        }
        return p * PAGE;
    }

    private static final class Reader {
        private final byte[] b;
        private int pos;

        Reader(byte[] b) {
            this.b = b;
        }

        int remaining() {
            return b.length - pos;
        }

        long varuint(String field) throws RaException {
            long value = 0;
            int shift = 0;
            while (true) {
                if (pos >= b.length) {
                    throw new RaException(Reason.TRUNCATED, "td_hob." + field, "truncated TD HOB witness varuint");
                }
                int x = b[pos++] & 0xff;
                value |= ((long) (x & 0x7f)) << shift;
                if ((x & 0x80) == 0) {
                    return value;
                }
                shift += 7;
                if (shift >= 64) {
                    throw new RaException(Reason.WRONG_TYPE, "td_hob." + field, "TD HOB witness varuint is too large");
                }
            }
        }

        long pageNumber(String field) throws RaException {
            long v = varuint(field);
            if (v < 0 || v > MAX_PAGE) {
                throw new RaException(Reason.WRONG_TYPE, "td_hob." + field, "page number out of range");
            }
            return v;
        }
    }
}
