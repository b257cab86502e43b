package dev.atlas.dstack.kms.internal;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.math.BigInteger;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * The parts of dstack's {@code VmConfig} JSON ({@code dstack-types/src/lib.rs}) that the lite OS-image check
 * reads, parsed as serde would: every known member is type-checked (a wrong type fails the whole config, as
 * {@code serde_json::from_str::<VmConfig>} does), unknown members are ignored ({@code VmConfig} has no
 * {@code deny_unknown_fields}; real configs carry {@code spec_version}), duplicates and trailing characters are
 * refused. A sys-config JSON whose {@code vm_config} member is a string is unwrapped first
 * ({@code decode_vm_config_with_fallback}).
 *
 * @param osImageHash {@code os_image_hash} (hex in JSON; empty when absent)
 * @param memorySize {@code memory_size}, an unsigned 64-bit value (compare with {@link Long#compareUnsigned})
 * @param qemuSinglePassAddPages {@code qemu_single_pass_add_pages}, if present (dstack-mr passes it to
 *                               {@code two_pass_add_pages}; see {@code docs/dstack-kms-osimage.md})
 * @param qemuVersion {@code qemu_version}, if present
 * @param ovmfVariant {@code ovmf_variant}, if present (only {@code pre202505} exists)
 * @param lite {@code tdx_attestation_variant == "lite"} (absent means {@code legacy})
 * @param tdxMeasurement {@code tdx_measurement}, if present
 */
public record LiteVmConfig(byte[] osImageHash, long memorySize, Optional<Boolean> qemuSinglePassAddPages,
        Optional<String> qemuVersion, Optional<String> ovmfVariant, boolean lite,
        Optional<MeasurementDocument> tdxMeasurement) {
    /** Largest config accepted, in characters (the simulator's sys-config limit). */
    public static final int MAX_CHARS = 256 * 1024;
    /** The one OVMF variant dstack knows ({@code OvmfVariant::Pre202505}). */
    public static final String OVMF_PRE202505 = "pre202505";

    private static final ObjectMapper JSON = JsonMapper.builder(com.fasterxml.jackson.core.JsonFactory.builder()
                    .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).maxNumberLength(64)
                            .build())
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

    public LiteVmConfig {
        osImageHash = osImageHash.clone();
        Objects.requireNonNull(qemuSinglePassAddPages);
        Objects.requireNonNull(qemuVersion);
        Objects.requireNonNull(ovmfVariant);
        Objects.requireNonNull(tdxMeasurement);
    }

    @Override
    public byte[] osImageHash() {
        return osImageHash.clone();
    }

    /**
     * Parses a vm_config (or sys-config) JSON string; an empty string is {@code {}} (every default), as dstack.
     *
     * @throws RaException {@code TOO_LARGE}, {@code BAD_CONFIG} (not JSON, trailing characters, duplicate key),
     *                     {@code WRONG_TYPE}, {@code UNKNOWN_VARIANT} or {@code BAD_LENGTH}, naming the member
     */
    public static LiteVmConfig parse(String config) throws RaException {
        Objects.requireNonNull(config, "config");
        JsonNode n = readObject(config, "vm_config");
        JsonNode inner = n.get("vm_config");
        if (inner != null && inner.isTextual()) {
            n = readObject(inner.textValue(), "vm_config.vm_config");
        }
        return fromNode(n);
    }

    private static JsonNode readObject(String text, String field) throws RaException {
        if (text.length() > MAX_CHARS) {
            throw new RaException(Reason.TOO_LARGE, field, text.length() + " characters > " + MAX_CHARS);
        }
        String t = text.isEmpty() ? "{}" : text;
        JsonNode n;
        try {
            n = JSON.readTree(t);
        } catch (JsonProcessingException e) {
            throw new RaException(Reason.BAD_CONFIG, field, "not one JSON value: " + e.getOriginalMessage());
        }
        if (n == null || !n.isObject()) {
            throw new RaException(Reason.WRONG_TYPE, field, "not a JSON object");
        }
        return n;
    }

    private static LiteVmConfig fromNode(JsonNode n) throws RaException {
        byte[] osImageHash = new byte[0];
        long memorySize = 0;
        Optional<Boolean> singlePass = Optional.empty();
        Optional<String> qemuVersion = Optional.empty();
        Optional<String> ovmf = Optional.empty();
        boolean lite = false;
        Optional<MeasurementDocument> doc = Optional.empty();
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String k = e.getKey();
            JsonNode v = e.getValue();
            String f = "vm_config." + k;
            if (U32.contains(k)) {
                unsigned(v, f, 32);
            } else if (U64.contains(k)) {
                long x = unsigned(v, f, 64);
                if (k.equals("memory_size")) {
                    memorySize = x;
                }
            } else if (BOOL.contains(k)) {
                bool(v, f);
            } else if (OPT_BOOL.contains(k)) {
                Optional<Boolean> b = v.isNull() ? Optional.empty() : Optional.of(bool(v, f));
                if (k.equals("qemu_single_pass_add_pages")) {
                    singlePass = b;
                }
            } else {
                switch (k) {
                    case "os_image_hash" -> osImageHash = hex(v, f);
                    case "qemu_version" -> qemuVersion = v.isNull() ? Optional.empty() : Optional.of(text(v, f));
                    case "image" -> {
                        if (!v.isNull()) {
                            text(v, f);
                        }
                    }
                    case "host_share_mode" -> text(v, f);
                    case "ovmf_variant" -> {
                        if (!v.isNull()) {
                            String s = text(v, f);
                            if (!s.equals(OVMF_PRE202505)) {
                                throw new RaException(Reason.UNKNOWN_VARIANT, f,
                                        "unknown variant \"" + clip(s) + "\", expected \"" + OVMF_PRE202505 + "\"");
                            }
                            ovmf = Optional.of(s);
                        }
                    }
                    case "tdx_attestation_variant" -> {
                        String s = text(v, f);
                        if (s.equals("lite")) {
                            lite = true;
                        } else if (!s.equals("legacy")) {
                            throw new RaException(Reason.UNKNOWN_VARIANT, f,
                                    "unknown variant \"" + clip(s) + "\", expected \"legacy\" or \"lite\"");
                        }
                    }
                    case "tdx_measurement" -> {
                        if (!v.isNull()) {
                            doc = Optional.of(document(v, f));
                        }
                    }
                    case "gcp_measurement", "aws_measurement" -> {
                        if (!v.isNull()) {
                            document(v, f);
                        }
                    }
                    default -> {
                        // unknown member: ignored, as serde does without deny_unknown_fields
                    }
                }
            }
        }
        return new LiteVmConfig(osImageHash, memorySize, singlePass, qemuVersion, ovmf, lite, doc);
    }

    private static MeasurementDocument document(JsonNode v, String f) throws RaException {
        if (!v.isObject()) {
            throw new RaException(Reason.WRONG_TYPE, f, "not a JSON object");
        }
        byte[] checksum = null;
        byte[] measurement = null;
        for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            switch (e.getKey()) {
                case "checksum_file" -> checksum = base64(e.getValue(), f + ".checksum_file");
                case "measurement" -> measurement = base64(e.getValue(), f + ".measurement");
                default -> {
                    // ignored, as serde does
                }
            }
        }
        if (checksum == null) {
            throw new RaException(Reason.MISSING_FIELD, f + ".checksum_file", "missing");
        }
        if (measurement == null) {
            throw new RaException(Reason.MISSING_FIELD, f + ".measurement", "missing");
        }
        return new MeasurementDocument(checksum, measurement);
    }

    private static byte[] base64(JsonNode v, String f) throws RaException {
        String s = text(v, f);
        if (s.length() > 4 * (MeasurementDocument.MAX_BYTES / 3 + 1)) {
            throw new RaException(Reason.TOO_LARGE, f, s.length() + " base64 characters");
        }
        try {
            return Base64.getDecoder().decode(s);
        } catch (IllegalArgumentException e) {
            throw new RaException(Reason.WRONG_TYPE, f, "not standard base64");
        }
    }

    private static byte[] hex(JsonNode v, String f) throws RaException {
        String s = text(v, f);
        if (s.length() % 2 != 0 || s.length() > 1024) {
            throw new RaException(Reason.BAD_LENGTH, f, "hex of " + s.length() + " characters");
        }
        try {
            return HexFormat.of().parseHex(s);
        } catch (IllegalArgumentException e) {
            throw new RaException(Reason.WRONG_TYPE, f, "not hex");
        }
    }

    private static String text(JsonNode v, String f) throws RaException {
        if (!v.isTextual()) {
            throw new RaException(Reason.WRONG_TYPE, f, "expected a string, got " + v.getNodeType());
        }
        return v.textValue();
    }

    private static boolean bool(JsonNode v, String f) throws RaException {
        if (!v.isBoolean()) {
            throw new RaException(Reason.WRONG_TYPE, f, "expected a boolean, got " + v.getNodeType());
        }
        return v.booleanValue();
    }

    private static long unsigned(JsonNode v, String f, int bits) throws RaException {
        if (!v.isIntegralNumber()) {
            throw new RaException(Reason.WRONG_TYPE, f, "expected an unsigned integer, got " + v.getNodeType());
        }
        BigInteger b = v.bigIntegerValue();
        BigInteger max = bits == 64 ? U64_MAX : BigInteger.valueOf(0xffffffffL);
        if (b.signum() < 0 || b.compareTo(max) > 0) {
            throw new RaException(Reason.WRONG_TYPE, f, "out of range for u" + bits);
        }
        return b.longValue();
    }

    private static String clip(String s) {
        return s.length() <= 32 ? s : s.substring(0, 32) + "…";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LiteVmConfig c && java.util.Arrays.equals(osImageHash, c.osImageHash)
                && memorySize == c.memorySize && qemuSinglePassAddPages.equals(c.qemuSinglePassAddPages)
                && qemuVersion.equals(c.qemuVersion) && ovmfVariant.equals(c.ovmfVariant) && lite == c.lite
                && tdxMeasurement.equals(c.tdxMeasurement);
    }

    @Override
    public int hashCode() {
        return Objects.hash(java.util.Arrays.hashCode(osImageHash), memorySize, lite);
    }

    @Override
    public String toString() {
        return "LiteVmConfig[os_image_hash=" + HexFormat.of().formatHex(osImageHash) + ", memory_size="
                + Long.toUnsignedString(memorySize) + ", variant=" + (lite ? "lite" : "legacy") + ", tdx_measurement="
                + (tdxMeasurement.isPresent() ? "present" : "absent") + "]";
    }
}
