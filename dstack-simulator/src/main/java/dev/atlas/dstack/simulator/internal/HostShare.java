package dev.atlas.dstack.simulator.internal;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * The files a VMM writes into a CVM's host share, read as dstack-util reads them
 * ({@code dstack-types/src/shared_filenames.rs}, {@code lib.rs} {@code AppCompose}/{@code SysConfig},
 * {@code dstack-util/src/system_setup.rs} {@code HostShared::load} and {@code InstanceInfo}): unknown fields are
 * ignored (serde's default), a wrong type or a missing required field fails with the file and the field named.
 * Each file is read with a size limit before it is parsed.
 */
public final class HostShare {
    public static final String APP_COMPOSE = "app-compose.json";
    public static final String SYS_CONFIG = ".sys-config.json";
    public static final String INSTANCE_INFO = ".instance_info";
    public static final String ENCRYPTED_ENV = ".encrypted-env";
    public static final String USER_CONFIG = ".user-config";
    public static final String TEE_SIMULATOR_CONFIG = ".tee-simulator.json";

    public static final int MAX_COMPOSE = 1 << 20;
    public static final int MAX_SYS_CONFIG = 256 * 1024;
    public static final int MAX_INSTANCE_INFO = 64 * 1024;
    public static final int MAX_ENCRYPTED_ENV = 1 << 20;
    public static final int MAX_USER_CONFIG = 1 << 20;

    private static final HexFormat HEX = HexFormat.of();
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();

    /** {@code AppCompose}: the fields the simulated guest OS acts on. */
    public record Compose(String name, String runner, Optional<String> bashScript, Optional<String> dockerComposeFile,
            String keyProvider, boolean gatewayEnabled, boolean noInstanceId, List<String> allowedEnvs) {
    }

    /** {@code SysConfig}: the fields the simulated guest OS acts on. */
    public record SysConfig(List<String> kmsUrls, List<String> gatewayUrls, Optional<String> pccsUrl,
            Optional<String> hostApiUrl, String vmConfig) {
    }

    /** {@code InstanceInfo}: hex fields, each may be empty. */
    public record InstanceInfo(byte[] instanceIdSeed, byte[] instanceId, byte[] appId) {
        public String json() {
            return "{\"instance_id_seed\":\"" + HEX.formatHex(instanceIdSeed) + "\",\"instance_id\":\""
                    + HEX.formatHex(instanceId) + "\",\"app_id\":\"" + HEX.formatHex(appId) + "\"}";
        }
    }

    private final Path dir;
    private final byte[] composeBytes;
    private final Compose compose;
    private final SysConfig sysConfig;
    private final InstanceInfo instanceInfo;
    private final byte[] encryptedEnv;
    private final Optional<byte[]> userConfig;
    private final Optional<String> simulatedTee;

    private HostShare(Path dir, byte[] composeBytes, Compose compose, SysConfig sysConfig, InstanceInfo info,
            byte[] encryptedEnv, Optional<byte[]> userConfig, Optional<String> simulatedTee) {
        this.simulatedTee = simulatedTee;
        this.dir = dir;
        this.composeBytes = composeBytes;
        this.compose = compose;
        this.sysConfig = sysConfig;
        this.instanceInfo = info;
        this.encryptedEnv = encryptedEnv;
        this.userConfig = userConfig;
    }

    /** Loads a host share directory: app-compose.json and .sys-config.json are required, the others optional. */
    public static HostShare load(Path dir) throws RaException {
        byte[] composeBytes = read(dir.resolve(APP_COMPOSE), MAX_COMPOSE).orElseThrow(() -> new RaException(
                Reason.CONFIG_FILE_UNREADABLE, APP_COMPOSE, "missing in the host share " + dir));
        byte[] sys = read(dir.resolve(SYS_CONFIG), MAX_SYS_CONFIG).orElseThrow(() -> new RaException(
                Reason.CONFIG_FILE_UNREADABLE, SYS_CONFIG, "missing in the host share " + dir));
        Optional<byte[]> info = read(dir.resolve(INSTANCE_INFO), MAX_INSTANCE_INFO);
        byte[] env = read(dir.resolve(ENCRYPTED_ENV), MAX_ENCRYPTED_ENV).orElse(new byte[0]);
        Optional<byte[]> user = read(dir.resolve(USER_CONFIG), MAX_USER_CONFIG);
        Optional<byte[]> tee = read(dir.resolve(TEE_SIMULATOR_CONFIG), MAX_SYS_CONFIG);
        Optional<String> platform = Optional.empty();
        if (tee.isPresent()) {
            // TeeSimulatorConfig.platform, default dstack-tdx (dstack-types/src/lib.rs)
            platform = Optional.of(optString(object(tee.get(), TEE_SIMULATOR_CONFIG), "platform",
                    TEE_SIMULATOR_CONFIG).orElse("dstack-tdx"));
        }
        return new HostShare(dir, composeBytes, parseCompose(composeBytes), parseSysConfig(sys),
                info.isPresent() ? parseInstanceInfo(info.get()) : new InstanceInfo(new byte[0], new byte[0],
                        new byte[0]), env, user, platform);
    }

    public Path dir() {
        return dir;
    }

    /** The exact bytes of app-compose.json (the compose hash is their SHA-256). */
    public byte[] composeBytes() {
        return composeBytes.clone();
    }

    public Compose compose() {
        return compose;
    }

    public SysConfig sysConfig() {
        return sysConfig;
    }

    public InstanceInfo instanceInfo() {
        return instanceInfo;
    }

    /** The .encrypted-env bytes, empty when the file is absent. */
    public byte[] encryptedEnv() {
        return encryptedEnv.clone();
    }

    public Optional<byte[]> userConfig() {
        return userConfig.map(byte[]::clone);
    }

    /** The platform of {@code .tee-simulator.json} (the VM's {@code simulated_tee}), when the VMM wrote one. */
    public Optional<String> simulatedTee() {
        return simulatedTee;
    }

    public byte[] composeHash() {
        return sha256(composeBytes);
    }

    /** {@code measure_app_info}: the deploy-time app id, else {@code SHA-256(app-compose.json)[0..20]}. */
    public byte[] appId() throws RaException {
        byte[] id = instanceInfo.appId().length == 0 ? Arrays.copyOf(composeHash(), 20) : instanceInfo.appId();
        if (id.length != 20) {
            throw new RaException(Reason.CONFIG_INVALID, INSTANCE_INFO + ": app_id",
                    "Invalid app id length: expected 20 bytes, got " + id.length);
        }
        return id;
    }

    /** {@code SHA-256(instance_id_seed ‖ app_id)[0..20]}, empty with {@code no_instance_id}. */
    public static byte[] instanceId(byte[] seed, byte[] appId, boolean noInstanceId) {
        if (noInstanceId) {
            return new byte[0];
        }
        byte[] path = Arrays.copyOf(seed, seed.length + appId.length);
        System.arraycopy(appId, 0, path, seed.length, appId.length);
        return Arrays.copyOf(sha256(path), 20);
    }

    // ---- parsers (public for the fuzz target) ----

    public static Compose parseCompose(byte[] bytes) throws RaException {
        JsonNode n = object(bytes, APP_COMPOSE);
        JsonNode mv = n.get("manifest_version");
        if (mv == null || !(mv.isTextual() || mv.isIntegralNumber())) {
            throw new RaException(Reason.CONFIG_INVALID, APP_COMPOSE + ": manifest_version",
                    mv == null ? "missing field" : "must be a string or the legacy number 1/2");
        }
        String name = requiredString(n, "name", APP_COMPOSE);
        String runner = requiredString(n, "runner", APP_COMPOSE);
        Optional<String> bash = optString(n, "bash_script", APP_COMPOSE);
        Optional<String> docker = optString(n, "docker_compose_file", APP_COMPOSE);
        boolean kms = bool(n, "kms_enabled", false, APP_COMPOSE);
        boolean local = bool(n, "local_key_provider_enabled", false, APP_COMPOSE);
        Optional<String> kp = optString(n, "key_provider", APP_COMPOSE);
        String keyProvider;
        if (kp.isPresent()) {
            keyProvider = kp.get();
            if (!List.of("none", "kms", "local", "tpm").contains(keyProvider)) {
                throw new RaException(Reason.CONFIG_INVALID, APP_COMPOSE + ": key_provider",
                        "unknown variant `" + keyProvider + "`, expected one of none, kms, local, tpm");
            }
        } else {
            keyProvider = kms ? "kms" : local ? "local" : "none";
        }
        // AppCompose::gateway_enabled: the field (or its alias tproxy_enabled) or the legacy feature "tproxy-net"
        boolean gateway = bool(n, "gateway_enabled", false, APP_COMPOSE) || bool(n, "tproxy_enabled", false,
                APP_COMPOSE) || strings(n, "features", APP_COMPOSE).contains("tproxy-net");
        boolean noInstanceId = bool(n, "no_instance_id", false, APP_COMPOSE);
        List<String> allowed = strings(n, "allowed_envs", APP_COMPOSE);
        return new Compose(name, runner, bash, docker, keyProvider, gateway, noInstanceId, allowed);
    }

    public static SysConfig parseSysConfig(byte[] bytes) throws RaException {
        JsonNode n = object(bytes, SYS_CONFIG);
        List<String> kms = strings(n, "kms_urls", SYS_CONFIG);
        List<String> gw = n.has("gateway_urls") ? strings(n, "gateway_urls", SYS_CONFIG)
                : strings(n, "tproxy_urls", SYS_CONFIG);
        Optional<String> pccs = Optional.empty();
        JsonNode cu = n.get("collateral_urls");
        if (cu != null && !cu.isNull()) {
            if (!cu.isObject()) {
                throw new RaException(Reason.CONFIG_INVALID, SYS_CONFIG + ": collateral_urls", "must be an object");
            }
            pccs = optString(cu, "pccs", SYS_CONFIG + ": collateral_urls");
        }
        if (pccs.isEmpty()) {
            pccs = optString(n, "pccs_url", SYS_CONFIG);
        }
        Optional<String> hostApi = optString(n, "host_api_url", SYS_CONFIG);
        String vmConfig = requiredString(n, "vm_config", SYS_CONFIG);
        return new SysConfig(kms, gw, pccs.filter(s -> !s.isEmpty()), hostApi, vmConfig);
    }

    public static InstanceInfo parseInstanceInfo(byte[] bytes) throws RaException {
        JsonNode n = object(bytes, INSTANCE_INFO);
        return new InstanceInfo(hex(n, "instance_id_seed"), hex(n, "instance_id"), hex(n, "app_id"));
    }

    private static byte[] hex(JsonNode n, String field) throws RaException {
        Optional<String> s = optString(n, field, INSTANCE_INFO);
        if (s.isEmpty()) {
            return new byte[0];
        }
        String h = s.get().startsWith("0x") ? s.get().substring(2) : s.get();
        try {
            return HEX.parseHex(h);
        } catch (IllegalArgumentException e) {
            throw new RaException(Reason.CONFIG_INVALID, INSTANCE_INFO + ": " + field, "is not hex");
        }
    }

    private static JsonNode object(byte[] bytes, String file) throws RaException {
        JsonNode n;
        try {
            n = JSON.readTree(bytes);
        } catch (IOException e) {
            throw new RaException(Reason.CONFIG_INVALID, file, "is not JSON: " + firstLine(e.getMessage()));
        }
        if (n == null || !n.isObject()) {
            throw new RaException(Reason.CONFIG_INVALID, file, "is not a JSON object");
        }
        return n;
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int i = s.indexOf('\n');
        return i < 0 ? s : s.substring(0, i);
    }

    private static String requiredString(JsonNode n, String field, String file) throws RaException {
        return optString(n, field, file).orElseThrow(() -> new RaException(Reason.CONFIG_INVALID,
                file + ": " + field, "missing field"));
    }

    private static Optional<String> optString(JsonNode n, String field, String file) throws RaException {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) {
            return Optional.empty();
        }
        if (!v.isTextual()) {
            throw new RaException(Reason.CONFIG_INVALID, file + ": " + field, "must be a string");
        }
        return Optional.of(v.textValue());
    }

    private static boolean bool(JsonNode n, String field, boolean dflt, String file) throws RaException {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) {
            return dflt;
        }
        if (!v.isBoolean()) {
            throw new RaException(Reason.CONFIG_INVALID, file + ": " + field, "must be a boolean");
        }
        return v.booleanValue();
    }

    private static List<String> strings(JsonNode n, String field, String file) throws RaException {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) {
            return List.of();
        }
        if (!v.isArray()) {
            throw new RaException(Reason.CONFIG_INVALID, file + ": " + field, "must be an array of strings");
        }
        if (v.size() > 1024) {
            throw new RaException(Reason.CONFIG_INVALID, file + ": " + field, "more than 1024 entries");
        }
        List<String> out = new ArrayList<>();
        for (JsonNode e : v) {
            if (!e.isTextual()) {
                throw new RaException(Reason.CONFIG_INVALID, file + ": " + field, "must be an array of strings");
            }
            out.add(e.textValue());
        }
        return List.copyOf(out);
    }

    /** Reads at most {@code max} bytes; empty when the file does not exist. */
    static Optional<byte[]> read(Path p, int max) throws RaException {
        try (InputStream in = Files.newInputStream(p)) {
            byte[] data = in.readNBytes(max + 1);
            if (data.length > max) {
                throw new RaException(Reason.CONFIG_INVALID, p.getFileName().toString(),
                        "larger than " + max + " bytes (" + p + ")");
            }
            return Optional.of(data);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new RaException(Reason.CONFIG_FILE_UNREADABLE, p.getFileName().toString(),
                    "cannot read " + p + ": " + e.getMessage());
        }
    }

    static byte[] sha256(byte[] b) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(b);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
