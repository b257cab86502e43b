package dev.atlas.measure;

import dev.atlas.measure.internal.Le;
import dev.atlas.measure.internal.Sha384;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;

/**
 * The PE/COFF headers of an EFI-stub kernel and its Authenticode SHA-384, computed the way upstream
 * {@code dstack/dstack-mr/src/kernel.rs} does (which is what OVMF measures into RTMR1):
 * <ol>
 *   <li>the headers up to {@code SizeOfHeaders}, skipping the {@code CheckSum} field and the certificate-table
 *       data directory entry;</li>
 *   <li>every section with raw data, in ascending {@code PointerToRawData} order;</li>
 *   <li>if a certificate table is present (address and size non-zero) and the file is longer than the bytes
 *       counted so far, the bytes after them except the certificate table's size;</li>
 *   <li>zero bytes padding the file size to a multiple of 8.</li>
 * </ol>
 * Stricter than upstream (which hashes what is there, or crashes): the {@code MZ} and {@code PE\0\0} signatures,
 * an optional-header magic of PE32 (0x10b) or PE32+ (0x20b), the certificate-table entry inside the optional
 * header, {@code SizeOfHeaders} between that entry and the end of the file, at most 96 sections, and every
 * section's raw data inside the file.
 */
public final class PeImage {
    /** Largest kernel image accepted. */
    public static final int MAX_IMAGE_SIZE = 128 << 20;
    /** The PE format's section limit. */
    public static final int MAX_SECTIONS = 96;
    private static final int SECURITY_DIRECTORY = 4;

    /** A section's raw data in the file. */
    public record Section(int index, long pointerToRawData, long sizeOfRawData) {
    }

    private final byte[] data;
    private final boolean pe32Plus;
    private final long checksumOffset;
    private final long certDirOffset;
    private final long sizeOfHeaders;
    private final long certTableAddress;
    private final long certTableSize;
    private final List<Section> sections;

    private PeImage(byte[] data, boolean pe32Plus, long checksumOffset, long certDirOffset, long sizeOfHeaders,
            long certTableAddress, long certTableSize, List<Section> sections) {
        this.data = data;
        this.pe32Plus = pe32Plus;
        this.checksumOffset = checksumOffset;
        this.certDirOffset = certDirOffset;
        this.sizeOfHeaders = sizeOfHeaders;
        this.certTableAddress = certTableAddress;
        this.certTableSize = certTableSize;
        this.sections = sections;
    }

    /** Parses and validates the headers of {@code image} (kept, not copied). */
    public static PeImage parse(byte[] image) throws MeasureException {
        final MeasureException.Reason bad = MeasureException.Reason.PE_INVALID;
        if (image.length > MAX_IMAGE_SIZE) {
            throw new MeasureException(MeasureException.Reason.FILE_TOO_LARGE, "pe", -1, "the image has "
                    + image.length + " bytes, more than the limit of " + MAX_IMAGE_SIZE);
        }
        Le.require(image, 0, 0x40, bad, "pe.dos_header");
        if (image[0] != 'M' || image[1] != 'Z') {
            throw new MeasureException(bad, "pe.dos_header.e_magic", 0, "the image does not start with \"MZ\"");
        }
        long lfanew = Le.u32(image, 0x3c, bad, "pe.dos_header.e_lfanew");
        Le.require(image, lfanew, 24, bad, "pe.signature");
        if (Le.u32(image, lfanew, bad, "pe.signature") != 0x00004550L) {
            throw new MeasureException(bad, "pe.signature", lfanew, "no \"PE\\0\\0\" signature at e_lfanew");
        }
        long coff = lfanew + 4;
        int numSections = Le.u16(image, coff + 2, bad, "pe.coff.number_of_sections");
        int optSize = Le.u16(image, coff + 16, bad, "pe.coff.size_of_optional_header");
        long opt = coff + 20;
        int magic = Le.u16(image, opt, bad, "pe.optional_header.magic");
        if (magic != 0x10b && magic != 0x20b) {
            throw new MeasureException(bad, "pe.optional_header.magic", opt, "optional header magic 0x"
                    + Integer.toHexString(magic) + " is neither PE32 (0x10b) nor PE32+ (0x20b)");
        }
        boolean plus = magic == 0x20b;
        long checksum = opt + 64;
        long certDir = opt + (plus ? 112 : 96) + SECURITY_DIRECTORY * 8L;
        if (certDir + 8 > opt + optSize) {
            throw new MeasureException(bad, "pe.coff.size_of_optional_header", coff + 16, "the optional header ("
                    + optSize + " bytes) ends before the certificate-table directory entry (needs "
                    + (certDir + 8 - opt) + ")");
        }
        long sizeOfHeaders = Le.u32(image, opt + 60, bad, "pe.optional_header.size_of_headers");
        if (sizeOfHeaders < certDir + 8 || sizeOfHeaders > image.length) {
            throw new MeasureException(bad, "pe.optional_header.size_of_headers", opt + 60, "SizeOfHeaders "
                    + sizeOfHeaders + " is outside " + (certDir + 8) + ".." + image.length);
        }
        long certAddr = Le.u32(image, certDir, bad, "pe.data_directory.certificate_table.address");
        long certSize = Le.u32(image, certDir + 4, bad, "pe.data_directory.certificate_table.size");
        if (numSections > MAX_SECTIONS) {
            throw new MeasureException(bad, "pe.coff.number_of_sections", coff + 2, numSections
                    + " sections, more than " + MAX_SECTIONS);
        }
        long table = opt + optSize;
        Le.require(image, table, 40L * numSections, bad, "pe.section_table");
        List<Section> sections = new ArrayList<>();
        for (int i = 0; i < numSections; i++) {
            long s = table + 40L * i;
            long size = Le.u32(image, s + 16, bad, "pe.section[" + i + "].size_of_raw_data");
            long ptr = Le.u32(image, s + 20, bad, "pe.section[" + i + "].pointer_to_raw_data");
            if (size > 0 && ptr + size > image.length) {
                throw new MeasureException(bad, "pe.section[" + i + "].pointer_to_raw_data", s + 20, "raw data "
                        + ptr + " + " + size + " runs past the end of the file (" + image.length + " bytes)");
            }
            if (size > 0) {
                sections.add(new Section(i, ptr, size));
            }
        }
        return new PeImage(image, plus, checksum, certDir, sizeOfHeaders, certAddr, certSize,
                Collections.unmodifiableList(sections));
    }

    /** Whether the optional header is PE32+. */
    public boolean pe32Plus() {
        return pe32Plus;
    }

    public long sizeOfHeaders() {
        return sizeOfHeaders;
    }

    /** Sections with raw data, in section-table order. */
    public List<Section> sections() {
        return sections;
    }

    /** The certificate table's file offset and size (0 when absent). */
    public long certificateTableAddress() {
        return certTableAddress;
    }

    public long certificateTableSize() {
        return certTableSize;
    }

    /** The Authenticode SHA-384 (48 bytes) as described in the class comment. */
    public byte[] authenticodeSha384() {
        MessageDigest h = Sha384.newDigest();
        h.update(data, 0, (int) checksumOffset);
        h.update(data, (int) checksumOffset + 4, (int) (certDirOffset - checksumOffset - 4));
        h.update(data, (int) certDirOffset + 8, (int) (sizeOfHeaders - certDirOffset - 8));
        long sum = sizeOfHeaders;
        List<Section> sorted = new ArrayList<>(sections);
        sorted.sort(Comparator.comparingLong(Section::pointerToRawData)); // stable, like upstream's sort_by_key
        for (Section s : sorted) {
            h.update(data, (int) s.pointerToRawData(), (int) s.sizeOfRawData());
            sum += s.sizeOfRawData();
        }
        long fileSize = data.length;
        if (certTableAddress > 0 && certTableSize > 0 && fileSize > sum) {
            long trailing = fileSize - sum;
            if (trailing > certTableSize) {
                h.update(data, (int) sum, (int) (trailing - certTableSize));
            }
        }
        int rem = (int) (fileSize % 8);
        if (rem != 0) {
            h.update(new byte[8 - rem]);
        }
        return h.digest();
    }
}
