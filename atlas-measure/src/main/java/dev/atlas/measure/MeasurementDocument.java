package dev.atlas.measure;

import dev.atlas.measure.internal.CborReader;
import dev.atlas.measure.internal.CborReader.CborException;
import dev.atlas.measure.internal.CborReader.Item;
import dev.atlas.measure.internal.LiteHash;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A dstack OS image's lite measurement document (dstack's {@code TdxOsImageMeasurementDocument}): the raw bytes of
 * its {@code sha256sum.txt} and of its {@code measurement.tdx.cbor}, as a lite CVM carries them base64-encoded in
 * {@code vm_config.tdx_measurement.{checksum_file, measurement}}.
 *
 * <p>The image's identity is {@code os_image_hash = SHA-256(sha256sum.txt)} ({@link #osImageHash()}); the CBOR
 * document is bound to it by its line in {@code sha256sum.txt} ({@link #verify}). {@link #decode()} reads the CBOR:
 * <pre>
 * { "version": 3,
 *   "image": { "cmdline_sha384": bstr .size 48, "kernel_authenticode": bstr .size 48, "initrd_sha384": bstr .size 48 },
 *   "tdvf":  { "ovmf": "pre202505", "mrtd": { "single_pass": bstr .size 48, "two_pass": bstr .size 48 },
 *              "td_hob": bstr } }
 * </pre>
 * and {@link #expected} turns it into MRTD, RTMR1, RTMR2 (and RTMR0 with the ACPI digests) for a machine.
 *
 * <p>Upstream: {@code dstack-types/src/lib.rs} ({@code TdxOsImageMeasurementDocument}, {@code CborTdxOsImageMeasurement},
 * {@code sha256sum_entry_hash}, {@code verify_measurement_material}), {@code dstack-mr/src/tdx.rs}
 * ({@code tdx_measurements_from_measurement_document}, {@code select_mrtd}, {@code rtmr1_log_from_kernel_hash}).
 *
 * @param checksumFile the raw {@code sha256sum.txt}
 * @param measurement the raw {@code measurement.tdx.cbor}
 */
public record MeasurementDocument(byte[] checksumFile, byte[] measurement) {
    /** Largest {@code sha256sum.txt} or {@code measurement.tdx.cbor} accepted (ours; real ones are under 1 KiB). */
    public static final int MAX_BYTES = 64 * 1024;
    /** Largest TD HOB witness accepted (ours; dstack's is 12 bytes). */
    public static final int MAX_WITNESS_BYTES = 1024;
    /** The document's file name in the image and in {@code sha256sum.txt}. */
    public static final String TDX_MEASUREMENT_FILENAME = "measurement.tdx.cbor";
    /** The checksum file's name in the image. */
    public static final String CHECKSUM_FILENAME = "sha256sum.txt";
    /** The CBOR document version this reader knows. */
    public static final int VERSION = 3;
    /** {@code TDX_KERNEL_HASH_COMPAT_2G_MEMORY}: the one size below {@link Rtmr0Fixed#SPLIT_MIN_MEMORY} for which
     *  QEMU patches the kernel as for high memory. */
    public static final long COMPAT_2G_MEMORY = 0x80000000L;

    /** Copies; each at most {@link #MAX_BYTES} bytes. */
    public MeasurementDocument {
        Objects.requireNonNull(checksumFile, "checksumFile");
        Objects.requireNonNull(measurement, "measurement");
        if (checksumFile.length > MAX_BYTES || measurement.length > MAX_BYTES) {
            throw new IllegalArgumentException("sha256sum.txt (" + checksumFile.length + " bytes) or "
                    + TDX_MEASUREMENT_FILENAME + " (" + measurement.length + " bytes) larger than " + MAX_BYTES);
        }
        checksumFile = checksumFile.clone();
        measurement = measurement.clone();
    }

    /**
     * Reads {@code sha256sum.txt} and {@code measurement.tdx.cbor} from an image directory (regular files, at most
     * {@link #MAX_BYTES} each).
     *
     * @throws MeasureException {@code FILE_UNREADABLE} or {@code FILE_TOO_LARGE}, naming the file
     */
    public static MeasurementDocument read(Path imageDir) throws MeasureException {
        return new MeasurementDocument(readBounded(imageDir.resolve(CHECKSUM_FILENAME)),
                readBounded(imageDir.resolve(TDX_MEASUREMENT_FILENAME)));
    }

    private static byte[] readBounded(Path f) throws MeasureException {
        if (!Files.isRegularFile(f)) {
            throw new MeasureException(MeasureException.Reason.FILE_UNREADABLE, f + " is missing or not a regular file");
        }
        try (InputStream in = Files.newInputStream(f)) {
            byte[] b = in.readNBytes(MAX_BYTES + 1);
            if (b.length > MAX_BYTES) {
                throw new MeasureException(MeasureException.Reason.FILE_TOO_LARGE, f + " is larger than " + MAX_BYTES
                        + " bytes");
            }
            return b;
        } catch (IOException e) {
            throw new MeasureException(MeasureException.Reason.FILE_UNREADABLE, f + " cannot be read: "
                    + e.getClass().getSimpleName(), e);
        }
    }

    @Override
    public byte[] checksumFile() {
        return checksumFile.clone();
    }

    @Override
    public byte[] measurement() {
        return measurement.clone();
    }

    /** The image identity: {@code SHA-256(sha256sum.txt)} (the image's {@code digest.txt}). */
    public byte[] osImageHash() {
        return LiteHash.sha256(checksumFile);
    }

    /**
     * {@code verify_measurement_material}: {@code SHA-256(sha256sum.txt)} must be {@code osImageHash}, then the
     * {@code measurement.tdx.cbor} line of {@code sha256sum.txt} must be {@code SHA-256(measurement)}.
     *
     * @throws MeasureException {@code LITE_OS_IMAGE_HASH_MISMATCH}, {@code LITE_MEASUREMENT_HASH_MISMATCH}, or
     *     {@code LITE_DOCUMENT_INVALID} for a malformed {@code sha256sum.txt}
     */
    public void verify(byte[] osImageHash) throws MeasureException {
        byte[] actual = osImageHash();
        if (!MessageDigest.isEqual(actual, osImageHash)) {
            throw new MeasureException(MeasureException.Reason.LITE_OS_IMAGE_HASH_MISMATCH,
                    "vm_config.os_image_hash", -1, "os_image_hash mismatch: expected sha256(sha256sum.txt)="
                    + LiteHash.hex(osImageHash) + ", actual=" + LiteHash.hex(actual));
        }
        byte[] listed = entryHash(checksumFile, TDX_MEASUREMENT_FILENAME);
        byte[] doc = LiteHash.sha256(measurement);
        if (!MessageDigest.isEqual(listed, doc)) {
            throw new MeasureException(MeasureException.Reason.LITE_MEASUREMENT_HASH_MISMATCH,
                    "vm_config.tdx_measurement.measurement", -1, TDX_MEASUREMENT_FILENAME + " hash mismatch: sha256sum.txt="
                    + LiteHash.hex(listed) + ", actual=" + LiteHash.hex(doc));
        }
    }

    /**
     * The SHA-256 that {@code sha256sum.txt} lists for {@code filename} ({@code sha256sum_entry_hash}): UTF-8;
     * lines split at LF (one CR before it dropped); each line split at Unicode white space; blank lines skipped; a
     * non-blank line without a second word is an error; other names are skipped; the name must appear once and its
     * hash be 64 hex digits.
     *
     * @throws MeasureException {@code LITE_DOCUMENT_INVALID} naming the line
     */
    public static byte[] entryHash(byte[] checksumFile, String filename) throws MeasureException {
        if (checksumFile.length > MAX_BYTES) {
            throw invalid(CHECKSUM_FILENAME, -1, checksumFile.length + " bytes, more than the limit of " + MAX_BYTES);
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(checksumFile)).toString();
        } catch (CharacterCodingException e) {
            throw invalid(CHECKSUM_FILENAME, -1, "sha256sum.txt is not valid UTF-8");
        }
        byte[] found = null;
        int lineNo = 0;
        int start = 0;
        while (start < text.length()) {
            int nl = text.indexOf('\n', start);
            int end = nl < 0 ? text.length() : nl;
            String line = text.substring(start, end);
            if (line.endsWith("\r")) {
                line = line.substring(0, line.length() - 1);
            }
            int lineStart = start;
            start = nl < 0 ? text.length() : nl + 1;
            lineNo++;
            List<String> words = words(line);
            if (words.isEmpty()) {
                continue;
            }
            String where = CHECKSUM_FILENAME + " line " + lineNo;
            if (words.size() < 2) {
                throw invalid(where, lineStart, "sha256sum.txt line " + lineNo + " is missing filename");
            }
            if (!words.get(1).equals(filename)) {
                continue;
            }
            if (found != null) {
                throw invalid(where, lineStart, "sha256sum.txt contains duplicate " + filename + " entries");
            }
            String h = words.get(0);
            if (h.length() % 2 != 0 || !h.chars().allMatch(c -> Character.digit(c, 16) >= 0 && c < 128)) {
                throw invalid(where, lineStart, "sha256sum.txt " + filename + " hash is not valid hex");
            }
            byte[] hash = HexFormat.of().parseHex(h);
            if (hash.length != 32) {
                throw invalid(where, lineStart, "sha256sum.txt " + filename + " hash has invalid length " + hash.length
                        + ", expected 32");
            }
            found = hash;
        }
        if (found == null) {
            throw invalid(CHECKSUM_FILENAME, -1, "sha256sum.txt is missing " + filename);
        }
        return found;
    }

    /** Rust's {@code split_whitespace}: Unicode White_Space separates words. */
    private static List<String> words(String s) {
        List<String> out = new ArrayList<>();
        int i = 0;
        while (i < s.length()) {
            while (i < s.length() && whitespace(s.charAt(i))) {
                i++;
            }
            int j = i;
            while (j < s.length() && !whitespace(s.charAt(j))) {
                j++;
            }
            if (j > i) {
                out.add(s.substring(i, j));
            }
            i = j;
        }
        return out;
    }

    private static boolean whitespace(char c) {
        return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680
                || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f
                || c == 0x3000;
    }

    /**
     * Decodes {@code measurement.tdx.cbor}: one CBOR map and nothing after it (see {@code CborReader} for what is
     * refused), version 3, every member present with its type, digests 48 bytes, {@code tdvf.ovmf} =
     * {@code pre202505}, the TD HOB witness well-formed; unknown members are ignored (as serde).
     *
     * @throws MeasureException {@code LITE_DOCUMENT_INVALID} naming the member and the byte offset
     */
    public Content decode() throws MeasureException {
        Item root;
        try {
            root = CborReader.read(measurement, MAX_BYTES);
        } catch (CborException e) {
            throw invalid(TDX_MEASUREMENT_FILENAME, e.offset(), e.getMessage());
        }
        String f = TDX_MEASUREMENT_FILENAME;
        Map<String, Item> top = map(root, f);
        Item version = member(top, "version", f, root);
        if (version.kind() != CborReader.Kind.UINT || version.integer().compareTo(BigInteger.valueOf(0xffffffffL)) > 0) {
            throw invalid(f + " version", version.offset(), "version is a " + version.describe() + ", expected a u32");
        }
        if (version.integer().intValue() != VERSION) {
            throw invalid(f + " version", version.offset(), "TdxOsImageMeasurement: unsupported version "
                    + version.integer() + ", expected " + VERSION);
        }
        Item imageItem = member(top, "image", f, root);
        Map<String, Item> image = map(imageItem, f + " image");
        Item tdvfItem = member(top, "tdvf", f, root);
        Map<String, Item> tdvf = map(tdvfItem, f + " tdvf");
        byte[] cmdline = digest(image, "cmdline_sha384", f + " image", imageItem);
        byte[] kernel = digest(image, "kernel_authenticode", f + " image", imageItem);
        byte[] initrd = digest(image, "initrd_sha384", f + " image", imageItem);
        Item ovmf = member(tdvf, "ovmf", f + " tdvf", tdvfItem);
        if (ovmf.kind() != CborReader.Kind.TEXT) {
            throw invalid(f + " tdvf.ovmf", ovmf.offset(), "ovmf is a " + ovmf.describe() + ", expected a text string");
        }
        if (!MachineConfig.OVMF_PRE202505.equals(ovmf.text())) {
            throw invalid(f + " tdvf.ovmf", ovmf.offset(), "unknown OVMF variant '" + clip(ovmf.text())
                    + "', expected '" + MachineConfig.OVMF_PRE202505 + "'");
        }
        Item mrtdItem = member(tdvf, "mrtd", f + " tdvf", tdvfItem);
        Map<String, Item> mrtd = map(mrtdItem, f + " tdvf.mrtd");
        byte[] single = digest(mrtd, "single_pass", f + " tdvf.mrtd", mrtdItem);
        byte[] two = digest(mrtd, "two_pass", f + " tdvf.mrtd", mrtdItem);
        Item hob = member(tdvf, "td_hob", f + " tdvf", tdvfItem);
        if (hob.kind() != CborReader.Kind.BYTES) {
            throw invalid(f + " tdvf.td_hob", hob.offset(), "td_hob is a " + hob.describe() + ", expected a byte string");
        }
        byte[] witness = hob.bytes();
        if (witness.length > MAX_WITNESS_BYTES) {
            throw invalid(f + " tdvf.td_hob", hob.offset(), witness.length + " bytes, more than the limit of "
                    + MAX_WITNESS_BYTES);
        }
        Rtmr0Fixed.TdHobLayout layout = Rtmr0Fixed.TdHobLayout.fromWitness(witness);
        return new Content(cmdline, kernel, initrd, ovmf.text(), single, two, witness, layout);
    }

    /**
     * The registers this document predicts for {@code machine}: MRTD (the two-pass or single-pass candidate by
     * {@link MachineConfig#twoPassAddPages()}), RTMR1 (kernel digest, "Calling EFI Application from Boot Option",
     * separator, "Exit Boot Services Invocation", "Exit Boot Services Returned with Success"), RTMR2 (command
     * line, initrd) and, with the ACPI digests, RTMR0 ({@link Rtmr0Fixed} with the document's TD HOB layout).
     *
     * @throws MeasureException {@code LITE_MEMORY_UNSUPPORTED} unless memory is exactly 2 GiB or at least
     *     {@code 0xB0000000} (the document's kernel digest is QEMU's patch for those sizes), or a decode reason
     */
    public ExpectedMeasurements expected(MachineConfig machine, Optional<Rtmr0Fixed.AcpiDigests> acpi)
            throws MeasureException {
        requireLiteMemory(machine.memoryBytes());
        Content c = decode();
        byte[] mrtd = machine.twoPassAddPages() ? c.mrtdTwoPass() : c.mrtdSinglePass();
        Optional<byte[]> rtmr0 = Rtmr0Fixed.rtmr0(machine, c.tdHob(), acpi);
        String note = rtmr0.isPresent()
                ? "lite: TD HOB from the document's witness and the memory size, fixed OVMF events, and the three"
                        + " ACPI digests from the event log"
                : Rtmr0Fixed.unavailableReason(machine);
        return new ExpectedMeasurements(LiteHash.hex(mrtd), rtmr0.map(LiteHash::hex), note,
                LiteHash.hex(LiteHash.replay(rtmr1Log(c.kernelAuthenticode()))),
                LiteHash.hex(LiteHash.replay(rtmr2Log(c.cmdlineSha384(), c.initrdSha384()))));
    }

    /**
     * Refuses memory sizes for which the document's kernel digest is not QEMU's: anything but exactly 2 GiB or
     * at least {@code 0xB0000000} ({@code tdx_kernel_hash_uses_precomputed_high_mem}).
     */
    public static void requireLiteMemory(long memoryBytes) throws MeasureException {
        if (memoryBytes != COMPAT_2G_MEMORY && Long.compareUnsigned(memoryBytes, Rtmr0Fixed.SPLIT_MIN_MEMORY) < 0) {
            throw new MeasureException(MeasureException.Reason.LITE_MEMORY_UNSUPPORTED, "vm_config.memory_size", -1,
                    "TDX lite attestation without image download requires memory_size == " + COMPAT_2G_MEMORY
                            + " bytes (2048 MiB) or >= " + Rtmr0Fixed.SPLIT_MIN_MEMORY + " bytes (2816 MiB); got "
                            + Long.toUnsignedString(memoryBytes) + " bytes");
        }
    }

    /** The five RTMR1 events for a kernel Authenticode digest, in log order. */
    public static List<byte[]> rtmr1Log(byte[] kernelAuthenticode) {
        return List.of(kernelAuthenticode.clone(),
                LiteHash.sha384("Calling EFI Application from Boot Option".getBytes(StandardCharsets.US_ASCII)),
                Rtmr0Fixed.separatorDigest(),
                LiteHash.sha384("Exit Boot Services Invocation".getBytes(StandardCharsets.US_ASCII)),
                LiteHash.sha384("Exit Boot Services Returned with Success".getBytes(StandardCharsets.US_ASCII)));
    }

    /** The two RTMR2 events: the command line digest, then the initrd digest. */
    public static List<byte[]> rtmr2Log(byte[] cmdlineSha384, byte[] initrdSha384) {
        return List.of(cmdlineSha384.clone(), initrdSha384.clone());
    }

    private static Map<String, Item> map(Item i, String f) throws MeasureException {
        if (i.kind() != CborReader.Kind.MAP) {
            throw invalid(f, i.offset(), "expected a CBOR map, got a " + i.describe());
        }
        return i.map();
    }

    private static Item member(Map<String, Item> m, String name, String f, Item parent) throws MeasureException {
        Item v = m.get(name);
        if (v == null) {
            throw invalid(f, parent.offset(), "missing field `" + name + "`");
        }
        return v;
    }

    private static byte[] digest(Map<String, Item> m, String name, String f, Item parent) throws MeasureException {
        Item v = member(m, name, f, parent);
        String where = f + "." + name;
        if (v.kind() != CborReader.Kind.BYTES) {
            throw invalid(where, v.offset(), name + " is a " + v.describe() + ", expected a byte string");
        }
        byte[] b = v.bytes();
        if (b.length != 48) {
            throw invalid(where, v.offset(), name + " has invalid length " + b.length + ", expected 48");
        }
        return b;
    }

    private static MeasureException invalid(String structure, long offset, String detail) {
        return new MeasureException(MeasureException.Reason.LITE_DOCUMENT_INVALID, structure, offset, detail);
    }

    private static String clip(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "…";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MeasurementDocument && Arrays.equals(checksumFile, ((MeasurementDocument) o).checksumFile)
                && Arrays.equals(measurement, ((MeasurementDocument) o).measurement);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(checksumFile) + Arrays.hashCode(measurement);
    }

    @Override
    public String toString() {
        return "MeasurementDocument[os_image_hash=" + LiteHash.hex(osImageHash()) + ", sha256sum.txt "
                + checksumFile.length + " bytes, " + TDX_MEASUREMENT_FILENAME + " " + measurement.length + " bytes]";
    }

    /**
     * The decoded {@code measurement.tdx.cbor}.
     *
     * @param cmdlineSha384 SHA-384 of the measured kernel command line (RTMR2 event 1)
     * @param kernelAuthenticode Authenticode SHA-384 of the QEMU-patched kernel for high memory (RTMR1 event 1)
     * @param initrdSha384 SHA-384 of the initrd (RTMR2 event 2)
     * @param ovmfVariant {@code pre202505}
     * @param mrtdSinglePass MRTD for single-pass page adding (QEMU 9.0 and later by default)
     * @param mrtdTwoPass MRTD for two-pass page adding (QEMU 8.x by default)
     * @param tdHobWitness the raw TD HOB witness
     * @param tdHob the witness decoded
     */
    public record Content(byte[] cmdlineSha384, byte[] kernelAuthenticode, byte[] initrdSha384, String ovmfVariant,
            byte[] mrtdSinglePass, byte[] mrtdTwoPass, byte[] tdHobWitness, Rtmr0Fixed.TdHobLayout tdHob) {
        /** Copies. */
        public Content {
            cmdlineSha384 = cmdlineSha384.clone();
            kernelAuthenticode = kernelAuthenticode.clone();
            initrdSha384 = initrdSha384.clone();
            Objects.requireNonNull(ovmfVariant, "ovmfVariant");
            mrtdSinglePass = mrtdSinglePass.clone();
            mrtdTwoPass = mrtdTwoPass.clone();
            tdHobWitness = tdHobWitness.clone();
            Objects.requireNonNull(tdHob, "tdHob");
        }

        @Override
        public byte[] cmdlineSha384() {
            return cmdlineSha384.clone();
        }

        @Override
        public byte[] kernelAuthenticode() {
            return kernelAuthenticode.clone();
        }

        @Override
        public byte[] initrdSha384() {
            return initrdSha384.clone();
        }

        @Override
        public byte[] mrtdSinglePass() {
            return mrtdSinglePass.clone();
        }

        @Override
        public byte[] mrtdTwoPass() {
            return mrtdTwoPass.clone();
        }

        @Override
        public byte[] tdHobWitness() {
            return tdHobWitness.clone();
        }

        @Override
        public boolean equals(Object o) {
            if (!(o instanceof Content)) {
                return false;
            }
            Content c = (Content) o;
            return Arrays.equals(cmdlineSha384, c.cmdlineSha384) && Arrays.equals(kernelAuthenticode, c.kernelAuthenticode)
                    && Arrays.equals(initrdSha384, c.initrdSha384) && ovmfVariant.equals(c.ovmfVariant)
                    && Arrays.equals(mrtdSinglePass, c.mrtdSinglePass) && Arrays.equals(mrtdTwoPass, c.mrtdTwoPass)
                    && Arrays.equals(tdHobWitness, c.tdHobWitness);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(cmdlineSha384) ^ Arrays.hashCode(mrtdTwoPass);
        }

        @Override
        public String toString() {
            return "Content[ovmf=" + ovmfVariant + ", mrtd.single_pass=" + LiteHash.hex(mrtdSinglePass)
                    + ", mrtd.two_pass=" + LiteHash.hex(mrtdTwoPass) + ", td_hob=" + LiteHash.hex(tdHobWitness) + "]";
        }
    }
}
