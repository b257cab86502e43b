package dev.atlas.dstack.ra;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.internal.Bytes;
import dev.atlas.dstack.ra.internal.Hashes;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * {@code MrConfigV3} ({@code dstack-types/src/mr_config.rs}): the app/config binding document carried by
 * TDX {@code MR_CONFIG_ID} ({@code 0x03 ‖ hash ‖ 15 zero bytes}) or SEV-SNP {@code HOST_DATA} ({@code hash}),
 * with {@code hash = SHA-256("dstack-mr-config-v3:" ‖ 0x00 ‖ JCS document)}. Optional fields are null and
 * omitted from the document; bytes are lowercase hex. Also the older V1 and V2 {@code MR_CONFIG_ID}s.
 *
 * @param appId optional app id
 * @param composeHash compose hash
 * @param gpuPolicyHash optional GPU policy hash
 * @param keyProvider key provider kind
 * @param keyProviderId optional key provider id
 * @param instanceId optional instance id
 * @param initScriptHashes optional init-script pins (32 bytes each)
 */
public record MrConfigV3(byte[] appId, byte[] composeHash, byte[] gpuPolicyHash, KeyProviderKind keyProvider,
        byte[] keyProviderId, byte[] instanceId, List<byte[]> initScriptHashes) {
    private static final byte[] DOMAIN = "dstack-mr-config-v3:".getBytes(StandardCharsets.US_ASCII);

    /** {@code KeyProviderKind} (serde snake_case names; V2 kind bytes none 0, local 1, kms 2, tpm 3). */
    public enum KeyProviderKind {
        NONE("none", 0), KMS("kms", 2), LOCAL("local", 1), TPM("tpm", 3);

        private final String wire;
        private final int kindByte;

        KeyProviderKind(String wire, int kindByte) {
            this.wire = wire;
            this.kindByte = kindByte;
        }

        public String wireName() {
            return wire;
        }

        public int kindByte() {
            return kindByte;
        }
    }

    public MrConfigV3 {
        appId = appId == null ? null : appId.clone();
        composeHash = Objects.requireNonNull(composeHash, "composeHash").clone();
        gpuPolicyHash = gpuPolicyHash == null ? null : gpuPolicyHash.clone();
        Objects.requireNonNull(keyProvider, "keyProvider");
        keyProviderId = keyProviderId == null ? null : keyProviderId.clone();
        instanceId = instanceId == null ? null : instanceId.clone();
        initScriptHashes = AppInfo.copyInitScriptHashes(initScriptHashes);
    }

    /** {@code MrConfigV3::new}: empty app id, key provider id and instance id become absent. */
    public static MrConfigV3 of(byte[] appId, byte[] composeHash, byte[] gpuPolicyHash, KeyProviderKind keyProvider,
            byte[] keyProviderId, byte[] instanceId) {
        return new MrConfigV3(appId.length == 0 ? null : appId, composeHash, gpuPolicyHash, keyProvider,
                keyProviderId.length == 0 ? null : keyProviderId, instanceId.length == 0 ? null : instanceId, null);
    }

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
    private static final java.util.Set<String> FIELDS = java.util.Set.of("version", "app_id", "compose_hash",
            "gpu_policy_hash", "key_provider", "key_provider_id", "instance_id", "init_script_hashes");
    /** Largest document {@link #fromDocument} reads (ours; the document is a few hundred bytes). */
    public static final int MAX_DOCUMENT = 16 * 1024;

    /**
     * {@code MrConfigV3::from_document}: a JSON object with exactly the known members
     * ({@code deny_unknown_fields}), hex byte strings (lowercase or uppercase, no {@code 0x}), null for an
     * absent optional member, {@code version} defaulting to 3. The document need not be canonical: verifiers
     * hash the exact bytes ({@link #tdxMrConfigIdFromDocument}), and {@code version} other than 3 is kept
     * out of this type (rejected) although upstream's {@code u8} would take it.
     */
    public static MrConfigV3 fromDocument(String document) throws RaException {
        if (document.length() > MAX_DOCUMENT) {
            throw new RaException(Reason.TOO_LARGE, "mr_config", document.length() + " chars > " + MAX_DOCUMENT);
        }
        JsonNode n;
        try {
            n = JSON.readTree(document);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            boolean dup = e.getOriginalMessage() != null && e.getOriginalMessage().startsWith("Duplicate field");
            throw new RaException(dup ? Reason.DUPLICATE_FIELD : Reason.WRONG_TYPE, "mr_config",
                    dup ? "a member appears twice" : "not JSON");
        }
        if (n == null || !n.isObject()) {
            throw new RaException(Reason.WRONG_TYPE, "mr_config", "not a JSON object");
        }
        for (java.util.Iterator<String> it = n.fieldNames(); it.hasNext();) {
            String k = it.next();
            if (!FIELDS.contains(k)) {
                throw new RaException(Reason.UNKNOWN_FIELD, "mr_config." + k, "unknown member");
            }
        }
        JsonNode v = n.get("version");
        if (v != null && !(v.isIntegralNumber() && v.asLong() == 3)) {
            throw new RaException(Reason.UNKNOWN_VERSION, "mr_config.version", "must be 3");
        }
        byte[] compose = hexMember(n, "compose_hash");
        if (compose == null) {
            throw new RaException(Reason.MISSING_FIELD, "mr_config.compose_hash", "missing");
        }
        JsonNode kp = n.get("key_provider");
        if (kp == null || kp.isNull()) {
            throw new RaException(Reason.MISSING_FIELD, "mr_config.key_provider", "missing");
        }
        if (!kp.isTextual()) {
            throw new RaException(Reason.WRONG_TYPE, "mr_config.key_provider", "not a string");
        }
        KeyProviderKind kind = null;
        for (KeyProviderKind k : KeyProviderKind.values()) {
            if (k.wireName().equals(kp.asText())) {
                kind = k;
            }
        }
        if (kind == null) {
            throw new RaException(Reason.UNKNOWN_VARIANT, "mr_config.key_provider", "unknown key provider");
        }
        List<byte[]> scripts = null;
        JsonNode s = n.get("init_script_hashes");
        if (s != null && !s.isNull()) {
            if (!s.isArray()) {
                throw new RaException(Reason.WRONG_TYPE, "mr_config.init_script_hashes", "not an array");
            }
            if (s.size() > AppInfo.MAX_INIT_SCRIPTS) {
                throw new RaException(Reason.LIMIT_EXCEEDED, "mr_config.init_script_hashes",
                        s.size() + " > " + AppInfo.MAX_INIT_SCRIPTS);
            }
            scripts = new ArrayList<>();
            for (int i = 0; i < s.size(); i++) {
                String f = "mr_config.init_script_hashes[" + i + "]";
                byte[] h = hexValue(s.get(i), f);
                if (h.length != 32) {
                    throw new RaException(Reason.BAD_LENGTH, f, "must be 32 bytes, got " + h.length);
                }
                scripts.add(h);
            }
        }
        return new MrConfigV3(hexMember(n, "app_id"), compose, hexMember(n, "gpu_policy_hash"), kind,
                hexMember(n, "key_provider_id"), hexMember(n, "instance_id"), scripts);
    }

    private static byte[] hexMember(JsonNode n, String name) throws RaException {
        JsonNode v = n.get(name);
        return v == null || v.isNull() ? null : hexValue(v, "mr_config." + name);
    }

    private static byte[] hexValue(JsonNode v, String field) throws RaException {
        if (!v.isTextual()) {
            throw new RaException(Reason.WRONG_TYPE, field, "not a hex string");
        }
        try {
            return Bytes.HEX.parseHex(v.asText().toLowerCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new RaException(Reason.WRONG_TYPE, field, "not hex");
        }
    }

    private static String hex(byte[] b) {
        return "\"" + Bytes.HEX.formatHex(b) + "\"";
    }

    /** The JCS (RFC 8785) document: members in code-unit order, no whitespace. */
    public String toCanonicalJson() {
        StringBuilder b = new StringBuilder("{");
        if (appId != null) {
            b.append("\"app_id\":").append(hex(appId)).append(',');
        }
        b.append("\"compose_hash\":").append(hex(composeHash)).append(',');
        if (gpuPolicyHash != null) {
            b.append("\"gpu_policy_hash\":").append(hex(gpuPolicyHash)).append(',');
        }
        if (initScriptHashes != null) {
            b.append("\"init_script_hashes\":[");
            for (int i = 0; i < initScriptHashes.size(); i++) {
                b.append(i == 0 ? "" : ",").append(hex(initScriptHashes.get(i)));
            }
            b.append("],");
        }
        if (instanceId != null) {
            b.append("\"instance_id\":").append(hex(instanceId)).append(',');
        }
        b.append("\"key_provider\":\"").append(keyProvider.wireName()).append("\",");
        if (keyProviderId != null) {
            b.append("\"key_provider_id\":").append(hex(keyProviderId)).append(',');
        }
        return b.append("\"version\":3}").toString();
    }

    /** {@code SHA-256("dstack-mr-config-v3:" ‖ 0x00 ‖ document)} of the exact document bytes. */
    public static byte[] hashDocument(String document) {
        return Hashes.sha256(DOMAIN, new byte[] {0}, document.getBytes(StandardCharsets.UTF_8));
    }

    /** TDX {@code MR_CONFIG_ID}: {@code 0x03 ‖ hash ‖ 15 zero bytes}. */
    public static byte[] tdxMrConfigIdFromDocument(String document) {
        byte[] id = new byte[48];
        id[0] = 3;
        System.arraycopy(hashDocument(document), 0, id, 1, 32);
        return id;
    }

    public byte[] tdxMrConfigId() {
        return tdxMrConfigIdFromDocument(toCanonicalJson());
    }

    /** SEV-SNP {@code HOST_DATA}: the hash itself. */
    public byte[] snpHostData() {
        return hashDocument(toCanonicalJson());
    }

    /** V1 {@code MR_CONFIG_ID}: {@code 0x01 ‖ compose_hash(32)}, zero-padded to 48. */
    public static byte[] mrConfigIdV1(byte[] composeHash) {
        byte[] id = new byte[48];
        id[0] = 1;
        System.arraycopy(composeHash, 0, id, 1, 32);
        return id;
    }

    /** V2: {@code 0x02 ‖ Keccak256(compose_hash ‖ app_id ‖ kind_byte ‖ key_provider_id)}, zero-padded. */
    public static byte[] mrConfigIdV2(byte[] composeHash, byte[] appId, KeyProviderKind kind, byte[] keyProviderId) {
        byte[] id = new byte[48];
        id[0] = 2;
        System.arraycopy(Hashes.keccak256(composeHash, appId, new byte[] {(byte) kind.kindByte()}, keyProviderId), 0,
                id, 1, 32);
        return id;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MrConfigV3 && toCanonicalJson().equals(((MrConfigV3) o).toCanonicalJson());
    }

    @Override
    public int hashCode() {
        return toCanonicalJson().hashCode();
    }

    @Override
    public String toString() {
        return "MrConfigV3" + toCanonicalJson();
    }
}
