package dev.atlas.measure;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

/**
 * Synthetic OVMF (TDVF) and bzImage (PE + Linux setup header) images built by the tests, with the offsets of every
 * field so one-mutation tests can change exactly one. Independent of the production parsers: layouts are written
 * from the TDVF design guide / PE spec / Linux boot protocol as described in the spec §6.6.
 */
final class TestImages {
    private TestImages() {
    }

    static final String FOOTER_GUID = "96b582de-1fb2-45f7-baea-a366c55a082d";
    static final String METADATA_GUID = "e47a6535-984a-4798-865e-4685a7bf8ec2";
    static final String OTHER_GUID = "00112233-4455-6677-8899-aabbccddeeff";

    /** One TDVF section as written. */
    record Sec(long dataOffset, long rawSize, long memAddr, long memSize, long type, long attributes) {
    }

    /** The default section list: BFV (MR_EXTEND, 3 pages), CFV, TD_HOB, TEMP_MEM, PERM_MEM (PAGE_AUG). */
    static List<Sec> defaultSections() {
        List<Sec> s = new ArrayList<>();
        s.add(new Sec(0x1000, 0x3000, 0xFFFC0000L, 0x3000, 0, 1));
        s.add(new Sec(0x4000, 0x2000, 0xFFF00000L, 0x2000, 1, 0));
        s.add(new Sec(0, 0, 0x809000, 0x2000, 2, 0));
        s.add(new Sec(0, 0, 0x80B000, 0x10000, 3, 0));
        s.add(new Sec(0, 0, 0x1000000, 0x100000, 4, 2));
        return s;
    }

    /** A firmware image and where its fields are. */
    static final class Fw {
        byte[] bytes;
        int size;
        int descAt;
        int footerGuidAt;
        int tableLenAt;
        int otherEntryLenAt;
        int metaEntryLenAt;
        int metaGuidAt;
        int metaOffsetAt;

        int sectionAt(int i) {
            return descAt + 16 + 32 * i;
        }

        Fw copy() {
            Fw f = new Fw();
            f.bytes = bytes.clone();
            f.size = size;
            f.descAt = descAt;
            f.footerGuidAt = footerGuidAt;
            f.tableLenAt = tableLenAt;
            f.otherEntryLenAt = otherEntryLenAt;
            f.metaEntryLenAt = metaEntryLenAt;
            f.metaGuidAt = metaGuidAt;
            f.metaOffsetAt = metaOffsetAt;
            return f;
        }

        void u16(int at, int v) {
            ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putShort(at, (short) v);
        }

        void u32(int at, long v) {
            ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putInt(at, (int) v);
        }

        void u64(int at, long v) {
            ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(at, v);
        }
    }

    static Fw firmware() {
        return firmware(defaultSections(), 0x10000, 0x100, 7);
    }

    /**
     * A firmware of {@code size} bytes (random content from {@code seed}) with the descriptor at {@code descAt} and
     * the OVMF GUIDed table at the end: [metadata entry (u32 offset, u16 22, GUID)] [another entry (6 bytes, u16
     * 24, GUID)] [footer (u16 table length, GUID)] [32 bytes].
     */
    static Fw firmware(List<Sec> sections, int size, int descAt, long seed) {
        Fw f = new Fw();
        f.size = size;
        f.bytes = new byte[size];
        new Random(seed).nextBytes(f.bytes);
        f.descAt = descAt;
        f.bytes[descAt] = 'T';
        f.bytes[descAt + 1] = 'D';
        f.bytes[descAt + 2] = 'V';
        f.bytes[descAt + 3] = 'F';
        f.u32(descAt + 4, 16 + 32L * sections.size());
        f.u32(descAt + 8, 1);
        f.u32(descAt + 12, sections.size());
        for (int i = 0; i < sections.size(); i++) {
            Sec s = sections.get(i);
            int at = f.sectionAt(i);
            f.u32(at, s.dataOffset());
            f.u32(at + 4, s.rawSize());
            f.u64(at + 8, s.memAddr());
            f.u64(at + 16, s.memSize());
            f.u32(at + 24, s.type());
            f.u32(at + 28, s.attributes());
        }
        int end = size - 32;
        f.footerGuidAt = end - 16;
        f.tableLenAt = end - 18;
        put(f.bytes, f.footerGuidAt, guid(FOOTER_GUID));
        int otherEnd = f.tableLenAt;
        f.otherEntryLenAt = otherEnd - 18;
        put(f.bytes, otherEnd - 16, guid(OTHER_GUID));
        f.u16(f.otherEntryLenAt, 24);
        int metaEnd = otherEnd - 24;
        f.metaGuidAt = metaEnd - 16;
        f.metaEntryLenAt = metaEnd - 18;
        f.metaOffsetAt = metaEnd - 22;
        put(f.bytes, f.metaGuidAt, guid(METADATA_GUID));
        f.u16(f.metaEntryLenAt, 22);
        f.u32(f.metaOffsetAt, size - descAt);
        f.u16(f.tableLenAt, 18 + 24 + 22);
        return f;
    }

    /** On-disk GUID bytes, written here from the EFI GUID layout (first three fields little-endian). */
    static byte[] guid(String g) {
        String h = g.replace("-", "");
        byte[] b = HexFormat.of().parseHex(h);
        byte[] out = b.clone();
        for (int i = 0; i < 4; i++) {
            out[i] = b[3 - i];
        }
        out[4] = b[5];
        out[5] = b[4];
        out[6] = b[7];
        out[7] = b[6];
        return out;
    }

    static void put(byte[] dst, int at, byte[] src) {
        System.arraycopy(src, 0, dst, at, src.length);
    }

    /**
     * MRTD written from spec §6.6 independently of {@link Mrtd}: the full stream of 128-byte records (and 256-byte
     * chunks) is built in memory, then hashed once.
     */
    static byte[] expectedMrtd(byte[] fw, List<Sec> sections, boolean twoPass) {
        ByteArrayOutputStream stream = new ByteArrayOutputStream();
        for (Sec s : sections) {
            List<byte[]> adds = new ArrayList<>();
            List<List<byte[]>> extends_ = new ArrayList<>();
            for (long page = 0; page < s.memSize() / 4096; page++) {
                long gpa = s.memAddr() + page * 4096;
                adds.add((s.attributes() & 2) == 0 ? rec("MEM.PAGE.ADD", gpa) : new byte[0]);
                List<byte[]> e = new ArrayList<>();
                if ((s.attributes() & 1) != 0) {
                    for (int c = 0; c < 16; c++) {
                        e.add(rec("MR.EXTEND", gpa + c * 256L));
                        int from = (int) (s.dataOffset() + page * 4096 + c * 256L);
                        e.add(java.util.Arrays.copyOfRange(fw, from, from + 256));
                    }
                }
                extends_.add(e);
            }
            if (twoPass) {
                adds.forEach(stream::writeBytes);
                extends_.forEach(l -> l.forEach(stream::writeBytes));
            } else {
                for (int i = 0; i < adds.size(); i++) {
                    stream.writeBytes(adds.get(i));
                    extends_.get(i).forEach(stream::writeBytes);
                }
            }
        }
        return sha384(stream.toByteArray());
    }

    private static byte[] rec(String op, long gpa) {
        byte[] r = new byte[128];
        byte[] o = op.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(o, 0, r, 0, o.length);
        ByteBuffer.wrap(r).order(ByteOrder.LITTLE_ENDIAN).putLong(16, gpa);
        return r;
    }

    static byte[] sha384(byte[] b) {
        return digest("SHA-384", b);
    }

    static byte[] sha256(byte[] b) {
        return digest("SHA-256", b);
    }

    private static byte[] digest(String alg, byte[] b) {
        try {
            return MessageDigest.getInstance(alg).digest(b);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            o.writeBytes(p);
        }
        return o.toByteArray();
    }

    // ------------------------------------------------------------------------------------------- kernel

    /** A synthetic EFI-stub bzImage and where its fields are. */
    static final class Kernel {
        byte[] bytes;
        int lfanew = 0x40;
        int coff = 0x44;
        int opt = 0x58;
        int optSize;
        int checksumAt;
        int certDirAt;
        int sizeOfHeadersAt;
        int sectionTable;
        int sizeOfHeaders = 0x200;
        boolean pe32Plus;
        /** {pointer, size} of the sections in table order. */
        List<long[]> sections = new ArrayList<>();
        long certAddr;
        long certSize;

        void u16(int at, int v) {
            ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putShort(at, (short) v);
        }

        void u32(int at, long v) {
            ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putInt(at, (int) v);
        }

        int u32(int at) {
            return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getInt(at);
        }

        Kernel copy() {
            Kernel k = new Kernel();
            k.bytes = bytes.clone();
            k.optSize = optSize;
            k.checksumAt = checksumAt;
            k.certDirAt = certDirAt;
            k.sizeOfHeadersAt = sizeOfHeadersAt;
            k.sectionTable = sectionTable;
            k.sizeOfHeaders = sizeOfHeaders;
            k.pe32Plus = pe32Plus;
            k.sections = sections;
            k.certAddr = certAddr;
            k.certSize = certSize;
            return k;
        }
    }

    /** The default kernel: PE32+, sections out of file order, a zero-size section, a certificate table, odd size. */
    static Kernel kernel() {
        return kernel(true, true, 0x123, 0x020f, 11);
    }

    /**
     * A kernel with PE headers at 0x40 (6 data directories), SizeOfHeaders 0x200, sections .text (0x1400+0x4000),
     * .bss (no raw data), .setup (0x200+0x1000, holding the setup header's patched fields), .reloc (0x1200+0x200);
     * {@code trailing} bytes after the sections; the certificate table (if any) covers the last 0x100 of them.
     */
    static Kernel kernel(boolean pe32Plus, boolean withCert, int trailing, int protocol, long seed) {
        Kernel k = new Kernel();
        int size = 0x5400 + trailing;
        k.bytes = new byte[size];
        new Random(seed).nextBytes(k.bytes);
        k.pe32Plus = pe32Plus;
        k.bytes[0] = 'M';
        k.bytes[1] = 'Z';
        k.u32(0x3c, k.lfanew);
        k.bytes[0x40] = 'P';
        k.bytes[0x41] = 'E';
        k.bytes[0x42] = 0;
        k.bytes[0x43] = 0;
        int dirs = pe32Plus ? 112 : 96;
        k.optSize = dirs + 6 * 8;
        k.u16(k.coff, 0x8664);
        k.u16(k.coff + 2, 4);
        k.u16(k.coff + 16, k.optSize);
        k.u16(k.opt, pe32Plus ? 0x20b : 0x10b);
        k.checksumAt = k.opt + 64;
        k.sizeOfHeadersAt = k.opt + 60;
        k.u32(k.sizeOfHeadersAt, k.sizeOfHeaders);
        k.u32(k.opt + dirs - 4, 6); // NumberOfRvaAndSizes
        k.certDirAt = k.opt + dirs + 4 * 8;
        if (withCert) {
            k.certAddr = 0x5400 + trailing - 0x100;
            k.certSize = 0x100;
        }
        k.u32(k.certDirAt, k.certAddr);
        k.u32(k.certDirAt + 4, k.certSize);
        k.sectionTable = k.opt + k.optSize;
        long[][] secs = {{0x1400, 0x4000}, {0x9999, 0}, {0x200, 0x1000}, {0x1200, 0x200}};
        for (int i = 0; i < secs.length; i++) {
            int at = k.sectionTable + 40 * i;
            k.u32(at + 16, secs[i][1]);
            k.u32(at + 20, secs[i][0]);
            k.sections.add(secs[i]);
        }
        // Linux setup header (boot protocol)
        k.u32(0x202, 0x53726448L); // "HdrS"
        k.u16(0x206, protocol);
        k.bytes[0x210] = 0;
        k.bytes[0x211] = 0x01; // LOADED_HIGH
        k.u32(0x218, 0);
        k.u32(0x21c, 0);
        k.u32(0x224, 0);
        k.u32(0x228, 0);
        k.u32(0x22c, 0x7fffffff);
        k.u16(0x236, 0x40); // XLF_CAN_BE_LOADED_ABOVE_4G
        return k;
    }

    /** Writes an image directory: metadata.json, ovmf.fd, bzImage, initramfs.cpio.gz; returns it. */
    static Path imageDir(Path dir, byte[] fw, byte[] kernel, byte[] initrd, String cmdline) {
        try {
            Files.createDirectories(dir);
            Files.write(dir.resolve("ovmf.fd"), fw);
            Files.write(dir.resolve("bzImage"), kernel);
            Files.write(dir.resolve("initramfs.cpio.gz"), initrd);
            Files.writeString(dir.resolve("metadata.json"), "{\"bios\": \"ovmf.fd\", \"kernel\": \"bzImage\","
                    + " \"initrd\": \"initramfs.cpio.gz\", \"cmdline\": " + jsonString(cmdline)
                    + ", \"version\": \"0.6.0\", \"is_dev\": false, \"git_revision\": \"abc\"}");
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String jsonString(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }

    static String hex(byte[] b) {
        return HexFormat.of().formatHex(b);
    }
}
