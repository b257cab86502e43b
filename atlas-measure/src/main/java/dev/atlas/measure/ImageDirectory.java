package dev.atlas.measure;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.measure.internal.Sha384;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A dstack OS image directory: {@code metadata.json} (fields of upstream {@code dstack-types} {@code ImageInfo}:
 * {@code cmdline}, {@code kernel}, {@code initrd}, {@code bios}, optional {@code version}, {@code is_dev},
 * {@code ovmf_variant}; {@code bios-sev} is known and unused), the files it names, and the optional
 * {@code sha256sum.txt} and {@code digest.txt} ({@code os_image_hash} = SHA-256 of {@code sha256sum.txt}, hex).
 *
 * <p>{@code metadata.json}: at most {@value #MAX_METADATA} bytes, one JSON object, no duplicate keys, nothing after
 * it; strings where strings belong; {@code cmdline} non-blank (at most {@value #MAX_CMDLINE} characters);
 * file names relative and inside the directory; {@code version} {@code MAJOR.MINOR.PATCH[.SUFFIX]};
 * {@code ovmf_variant} {@code pre202505}. Other keys are ignored (as upstream's serde does) and listed in
 * {@link #ignoredFields()}.
 */
public final class ImageDirectory {
    /** Largest {@code metadata.json}. */
    public static final int MAX_METADATA = 64 * 1024;
    /** Longest kernel command line accepted. */
    public static final int MAX_CMDLINE = 4096;
    /** Largest {@code sha256sum.txt}. */
    public static final int MAX_CHECKSUMS = 64 * 1024;
    /** Largest initrd (the setup header's {@code ramdisk_size} is a u32). */
    public static final long MAX_INITRD = 0xFFFFFFFFL;
    private static final Set<String> KNOWN = Set.of("cmdline", "kernel", "initrd", "bios", "version", "is_dev",
            "ovmf_variant", "bios-sev");
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private final Path dir;
    private final String cmdline;
    private final String kernel;
    private final String initrd;
    private final String bios;
    private final String version;
    private final boolean dev;
    private final Optional<String> ovmfVariant;
    private final List<String> ignored;
    private final Optional<String> digest;
    private final Map<String, String> checksums;

    private ImageDirectory(Path dir, String cmdline, String kernel, String initrd, String bios, String version,
            boolean dev, Optional<String> ovmfVariant, List<String> ignored, Optional<String> digest,
            Map<String, String> checksums) {
        this.dir = dir;
        this.cmdline = cmdline;
        this.kernel = kernel;
        this.initrd = initrd;
        this.bios = bios;
        this.version = version;
        this.dev = dev;
        this.ovmfVariant = ovmfVariant;
        this.ignored = ignored;
        this.digest = digest;
        this.checksums = checksums;
    }

    /**
     * Reads {@code dir/metadata.json} and, when present, {@code sha256sum.txt} and {@code digest.txt} (checking
     * that the digest is SHA-256 of the checksum file when both exist).
     */
    public static ImageDirectory open(Path dir) throws MeasureException {
        if (!Files.isDirectory(dir)) {
            throw new MeasureException(MeasureException.Reason.FILE_UNREADABLE, "image directory " + dir
                    + " does not exist or is not a directory");
        }
        byte[] meta = readBounded(dir.resolve("metadata.json"), MAX_METADATA, "metadata.json");
        ImageDirectory partial = parseMetadata(dir, meta);
        Map<String, String> checksums = Map.of();
        byte[] sums = null;
        Path sumsPath = dir.resolve("sha256sum.txt");
        if (Files.exists(sumsPath)) {
            sums = readBounded(sumsPath, MAX_CHECKSUMS, "sha256sum.txt");
            checksums = parseChecksums(sums);
        }
        Optional<String> digest = Optional.empty();
        Path digestPath = dir.resolve("digest.txt");
        if (Files.exists(digestPath)) {
            String d = new String(readBounded(digestPath, 128, "digest.txt"), StandardCharsets.US_ASCII);
            String t = d.endsWith("\n") ? d.substring(0, d.length() - 1) : d;
            if (!isHex(t, 64)) {
                throw new MeasureException(MeasureException.Reason.METADATA_INVALID, "digest.txt", 0,
                        "digest.txt must be 64 lowercase hex characters (the os_image_hash) and an optional newline");
            }
            if (sums != null) {
                String actual = HexFormat.of().formatHex(sha256(sums));
                if (!actual.equals(t)) {
                    throw new MeasureException(MeasureException.Reason.IMAGE_DIGEST_MISMATCH, "digest.txt says "
                            + t + " but SHA-256 of sha256sum.txt is " + actual);
                }
            }
            digest = Optional.of(t);
        }
        return new ImageDirectory(partial.dir, partial.cmdline, partial.kernel, partial.initrd, partial.bios,
                partial.version, partial.dev, partial.ovmfVariant, partial.ignored, digest, checksums);
    }

    /**
     * Parses {@code metadata.json} bytes (no file access; {@code dir} only resolves names). Checks as in the class
     * comment.
     */
    public static ImageDirectory parseMetadata(Path dir, byte[] json) throws MeasureException {
        if (json.length > MAX_METADATA) {
            throw new MeasureException(MeasureException.Reason.FILE_TOO_LARGE, "metadata.json", -1,
                    "metadata.json has " + json.length + " bytes, more than " + MAX_METADATA);
        }
        JsonNode n;
        try {
            n = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            long at = e.getLocation() == null ? -1 : e.getLocation().getByteOffset();
            throw new MeasureException(MeasureException.Reason.METADATA_INVALID, "metadata.json", at,
                    "metadata.json is not one JSON document: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new MeasureException(MeasureException.Reason.METADATA_INVALID, "metadata.json does not parse", e);
        }
        if (n == null || !n.isObject()) {
            throw invalid("metadata.json", "metadata.json must be a JSON object");
        }
        String cmdline = requiredString(n, "cmdline");
        if (cmdline.isBlank()) {
            throw invalid("metadata.json.cmdline", "cmdline is required for TDX measurement and is blank");
        }
        if (cmdline.length() > MAX_CMDLINE) {
            throw invalid("metadata.json.cmdline", "cmdline has " + cmdline.length() + " characters, more than "
                    + MAX_CMDLINE);
        }
        String kernel = fileName(n, "kernel");
        String initrd = fileName(n, "initrd");
        String bios = fileName(n, "bios");
        String version = "";
        JsonNode v = n.get("version");
        if (v != null) {
            if (!v.isTextual()) {
                throw invalid("metadata.json.version", "version must be a string, got " + v.getNodeType());
            }
            version = v.textValue();
            if (!version.isEmpty() && !validOsVersion(version)) {
                throw invalid("metadata.json.version", "version must be MAJOR.MINOR.PATCH[.SUFFIX], got '"
                        + abbreviate(version) + "'");
            }
        }
        boolean dev = false;
        JsonNode d = n.get("is_dev");
        if (d != null) {
            if (!d.isBoolean()) {
                throw invalid("metadata.json.is_dev", "is_dev must be a boolean, got " + d.getNodeType());
            }
            dev = d.booleanValue();
        }
        Optional<String> variant = Optional.empty();
        JsonNode o = n.get("ovmf_variant");
        if (o != null && !o.isNull()) {
            if (!o.isTextual()) {
                throw invalid("metadata.json.ovmf_variant", "ovmf_variant must be a string, got " + o.getNodeType());
            }
            if (!MachineConfig.OVMF_PRE202505.equals(o.textValue())) {
                throw new MeasureException(MeasureException.Reason.CONFIG_UNSUPPORTED, "metadata.json.ovmf_variant",
                        -1, "ovmf_variant '" + abbreviate(o.textValue()) + "' is not supported (only "
                        + MachineConfig.OVMF_PRE202505 + ")");
            }
            variant = Optional.of(o.textValue());
        }
        JsonNode sev = n.get("bios-sev");
        if (sev != null && !sev.isTextual()) {
            throw invalid("metadata.json.bios-sev", "bios-sev must be a string, got " + sev.getNodeType());
        }
        List<String> ignored = new ArrayList<>();
        for (Iterator<String> it = n.fieldNames(); it.hasNext();) {
            String f = it.next();
            if (!KNOWN.contains(f)) {
                ignored.add(abbreviate(f));
            }
        }
        return new ImageDirectory(dir, cmdline, kernel, initrd, bios, version, dev, variant,
                Collections.unmodifiableList(ignored), Optional.empty(), Map.of());
    }

    /** The directory. */
    public Path dir() {
        return dir;
    }

    /** The firmware (OVMF) file. */
    public Path bios() {
        return dir.resolve(bios);
    }

    /** The kernel (bzImage) file. */
    public Path kernel() {
        return dir.resolve(kernel);
    }

    /** The initrd file. */
    public Path initrd() {
        return dir.resolve(initrd);
    }

    /** The image's kernel command line, without {@link Rtmr2#INITRD_SUFFIX}. */
    public String cmdline() {
        return cmdline;
    }

    /** The dstack OS version, {@code ""} when absent. */
    public String version() {
        return version;
    }

    /** Whether the image is a dev image ({@code is_dev}). */
    public boolean dev() {
        return dev;
    }

    /** The declared OVMF variant, if any (always {@code pre202505}). */
    public Optional<String> ovmfVariant() {
        return ovmfVariant;
    }

    /** Keys of {@code metadata.json} this library does not know and ignored. */
    public List<String> ignoredFields() {
        return ignored;
    }

    /** {@code digest.txt} (the {@code os_image_hash}), if present. */
    public Optional<String> digest() {
        return digest;
    }

    /** {@code sha256sum.txt} as file name to lowercase hex SHA-256 (empty when absent). */
    public Map<String, String> checksums() {
        return checksums;
    }

    /** The {@code sha256sum.txt} line for a metadata file name ({@code bios}, {@code kernel}, ...), if any. */
    Optional<String> checksumOf(String which) {
        String name;
        switch (which) {
            case "bios": name = bios; break;
            case "kernel": name = kernel; break;
            case "initrd": name = initrd; break;
            default: throw new IllegalArgumentException(which);
        }
        return Optional.ofNullable(checksums.get(name));
    }

    /** Streams the initrd: its size, SHA-384 and SHA-256 (checked against {@code sha256sum.txt} when listed). */
    InitrdDigest digestInitrd() throws MeasureException {
        Path p = initrd();
        MessageDigest s384 = Sha384.newDigest();
        MessageDigest s256;
        try {
            s256 = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        long size = 0;
        try {
            if (!Files.isRegularFile(p)) {
                throw new MeasureException(MeasureException.Reason.FILE_UNREADABLE, "initrd is missing or not a"
                        + " regular file: " + p);
            }
            try (InputStream in = Files.newInputStream(p)) {
                byte[] buf = new byte[1 << 16];
                for (int r; (r = in.read(buf)) > 0;) {
                    size += r;
                    if (size > MAX_INITRD) {
                        throw new MeasureException(MeasureException.Reason.FILE_TOO_LARGE, "initrd", -1, "the initrd"
                                + " is larger than " + MAX_INITRD + " bytes (the setup header's ramdisk_size is u32)");
                    }
                    s384.update(buf, 0, r);
                    s256.update(buf, 0, r);
                }
            }
        } catch (IOException e) {
            throw new MeasureException(MeasureException.Reason.FILE_UNREADABLE, "cannot read initrd (" + p + "): "
                    + e.getMessage(), e);
        }
        byte[] sha256 = s256.digest();
        checkListed("initrd", sha256);
        return new InitrdDigest(size, s384.digest());
    }

    /** An initrd's size and SHA-384. */
    record InitrdDigest(long size, byte[] sha384) {
    }

    /** Fails when {@code sha256sum.txt} lists the file and its SHA-256 differs. */
    void checkListed(String which, byte[] sha256) throws MeasureException {
        Optional<String> listed = checksumOf(which);
        String actual = HexFormat.of().formatHex(sha256);
        if (listed.isPresent() && !listed.get().equals(actual)) {
            throw new MeasureException(MeasureException.Reason.IMAGE_DIGEST_MISMATCH, "sha256sum.txt lists "
                    + which + " with SHA-256 " + listed.get() + " but the file has " + actual);
        }
    }

    /** Reads a named image file with a size limit. */
    byte[] read(String which, int limit) throws MeasureException {
        Path p;
        switch (which) {
            case "bios": p = bios(); break;
            case "kernel": p = kernel(); break;
            default: throw new IllegalArgumentException(which);
        }
        return readBounded(p, limit, which + " (" + p + ")");
    }

    static Map<String, String> parseChecksums(byte[] sums) throws MeasureException {
        String text = new String(sums, StandardCharsets.UTF_8);
        Map<String, String> out = new LinkedHashMap<>();
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i];
            if (line.isEmpty() && i == lines.length - 1) {
                break;
            }
            // "<64 hex><space><space or *><name>"
            if (line.length() < 67 || !isHex(line.substring(0, 64), 64) || line.charAt(64) != ' '
                    || (line.charAt(65) != ' ' && line.charAt(65) != '*')) {
                throw invalid("sha256sum.txt:" + (i + 1), "sha256sum.txt line " + (i + 1)
                        + " is not '<64 lowercase hex>  <file name>'");
            }
            String name = line.substring(66);
            if (out.put(name, line.substring(0, 64)) != null) {
                throw invalid("sha256sum.txt:" + (i + 1), "sha256sum.txt names " + abbreviate(name) + " twice");
            }
        }
        return Collections.unmodifiableMap(out);
    }

    static byte[] readBounded(Path p, int limit, String what) throws MeasureException {
        try {
            if (!Files.isRegularFile(p)) {
                throw new MeasureException(MeasureException.Reason.FILE_UNREADABLE, what + " is missing or not a"
                        + " regular file: " + p);
            }
            long size = Files.size(p);
            if (size > limit) {
                throw new MeasureException(MeasureException.Reason.FILE_TOO_LARGE, what, -1, what + " has " + size
                        + " bytes, more than the limit of " + limit);
            }
            try (InputStream in = Files.newInputStream(p)) {
                byte[] b = in.readNBytes(limit + 1);
                if (b.length > limit) {
                    throw new MeasureException(MeasureException.Reason.FILE_TOO_LARGE, what, -1, what
                            + " grew past the limit of " + limit + " bytes while being read");
                }
                return b;
            }
        } catch (IOException e) {
            throw new MeasureException(MeasureException.Reason.FILE_UNREADABLE, "cannot read " + what + ": "
                    + e.getMessage(), e);
        }
    }

    static byte[] sha256(byte[] b) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(b);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** dstack-mr's {@code ovmf_variant_for_version} grammar: three decimal parts and an optional non-empty fourth. */
    static boolean validOsVersion(String v) {
        String[] parts = v.split("\\.", -1);
        if (parts.length < 3 || parts.length > 4 || (parts.length == 4 && parts[3].isEmpty())) {
            return false;
        }
        for (int i = 0; i < 3; i++) {
            if (parts[i].isEmpty() || parts[i].length() > 9 || !parts[i].chars().allMatch(c -> c >= '0' && c <= '9')) {
                return false;
            }
        }
        return true;
    }

    private static String requiredString(JsonNode n, String field) throws MeasureException {
        JsonNode v = n.get(field);
        if (v == null) {
            throw invalid("metadata.json." + field, "metadata.json has no field " + field);
        }
        if (!v.isTextual()) {
            throw invalid("metadata.json." + field, field + " must be a string, got " + v.getNodeType());
        }
        return v.textValue();
    }

    private static String fileName(JsonNode n, String field) throws MeasureException {
        String s = requiredString(n, field);
        if (s.isEmpty() || s.length() > 255 || s.startsWith("/") || s.contains("\\") || s.indexOf('\0') >= 0) {
            throw invalid("metadata.json." + field, field + " must be a relative file name inside the image"
                    + " directory, got '" + abbreviate(s) + "'");
        }
        for (String seg : s.split("/", -1)) {
            if (seg.isEmpty() || seg.equals(".") || seg.equals("..")) {
                throw invalid("metadata.json." + field, field + " must be a relative file name inside the image"
                        + " directory, got '" + abbreviate(s) + "'");
            }
        }
        return s;
    }

    private static boolean isHex(String s, int len) {
        return s.length() == len && s.chars().allMatch(c -> (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
    }

    private static MeasureException invalid(String structure, String msg) {
        return new MeasureException(MeasureException.Reason.METADATA_INVALID, structure, -1, msg);
    }

    private static String abbreviate(String s) {
        String t = s.length() <= 60 ? s : s.substring(0, 60) + "...";
        StringBuilder sb = new StringBuilder();
        t.codePoints().forEach(c -> sb.appendCodePoint(c < 0x20 || c == 0x7f ? '?' : c));
        return sb.toString();
    }
}
