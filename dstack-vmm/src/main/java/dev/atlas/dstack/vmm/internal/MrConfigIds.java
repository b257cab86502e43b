package dev.atlas.dstack.vmm.internal;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.dstack.ra.MrConfigV3;
import dev.atlas.dstack.ra.MrConfigV3.KeyProviderKind;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Locale;

/**
 * The TDX {@code MR_CONFIG_ID} of a VM, read from its host share as upstream's {@code tdx_mr_config_id}
 * ({@code vmm/src/app/mr_config.rs}; byte layouts in {@code dstack-types/src/mr_config.rs}, implemented by dstack-ra's
 * {@link MrConfigV3}):
 * <ol>
 *   <li>{@code .sys-config.json} has an {@code mr_config} document → V3: {@code 0x03 ‖ SHA-256(domain ‖ 0 ‖ doc)};</li>
 *   <li>else the compose has no {@code key_provider_id} → V1: {@code 0x01 ‖ SHA-256(app-compose.json)};</li>
 *   <li>else V2: {@code 0x02 ‖ Keccak256(compose_hash ‖ app_id ‖ kind ‖ key_provider_id)}, app id from
 *       {@code .instance_info} or the first 20 bytes of the compose hash.</li>
 * </ol>
 */
public final class MrConfigIds {
    /** Largest host-share file read here (ours; the VMM writes a few KiB, compose files are capped upstream too). */
    public static final int MAX_FILE = 4 * 1024 * 1024;
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private MrConfigIds() {}

    /** The 48-byte MR_CONFIG_ID for the VM whose host share is {@code sharedDir}. */
    public static byte[] forHostShare(Path sharedDir) throws RaException {
        Path sys = sharedDir.resolve(".sys-config.json");
        if (Files.exists(sys)) {
            JsonNode sc = json(sys);
            JsonNode doc = sc.get("mr_config");
            if (doc != null && !doc.isNull()) {
                if (!doc.isTextual()) {
                    throw new RaException(Reason.WRONG_TYPE, "mr_config",
                            "mr_config of " + sys + " must be a string, got " + doc.getNodeType());
                }
                MrConfigV3.fromDocument(doc.asText());
                return MrConfigV3.tdxMrConfigIdFromDocument(doc.asText());
            }
        }
        Path composePath = sharedDir.resolve("app-compose.json");
        byte[] compose = read(composePath);
        byte[] composeHash = QemuCommandLine.sha256(compose);
        JsonNode app;
        try {
            app = JSON.readTree(compose);
        } catch (IOException e) {
            throw new RaException(Reason.CONFIG_INVALID, "app-compose.json",
                    composePath + " is not JSON: " + e.getMessage());
        }
        if (app == null || !app.isObject()) {
            throw new RaException(Reason.WRONG_TYPE, "app-compose.json", composePath + " is not a JSON object");
        }
        byte[] keyProviderId = hexField(app, "key_provider_id", composePath);
        if (keyProviderId.length == 0) {
            return MrConfigV3.mrConfigIdV1(composeHash);
        }
        byte[] appId = new byte[0];
        Path info = sharedDir.resolve(".instance_info");
        if (Files.exists(info)) {
            appId = hexField(json(info), "app_id", info);
        }
        if (appId.length == 0) {
            appId = Arrays.copyOf(composeHash, 20);
        }
        if (appId.length != 20) {
            throw new RaException(Reason.BAD_LENGTH, "app_id", "invalid app ID: " + appId.length
                    + " bytes in " + info + ", expected 20");
        }
        return MrConfigV3.mrConfigIdV2(composeHash, appId, keyProvider(app, composePath), keyProviderId);
    }

    /** {@code AppCompose::key_provider}: the explicit {@code key_provider}, else kms_enabled, local_key_provider_enabled. */
    static KeyProviderKind keyProvider(JsonNode app, Path file) throws RaException {
        JsonNode kp = app.get("key_provider");
        if (kp != null && !kp.isNull()) {
            if (!kp.isTextual()) {
                throw new RaException(Reason.WRONG_TYPE, "key_provider", "key_provider of " + file + " must be a string");
            }
            for (KeyProviderKind k : KeyProviderKind.values()) {
                if (k.wireName().equals(kp.asText())) {
                    return k;
                }
            }
            throw new RaException(Reason.CONFIG_INVALID, "key_provider",
                    "unknown key_provider " + kp.asText() + " in " + file + " (none, kms, local, tpm)");
        }
        if (app.path("kms_enabled").asBoolean(false)) {
            return KeyProviderKind.KMS;
        }
        if (app.path("local_key_provider_enabled").asBoolean(false)) {
            return KeyProviderKind.LOCAL;
        }
        return KeyProviderKind.NONE;
    }

    private static byte[] hexField(JsonNode n, String field, Path file) throws RaException {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) {
            return new byte[0];
        }
        if (!v.isTextual()) {
            throw new RaException(Reason.WRONG_TYPE, field, field + " of " + file + " must be a hex string");
        }
        String h = v.asText().toLowerCase(Locale.ROOT);
        if (h.startsWith("0x")) {
            h = h.substring(2);
        }
        try {
            return HexFormat.of().parseHex(h);
        } catch (IllegalArgumentException e) {
            throw new RaException(Reason.WRONG_TYPE, field, field + " of " + file + " is not hex");
        }
    }

    private static JsonNode json(Path p) throws RaException {
        try {
            JsonNode n = JSON.readTree(read(p));
            if (n == null || !n.isObject()) {
                throw new RaException(Reason.WRONG_TYPE, p.getFileName().toString(), p + " is not a JSON object");
            }
            return n;
        } catch (IOException e) {
            throw new RaException(Reason.CONFIG_INVALID, p.getFileName().toString(),
                    p + " is not JSON: " + e.getMessage());
        }
    }

    private static byte[] read(Path p) throws RaException {
        try {
            if (Files.size(p) > MAX_FILE) {
                throw new RaException(Reason.TOO_LARGE, p.getFileName().toString(),
                        p + " is larger than " + MAX_FILE + " bytes");
            }
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw new RaException(Reason.CONFIG_FILE_UNREADABLE, p.getFileName().toString(),
                    "cannot read " + p + ": " + e.getMessage());
        }
    }
}
