package dev.atlas.measure.internal;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.atlas.measure.MeasureException;
import dev.atlas.measure.MeasurementDocument;
import java.math.BigInteger;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * dstack's {@code VmConfig} JSON ({@code dstack-types/src/lib.rs}) as the lite check reads it, with serde's rules:
 * every known member type-checked ({@code null} only for {@code Option}s), unknown members ignored (real configs
 * carry {@code spec_version}), no duplicate members, nothing after the value. A sys-config whose {@code vm_config}
 * member is a string is unwrapped first ({@code decode_vm_config_with_fallback}). Errors are
 * {@code LITE_RESPONSE_INVALID} naming the member.
 */
public final class LiteVmConfig {
    /** Largest vm_config accepted, in characters. */
    public static final int MAX_CHARS = 256 * 1024;

    private static final ObjectMapper JSON = JsonMapper.builder(JsonFactory.builder()
                    .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).maxNumberLength(64)
                            .maxStringLength(MAX_CHARS).build())
                    .build())
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .disable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();
    private static final BigInteger U64_MAX = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);
    private static final Set<String> U32 = Set.of("cpu_count", "num_gpus", "num_nvswitches", "num_nics",
            "num_verity_volumes");
    private static final Set<String> U64 = Set.of("memory_size", "pci_hole64_size");
    private static final Set<String> BOOL = Set.of("hugepages", "swtpm", "hotplug_off");
    private static final Set<String> OPT_BOOL = Set.of("qemu_single_pass_add_pages", "pic");

    private byte[] osImageHash = new byte[0];
    private long cpuCount;
    /** Unsigned 64-bit. */
    private long memorySize;
    private Optional<Boolean> qemuSinglePassAddPages = Optional.empty();
    private Optional<Boolean> pic = Optional.empty();
    private Optional<String> qemuVersion = Optional.empty();
    /** Unsigned 64-bit. */
    private long pciHole64Size;
    private boolean hugepages;
    private long numGpus;
    private long numNvswitches;
    private long numNics = 1;
    private long numVerityVolumes;
    private boolean swtpm;
    private boolean hotplugOff;
    private Optional<String> image = Optional.empty();
    private String hostShareMode = "";
    private Optional<String> ovmfVariant = Optional.empty();
    /** {@code tdx_attestation_variant}, {@code legacy} when absent. */
    private String variant = "legacy";
    private Optional<MeasurementDocument> tdxMeasurement = Optional.empty();
    /** Members that only other platforms carry (for example {@code sev_snp_measurement}). */
    private Optional<String> otherPlatformMember = Optional.empty();

    private LiteVmConfig() {}

    public byte[] osImageHash() {
        return osImageHash.clone();
    }

    public long cpuCount() {
        return cpuCount;
    }

    public long memorySize() {
        return memorySize;
    }

    public Optional<Boolean> qemuSinglePassAddPages() {
        return qemuSinglePassAddPages;
    }

    public Optional<Boolean> pic() {
        return pic;
    }

    public Optional<String> qemuVersion() {
        return qemuVersion;
    }

    public long pciHole64Size() {
        return pciHole64Size;
    }

    public boolean hugepages() {
        return hugepages;
    }

    public long numGpus() {
        return numGpus;
    }

    public long numNvswitches() {
        return numNvswitches;
    }

    public long numNics() {
        return numNics;
    }

    public long numVerityVolumes() {
        return numVerityVolumes;
    }

    public boolean swtpm() {
        return swtpm;
    }

    public boolean hotplugOff() {
        return hotplugOff;
    }

    public Optional<String> image() {
        return image;
    }

    public String hostShareMode() {
        return hostShareMode;
    }

    public Optional<String> ovmfVariant() {
        return ovmfVariant;
    }

    public String variant() {
        return variant;
    }

    public Optional<MeasurementDocument> tdxMeasurement() {
        return tdxMeasurement;
    }

    public Optional<String> otherPlatformMember() {
        return otherPlatformMember;
    }

    /**
     * Parses a vm_config (or sys-config) JSON text; an empty text is {@code {}} as in dstack.
     *
     * @throws MeasureException {@code LITE_RESPONSE_INVALID} naming the member
     */
    public static LiteVmConfig parse(String text) throws MeasureException {
        JsonNode n = object(text, "vm_config");
        JsonNode inner = n.get("vm_config");
        if (inner != null && inner.isTextual()) {
            n = object(inner.textValue(), "vm_config.vm_config");
        }
        LiteVmConfig c = new LiteVmConfig();
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            c.member(e.getKey(), e.getValue());
        }
        return c;
    }

    private void member(String k, JsonNode v) throws MeasureException {
        String f = "vm_config." + k;
        if (U32.contains(k)) {
            long x = unsigned(v, f, 32);
            switch (k) {
                case "cpu_count": cpuCount = x; break;
                case "num_gpus": numGpus = x; break;
                case "num_nvswitches": numNvswitches = x; break;
                case "num_nics": numNics = x; break;
                default: numVerityVolumes = x; break;
            }
        } else if (U64.contains(k)) {
            long x = unsigned(v, f, 64);
            if (k.equals("memory_size")) {
                memorySize = x;
            } else {
                pciHole64Size = x;
            }
        } else if (BOOL.contains(k)) {
            boolean b = bool(v, f);
            switch (k) {
                case "hugepages": hugepages = b; break;
                case "swtpm": swtpm = b; break;
                default: hotplugOff = b; break;
            }
        } else if (OPT_BOOL.contains(k)) {
            Optional<Boolean> b = v.isNull() ? Optional.empty() : Optional.of(bool(v, f));
            if (k.equals("pic")) {
                pic = b;
            } else {
                qemuSinglePassAddPages = b;
            }
        } else {
            switch (k) {
                case "os_image_hash":
                    osImageHash = hex(v, f);
                    break;
                case "qemu_version":
                    qemuVersion = v.isNull() ? Optional.empty() : Optional.of(text(v, f));
                    break;
                case "image":
                    image = v.isNull() ? Optional.empty() : Optional.of(text(v, f));
                    break;
                case "host_share_mode":
                    hostShareMode = text(v, f);
                    break;
                case "ovmf_variant":
                    if (!v.isNull()) {
                        String s = text(v, f);
                        if (!s.equals("pre202505")) {
                            throw bad(f, "unknown variant '" + clip(s) + "', expected 'pre202505'");
                        }
                        ovmfVariant = Optional.of(s);
                    }
                    break;
                case "tdx_attestation_variant": {
                    String s = text(v, f);
                    if (!s.equals("lite") && !s.equals("legacy")) {
                        throw bad(f, "unknown variant '" + clip(s) + "', expected 'legacy' or 'lite'");
                    }
                    variant = s;
                    break;
                }
                case "tdx_measurement":
                    if (!v.isNull()) {
                        tdxMeasurement = Optional.of(document(v, f));
                    }
                    break;
                case "sev_snp_measurement":
                    if (!v.isNull()) {
                        otherPlatformMember = Optional.of(k);
                    }
                    break;
                default:
                    // unknown member: ignored, as serde does without deny_unknown_fields
                    break;
            }
        }
    }

    private static JsonNode object(String text, String field) throws MeasureException {
        if (text.length() > MAX_CHARS) {
            throw bad(field, text.length() + " characters, more than the limit of " + MAX_CHARS);
        }
        JsonNode n;
        try {
            n = JSON.readTree(text.isEmpty() ? "{}" : text);
        } catch (JsonProcessingException e) {
            throw bad(field, "not one JSON value: " + clip(String.valueOf(e.getOriginalMessage())));
        }
        if (n == null || !n.isObject()) {
            throw bad(field, "not a JSON object");
        }
        return n;
    }

    private static MeasurementDocument document(JsonNode v, String f) throws MeasureException {
        if (!v.isObject()) {
            throw bad(f, "expected an object, got " + kind(v));
        }
        byte[] checksum = null;
        byte[] measurement = null;
        for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals("checksum_file")) {
                checksum = base64(e.getValue(), f + ".checksum_file");
            } else if (e.getKey().equals("measurement")) {
                measurement = base64(e.getValue(), f + ".measurement");
            }
        }
        if (checksum == null) {
            throw bad(f + ".checksum_file", "missing field `checksum_file`");
        }
        if (measurement == null) {
            throw bad(f + ".measurement", "missing field `measurement`");
        }
        return new MeasurementDocument(checksum, measurement);
    }

    private static byte[] base64(JsonNode v, String f) throws MeasureException {
        String s = text(v, f);
        if (s.length() > 4 * (MeasurementDocument.MAX_BYTES / 3 + 1)) {
            throw bad(f, s.length() + " base64 characters, more than " + MeasurementDocument.MAX_BYTES + " bytes");
        }
        try {
            byte[] b = Base64.getDecoder().decode(s);
            if (b.length > MeasurementDocument.MAX_BYTES) {
                throw bad(f, b.length + " bytes, more than the limit of " + MeasurementDocument.MAX_BYTES);
            }
            return b;
        } catch (IllegalArgumentException e) {
            throw bad(f, "not standard base64");
        }
    }

    private static byte[] hex(JsonNode v, String f) throws MeasureException {
        String s = text(v, f);
        if (s.length() % 2 != 0 || s.length() > 1024) {
            throw bad(f, "hex of " + s.length() + " characters (even, at most 1024 expected)");
        }
        try {
            return HexFormat.of().parseHex(s);
        } catch (IllegalArgumentException e) {
            throw bad(f, "not hex");
        }
    }

    private static String text(JsonNode v, String f) throws MeasureException {
        if (!v.isTextual()) {
            throw bad(f, "expected a string, got " + kind(v));
        }
        return v.textValue();
    }

    private static boolean bool(JsonNode v, String f) throws MeasureException {
        if (!v.isBoolean()) {
            throw bad(f, "expected a boolean, got " + kind(v));
        }
        return v.booleanValue();
    }

    private static long unsigned(JsonNode v, String f, int bits) throws MeasureException {
        if (!v.isIntegralNumber()) {
            throw bad(f, "expected an unsigned integer, got " + kind(v));
        }
        BigInteger b = v.bigIntegerValue();
        BigInteger max = bits == 64 ? U64_MAX : BigInteger.valueOf(0xffffffffL);
        if (b.signum() < 0 || b.compareTo(max) > 0) {
            throw bad(f, b + " is out of range for u" + bits);
        }
        return b.longValue();
    }

    private static String kind(JsonNode v) {
        return v.getNodeType().name().toLowerCase(java.util.Locale.ROOT);
    }

    private static MeasureException bad(String field, String detail) {
        return new MeasureException(MeasureException.Reason.LITE_RESPONSE_INVALID, field, -1, detail);
    }

    private static String clip(String s) {
        return s.length() <= 80 ? s : s.substring(0, 80) + "…";
    }
}
