package dev.atlas.dstack.ra;

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
        if (initScriptHashes != null) {
            List<byte[]> l = new ArrayList<>();
            for (byte[] h : initScriptHashes) {
                if (h.length != 32) {
                    throw new IllegalArgumentException("each init_script_hash must be 32 bytes");
                }
                l.add(h.clone());
            }
            if (l.size() > AppInfo.MAX_INIT_SCRIPTS) {
                throw new IllegalArgumentException("at most 5 init_script_hashes");
            }
            initScriptHashes = List.copyOf(l);
        }
    }

    /** {@code MrConfigV3::new}: empty app id, key provider id and instance id become absent. */
    public static MrConfigV3 of(byte[] appId, byte[] composeHash, byte[] gpuPolicyHash, KeyProviderKind keyProvider,
            byte[] keyProviderId, byte[] instanceId) {
        return new MrConfigV3(appId.length == 0 ? null : appId, composeHash, gpuPolicyHash, keyProvider,
                keyProviderId.length == 0 ? null : keyProviderId, instanceId.length == 0 ? null : instanceId, null);
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
