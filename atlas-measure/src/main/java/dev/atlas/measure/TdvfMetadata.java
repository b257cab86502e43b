package dev.atlas.measure;

import dev.atlas.measure.internal.Guid;
import dev.atlas.measure.internal.Le;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * The TDVF metadata of an OVMF image for TDX: the sections QEMU adds to the TD's memory before launch, which
 * decide MRTD (upstream {@code dstack/dstack-mr/src/tdvf.rs}; Intel's TDVF design guide).
 *
 * <p>Layout, from the end of the file: 32 bytes, then the OVMF GUIDed table footer (a {@code u16} total table
 * length, then the footer GUID {@value #FOOTER_GUID}), preceded by table entries each ending with
 * {@code u16 length ‖ GUID}; the entry with GUID {@value #METADATA_GUID} ends with a {@code u32} giving the TDVF
 * descriptor's offset counted back from the end of the file. The descriptor is {@code "TDVF"}, {@code u32
 * length}, {@code u32 version} (1), {@code u32 section count}, followed by 32-byte sections
 * {@code {u32 data_offset, u32 raw_size, u64 mem_addr, u64 mem_size, u32 type, u32 attributes}}.
 *
 * <p>Every field is checked; a violation is a {@link MeasureException} naming the structure and its file offset.
 * Checks beyond upstream's (which fail closed on images upstream would also mis-measure or crash on): the table
 * entries must tile the table, the descriptor length must cover its sections, section types 0–6 and attribute
 * bits 0–1 only, raw data inside the file, {@code mem_addr + mem_size} below 2^52, an {@code MR_EXTEND} section's
 * raw size equal to its memory size, and at most {@value #MAX_MEASURED_PAGES} pages added in total.
 */
public final class TdvfMetadata {
    /** The OVMF GUIDed table footer. */
    public static final String FOOTER_GUID = "96b582de-1fb2-45f7-baea-a366c55a082d";
    /** The table entry holding the TDVF metadata offset. */
    public static final String METADATA_GUID = "e47a6535-984a-4798-865e-4685a7bf8ec2";
    /** Largest firmware file accepted (real OVMF images are 2–4 MiB). */
    public static final int MAX_FIRMWARE_SIZE = 64 << 20;
    /** Most sections accepted. */
    public static final int MAX_SECTIONS = 64;
    /** Most pages MEM.PAGE.ADD may cover in total (4 GiB), bounding the MRTD work. */
    public static final long MAX_MEASURED_PAGES = 1L << 20;
    /** Section attribute: the section's content is measured with MR.EXTEND. */
    public static final int ATTRIBUTE_MR_EXTEND = 0x1;
    /** Section attribute: the pages are added after launch (TDH.MEM.PAGE.AUG), not measured. */
    public static final int ATTRIBUTE_PAGE_AUG = 0x2;
    /** Section types of the TDVF design guide. */
    public static final int TYPE_BFV = 0, TYPE_CFV = 1, TYPE_TD_HOB = 2, TYPE_TEMP_MEM = 3, TYPE_PERM_MEM = 4,
            TYPE_PAYLOAD = 5, TYPE_PAYLOAD_PARAM = 6;

    static final long PAGE_SIZE = 0x1000;
    private static final byte[] FOOTER = Guid.bytes(FOOTER_GUID);
    private static final byte[] METADATA = Guid.bytes(METADATA_GUID);
    private static final int BYTES_AFTER_FOOTER = 32;
    private static final int ENTRY_HEADER = 18;
    private static final long MAX_GPA = 1L << 52;

    /**
     * One TDVF section.
     *
     * @param index position in the descriptor
     * @param fileOffset where this 32-byte entry lies in the firmware file
     */
    public record Section(int index, long fileOffset, long dataOffset, long rawSize, long memAddress, long memSize,
            int type, int attributes) {
        /** Whether the content is measured with MR.EXTEND. */
        public boolean mrExtend() {
            return (attributes & ATTRIBUTE_MR_EXTEND) != 0;
        }

        /** Whether the pages are added after launch (not part of MRTD). */
        public boolean pageAug() {
            return (attributes & ATTRIBUTE_PAGE_AUG) != 0;
        }

        /** Pages of this section. */
        public long pages() {
            return memSize / PAGE_SIZE;
        }
    }

    private final byte[] firmware;
    private final long descriptorOffset;
    private final List<Section> sections;

    private TdvfMetadata(byte[] firmware, long descriptorOffset, List<Section> sections) {
        this.firmware = firmware;
        this.descriptorOffset = descriptorOffset;
        this.sections = sections;
    }

    /** Where the TDVF descriptor ({@code "TDVF"}) lies in the file. */
    public long descriptorOffset() {
        return descriptorOffset;
    }

    /** The sections in descriptor order. */
    public List<Section> sections() {
        return sections;
    }

    /**
     * Where OVMF builds the TD HOB and which ranges it accepts first (for {@link Rtmr0Fixed}): the {@code TD_HOB}
     * and {@code TEMP_MEM} sections in descriptor order; the TD HOB at the last {@code TD_HOB} section's address,
     * or upstream's default {@code 0x809000} without one.
     *
     * @throws MeasureException {@code TDVF_SECTION_INVALID} for an empty TD_HOB or TEMP_MEM section (upstream
     *     would emit a zero-length resource HOB; we refuse rather than guess)
     */
    public Rtmr0Fixed.TdHobLayout tdHobLayout() throws MeasureException {
        long hob = 0x809000L;
        List<Rtmr0Fixed.Range> ranges = new ArrayList<>();
        for (Section s : sections) {
            if (s.type() == TYPE_TD_HOB || s.type() == TYPE_TEMP_MEM) {
                if (s.memSize() == 0) {
                    throw new MeasureException(MeasureException.Reason.TDVF_SECTION_INVALID, "tdvf.section["
                            + s.index() + "].mem_size", s.fileOffset() + 16, "a TD_HOB or TEMP_MEM section must not be"
                            + " empty");
                }
                ranges.add(new Rtmr0Fixed.Range(s.memAddress(), s.memSize()));
            }
            if (s.type() == TYPE_TD_HOB) {
                hob = s.memAddress();
            }
        }
        return new Rtmr0Fixed.TdHobLayout(hob, ranges);
    }

    /** The firmware bytes (the array passed to {@link #parse}; not copied, callers must not change it). */
    byte[] firmware() {
        return firmware;
    }

    /** Parses and validates the TDVF metadata of {@code firmware} (the array is kept, not copied). */
    public static TdvfMetadata parse(byte[] firmware) throws MeasureException {
        if (firmware.length > MAX_FIRMWARE_SIZE) {
            throw new MeasureException(MeasureException.Reason.FILE_TOO_LARGE, "firmware", -1,
                    "the firmware has " + firmware.length + " bytes, more than the limit of " + MAX_FIRMWARE_SIZE);
        }
        final MeasureException.Reason footer = MeasureException.Reason.TDVF_FOOTER_INVALID;
        long guidAt = (long) firmware.length - BYTES_AFTER_FOOTER - 16;
        if (guidAt - 2 < 0) {
            throw new MeasureException(footer, "ovmf.footer", 0, "the firmware has " + firmware.length
                    + " bytes, too few for the OVMF table footer (" + (BYTES_AFTER_FOOTER + ENTRY_HEADER) + ")");
        }
        if (!Arrays.equals(firmware, (int) guidAt, (int) guidAt + 16, FOOTER, 0, 16)) {
            throw new MeasureException(footer, "ovmf.footer.guid", guidAt,
                    "the OVMF table footer GUID " + FOOTER_GUID + " is missing (not a TDX OVMF image?)");
        }
        long lenAt = guidAt - 2;
        long tableLen = Le.u16(firmware, lenAt, footer, "ovmf.footer.length");
        // the table length counts the footer entry; like upstream, the table must start at least 18 bytes in
        if (tableLen < ENTRY_HEADER || tableLen > lenAt) {
            throw new MeasureException(footer, "ovmf.footer.length", lenAt, "the OVMF table length " + tableLen
                    + " is outside " + ENTRY_HEADER + ".." + lenAt);
        }
        long tableStart = lenAt + 2 + 16 - tableLen;
        long cursor = lenAt; // end of the entry before the footer
        long metadataEntryEnd = -1;
        int entry = 0;
        while (cursor > tableStart) {
            if (cursor - tableStart < ENTRY_HEADER) {
                throw new MeasureException(footer, "ovmf.table[" + entry + "]", tableStart, "the OVMF table has "
                        + (cursor - tableStart) + " bytes left, too few for an entry header (" + ENTRY_HEADER + ")");
            }
            long entryLenAt = cursor - ENTRY_HEADER;
            long entryLen = Le.u16(firmware, entryLenAt, footer, "ovmf.table[" + entry + "].length");
            if (entryLen < ENTRY_HEADER || entryLen > cursor - tableStart) {
                throw new MeasureException(footer, "ovmf.table[" + entry + "].length", entryLenAt, "entry length "
                        + entryLen + " is outside " + ENTRY_HEADER + ".." + (cursor - tableStart));
            }
            if (Arrays.equals(firmware, (int) (cursor - 16), (int) cursor, METADATA, 0, 16)) {
                if (entryLen < ENTRY_HEADER + 4) {
                    throw new MeasureException(footer, "ovmf.table[" + entry + "].length", entryLenAt,
                            "the TDVF metadata entry has length " + entryLen + ", too short for its u32 offset ("
                                    + (ENTRY_HEADER + 4) + ")");
                }
                metadataEntryEnd = cursor;
                break;
            }
            cursor -= entryLen;
            entry++;
        }
        if (metadataEntryEnd < 0) {
            throw new MeasureException(footer, "ovmf.table", tableStart, "no entry with the TDVF metadata GUID "
                    + METADATA_GUID + " among " + entry + " OVMF table entries (not a TDX OVMF image?)");
        }
        long offAt = metadataEntryEnd - ENTRY_HEADER - 4;
        long fromEnd = Le.u32(firmware, offAt, footer, "ovmf.tdvf_metadata_offset");
        if (fromEnd < 16 || fromEnd > firmware.length) {
            throw new MeasureException(footer, "ovmf.tdvf_metadata_offset", offAt, "the TDVF metadata offset "
                    + fromEnd + " (from the end) is outside 16.." + firmware.length);
        }
        long d = firmware.length - fromEnd;
        return parseDescriptor(firmware, d);
    }

    private static TdvfMetadata parseDescriptor(byte[] fw, long d) throws MeasureException {
        final MeasureException.Reason desc = MeasureException.Reason.TDVF_DESCRIPTOR_INVALID;
        Le.require(fw, d, 16, desc, "tdvf.descriptor");
        if (fw[(int) d] != 'T' || fw[(int) d + 1] != 'D' || fw[(int) d + 2] != 'V' || fw[(int) d + 3] != 'F') {
            throw new MeasureException(desc, "tdvf.descriptor.signature", d, "the TDVF descriptor signature is not"
                    + " \"TDVF\"");
        }
        long length = Le.u32(fw, d + 4, desc, "tdvf.descriptor.length");
        long version = Le.u32(fw, d + 8, desc, "tdvf.descriptor.version");
        long count = Le.u32(fw, d + 12, desc, "tdvf.descriptor.section_count");
        if (version != 1) {
            throw new MeasureException(desc, "tdvf.descriptor.version", d + 8, "TDVF metadata version " + version
                    + " is not supported (only 1)");
        }
        if (count < 1 || count > MAX_SECTIONS) {
            throw new MeasureException(desc, "tdvf.descriptor.section_count", d + 12, "section count " + count
                    + " is outside 1.." + MAX_SECTIONS);
        }
        if (length < 16 + 32 * count) {
            throw new MeasureException(desc, "tdvf.descriptor.length", d + 4, "descriptor length " + length
                    + " does not cover its " + count + " sections (" + (16 + 32 * count) + ")");
        }
        if (d + 16 + 32 * count > fw.length) {
            throw new MeasureException(desc, "tdvf.descriptor.section_count", d + 12, count + " sections of 32 bytes"
                    + " from offset " + (d + 16) + " run past the end of the file (" + fw.length + " bytes)");
        }
        final MeasureException.Reason sec = MeasureException.Reason.TDVF_SECTION_INVALID;
        List<Section> sections = new ArrayList<>();
        long pagesAdded = 0;
        for (int i = 0; i < count; i++) {
            long s = d + 16 + 32L * i;
            String n = "tdvf.section[" + i + "]";
            long dataOffset = Le.u32(fw, s, sec, n + ".data_offset");
            long rawSize = Le.u32(fw, s + 4, sec, n + ".raw_size");
            long memAddr = Le.u64(fw, s + 8, sec, n + ".mem_addr");
            long memSize = Le.u64(fw, s + 16, sec, n + ".mem_size");
            long type = Le.u32(fw, s + 24, sec, n + ".type");
            long attributes = Le.u32(fw, s + 28, sec, n + ".attributes");
            if (memAddr < 0 || memAddr % PAGE_SIZE != 0) {
                throw new MeasureException(sec, n + ".mem_addr", s + 8, "memory address 0x"
                        + Long.toUnsignedString(memAddr, 16) + " is not 4 KiB aligned or not below 2^52");
            }
            if (memSize < 0 || memSize % PAGE_SIZE != 0) {
                throw new MeasureException(sec, n + ".mem_size", s + 16, "memory size 0x"
                        + Long.toUnsignedString(memSize, 16) + " is not a multiple of 4 KiB or not below 2^52");
            }
            if (memAddr >= MAX_GPA || memSize > MAX_GPA - memAddr) {
                throw new MeasureException(sec, n + ".mem_size", s + 16, "memory range 0x" + Long.toHexString(memAddr)
                        + " + 0x" + Long.toUnsignedString(memSize, 16) + " ends above 2^52");
            }
            if (memSize < rawSize) {
                throw new MeasureException(sec, n + ".raw_size", s + 4, "raw size " + rawSize
                        + " exceeds memory size " + memSize);
            }
            if (rawSize > 0 && dataOffset + rawSize > fw.length) {
                throw new MeasureException(sec, n + ".data_offset", s, "raw data " + dataOffset + " + " + rawSize
                        + " runs past the end of the file (" + fw.length + " bytes)");
            }
            if (type > TYPE_PAYLOAD_PARAM) {
                throw new MeasureException(sec, n + ".type", s + 24, "section type " + type
                        + " is not a TDVF section type (0..6)");
            }
            if ((attributes & ~(long) (ATTRIBUTE_MR_EXTEND | ATTRIBUTE_PAGE_AUG)) != 0) {
                throw new MeasureException(sec, n + ".attributes", s + 28, "attributes 0x" + Long.toHexString(attributes)
                        + " set reserved bits (only MR_EXTEND 0x1 and PAGE_AUG 0x2 are defined)");
            }
            boolean mrExtend = (attributes & ATTRIBUTE_MR_EXTEND) != 0;
            if (mrExtend && rawSize != memSize) {
                throw new MeasureException(sec, n + ".raw_size", s + 4, "an MR_EXTEND section must have raw size"
                        + " equal to its memory size, got " + rawSize + " and " + memSize);
            }
            if ((attributes & ATTRIBUTE_PAGE_AUG) == 0) {
                pagesAdded += memSize / PAGE_SIZE;
                if (pagesAdded > MAX_MEASURED_PAGES) {
                    throw new MeasureException(sec, n + ".mem_size", s + 16, "the sections add more than "
                            + MAX_MEASURED_PAGES + " pages before launch (limit)");
                }
            }
            sections.add(new Section(i, s, dataOffset, rawSize, memAddr, memSize, (int) type, (int) attributes));
        }
        return new TdvfMetadata(fw, d, Collections.unmodifiableList(sections));
    }
}
