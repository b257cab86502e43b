package dev.atlas.dstack.ra;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.internal.Bytes;
import dev.atlas.dstack.ra.internal.Hashes;
import dev.atlas.dstack.ra.internal.MsgpackReader;
import dev.atlas.dstack.ra.internal.MsgpackWriter;
import dev.atlas.dstack.ra.internal.TdxQuoteFields;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * dstack's {@code AppInfo} ({@code dstack-attest/src/attestation.rs}): what {@code decode_app_info} reads
 * from an attestation, and the payload of the RA-TLS {@code .9} extension (msgpack array form,
 * {@code rmp_serde::to_vec}: nine elements in declaration order, every byte field {@code bin},
 * {@code init_script_hashes} nil or an array of 32-byte {@code bin}).
 *
 * @param appId payload of {@code app-id}
 * @param composeHash payload of {@code compose-hash}
 * @param instanceId payload of {@code instance-id}
 * @param deviceId device id ({@code SHA-256("")} from {@code decode_app_info} on TDX)
 * @param mrSystem 32 bytes
 * @param mrAggregated 32 bytes
 * @param osImageHash {@code os_image_hash} from vm_config
 * @param keyProviderInfo raw JSON of the {@code key-provider} event; empty in boot-time mode
 * @param initScriptHashes null when not bound, else at most 5 hashes of 32 bytes
 */
public record AppInfo(byte[] appId, byte[] composeHash, byte[] instanceId, byte[] deviceId, byte[] mrSystem,
        byte[] mrAggregated, byte[] osImageHash, byte[] keyProviderInfo, List<byte[]> initScriptHashes) {
    /** Largest msgpack {@code AppInfo} accepted (ours: the fields are hashes and a short JSON). */
    public static final int MAX_BYTES = 64 * 1024;
    /** {@code MAX_INIT_SCRIPTS}. */
    public static final int MAX_INIT_SCRIPTS = 5;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String[] FIELDS = {"app_id", "compose_hash", "instance_id", "device_id", "mr_system",
        "mr_aggregated", "os_image_hash", "key_provider_info", "init_script_hashes"};

    public AppInfo {
        appId = copy(appId, "appId");
        composeHash = copy(composeHash, "composeHash");
        instanceId = copy(instanceId, "instanceId");
        deviceId = copy(deviceId, "deviceId");
        mrSystem = copy(mrSystem, "mrSystem");
        mrAggregated = copy(mrAggregated, "mrAggregated");
        osImageHash = copy(osImageHash, "osImageHash");
        keyProviderInfo = copy(keyProviderInfo, "keyProviderInfo");
        if (mrSystem.length != 32 || mrAggregated.length != 32) {
            throw new IllegalArgumentException("mr_system and mr_aggregated are 32 bytes");
        }
        initScriptHashes = copyInitScriptHashes(initScriptHashes);
    }

    /** {@code hashes} checked (32 bytes each, at most {@link #MAX_INIT_SCRIPTS}) and deep-copied; null stays null. */
    static List<byte[]> copyInitScriptHashes(List<byte[]> hashes) {
        if (hashes == null) {
            return null;
        }
        if (hashes.size() > MAX_INIT_SCRIPTS) {
            throw new IllegalArgumentException("at most " + MAX_INIT_SCRIPTS + " init_script_hashes");
        }
        List<byte[]> l = new ArrayList<>();
        for (byte[] h : hashes) {
            if (h.length != 32) {
                throw new IllegalArgumentException("each init_script_hash must be 32 bytes");
            }
            l.add(h.clone());
        }
        return List.copyOf(l);
    }

    private static byte[] copy(byte[] b, String name) {
        return Objects.requireNonNull(b, name).clone();
    }

    @Override public byte[] appId() { return appId.clone(); }
    @Override public byte[] composeHash() { return composeHash.clone(); }
    @Override public byte[] instanceId() { return instanceId.clone(); }
    @Override public byte[] deviceId() { return deviceId.clone(); }
    @Override public byte[] mrSystem() { return mrSystem.clone(); }
    @Override public byte[] mrAggregated() { return mrAggregated.clone(); }
    @Override public byte[] osImageHash() { return osImageHash.clone(); }
    @Override public byte[] keyProviderInfo() { return keyProviderInfo.clone(); }

    @Override
    public List<byte[]> initScriptHashes() {
        if (initScriptHashes == null) {
            return null;
        }
        List<byte[]> l = new ArrayList<>();
        for (byte[] h : initScriptHashes) {
            l.add(h.clone());
        }
        return l;
    }

    /** The TDX measurements of {@code decode_mr_tdx}. */
    public static final class Measurements {
        private final byte[] mrSystem;
        private final byte[] mrAggregated;

        Measurements(byte[] mrSystem, byte[] mrAggregated) {
            this.mrSystem = mrSystem;
            this.mrAggregated = mrAggregated;
        }

        public byte[] mrSystem() {
            return mrSystem.clone();
        }

        public byte[] mrAggregated() {
            return mrAggregated.clone();
        }

        @Override
        public String toString() {
            return "Measurements[mr_system=" + Bytes.HEX.formatHex(mrSystem) + ", mr_aggregated="
                    + Bytes.HEX.formatHex(mrAggregated) + "]";
        }
    }

    /**
     * {@code decode_mr_tdx}: {@code mr_system = SHA-256(MRTD ‖ RTMR0 ‖ RTMR1 ‖ RTMR2 ‖ mr_key_provider)},
     * {@code mr_aggregated = SHA-256(MRTD ‖ RTMR0..2 ‖ RTMR3' [‖ MR_CONFIG_ID ‖ MR_OWNER ‖ MR_OWNER_CONFIG])}
     * with RTMR3' the replay of {@code runtimeEvents} (up to {@code boot-mr-done} when {@code bootTime}) and
     * the tail only when one of the three is non-zero.
     */
    public static Measurements measure(byte[] quote, List<RuntimeEvent> runtimeEvents, byte[] keyProviderInfo,
            boolean bootTime) throws RaException {
        TdxQuoteFields q = TdxQuoteFields.parse(quote);
        byte[] mrKeyProvider = keyProviderInfo.length == 0 ? new byte[32] : Hashes.sha256(keyProviderInfo);
        byte[] rtmr3 = RuntimeEvent.replay(runtimeEvents, bootTime ? "boot-mr-done" : null);
        byte[] mrSystem = Hashes.sha256(q.mrTd, q.rtmr[0], q.rtmr[1], q.rtmr[2], mrKeyProvider);
        boolean tail = !Bytes.allZero(q.mrConfigId, 0, 48) || !Bytes.allZero(q.mrOwner, 0, 48)
                || !Bytes.allZero(q.mrOwnerConfig, 0, 48);
        byte[] mrAggregated = tail
                ? Hashes.sha256(q.mrTd, q.rtmr[0], q.rtmr[1], q.rtmr[2], rtmr3, q.mrConfigId, q.mrOwner, q.mrOwnerConfig)
                : Hashes.sha256(q.mrTd, q.rtmr[0], q.rtmr[1], q.rtmr[2], rtmr3);
        return new Measurements(mrSystem, mrAggregated);
    }

    static AppInfo fromAttestation(VersionedAttestation a, boolean bootTime, String vmConfig) throws RaException {
        byte[] kp = bootTime ? new byte[0] : orEmpty(a.findEventPayload("key-provider"));
        Measurements m = measure(a.quote(), a.runtimeEvents(), kp, bootTime);
        List<byte[]> scripts = a.findEventPayloads("init-script-hash");
        if (scripts.size() > MAX_INIT_SCRIPTS) {
            throw new RaException(Reason.LIMIT_EXCEEDED, "runtime_events.init-script-hash",
                    scripts.size() + " > " + MAX_INIT_SCRIPTS);
        }
        for (byte[] h : scripts) {
            if (h.length != 32) {
                throw new RaException(Reason.BAD_LENGTH, "runtime_events.init-script-hash", "must be 32 bytes");
            }
        }
        return new AppInfo(orEmpty(a.findEventPayload("app-id")), orEmpty(a.findEventPayload("compose-hash")),
                orEmpty(a.findEventPayload("instance-id")), Hashes.sha256(new byte[0]), m.mrSystem, m.mrAggregated,
                osImageHash(vmConfig.isEmpty() ? a.config() : vmConfig), kp, scripts);
    }

    private static byte[] orEmpty(byte[] b) {
        return b == null ? new byte[0] : b;
    }

    /**
     * {@code decode_vm_config_with_fallback}: the config is a vm_config JSON, or a JSON whose
     * {@code vm_config} string member holds one; {@code os_image_hash} is hex, absent means empty.
     */
    static byte[] osImageHash(String config) throws RaException {
        String c = config.isEmpty() ? "{}" : config;
        JsonNode n;
        try {
            n = JSON.readTree(c);
            if (n != null && n.path("vm_config").isTextual()) {
                n = JSON.readTree(n.get("vm_config").asText());
            }
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new RaException(Reason.BAD_CONFIG, "config", "not JSON");
        }
        if (n == null || !n.isObject()) {
            throw new RaException(Reason.BAD_CONFIG, "config", "not a JSON object");
        }
        JsonNode h = n.get("os_image_hash");
        if (h == null || h.isNull()) {
            return new byte[0];
        }
        if (!h.isTextual()) {
            throw new RaException(Reason.BAD_CONFIG, "config.os_image_hash", "not a hex string");
        }
        try {
            return Bytes.parseHex(h.asText(), "config.os_image_hash");
        } catch (RaException e) {
            throw new RaException(Reason.BAD_CONFIG, "config.os_image_hash", "not hex");
        }
    }

    // ---- msgpack array form ------------------------------------------------------------------------------

    /** {@code rmp_serde::to_vec(&app_info)}. */
    public byte[] encode() {
        MsgpackWriter w = new MsgpackWriter().array(9);
        w.bin(appId).bin(composeHash).bin(instanceId).bin(deviceId).bin(mrSystem).bin(mrAggregated).bin(osImageHash)
                .bin(keyProviderInfo);
        if (initScriptHashes == null) {
            w.nil();
        } else {
            w.array(initScriptHashes.size());
            for (byte[] h : initScriptHashes) {
                w.bin(h);
            }
        }
        return w.toByteArray();
    }

    /**
     * Reads the array form: 8 or 9 elements (a missing {@code init_script_hashes} is null, as serde's
     * default), byte fields {@code bin}, no trailing bytes, at most {@link #MAX_BYTES}.
     */
    public static AppInfo decode(byte[] bytes) throws RaException {
        if (bytes.length > MAX_BYTES) {
            throw new RaException(Reason.TOO_LARGE, "app_info", bytes.length + " bytes > " + MAX_BYTES);
        }
        MsgpackReader r = new MsgpackReader(bytes);
        int n = r.arrayHeader("app_info", 9);
        if (n < 8) {
            throw new RaException(Reason.MISSING_FIELD, "app_info." + FIELDS[n], "array has " + n + " of 9 elements");
        }
        byte[][] f = new byte[8][];
        for (int i = 0; i < 8; i++) {
            f[i] = r.bin("app_info." + FIELDS[i]);
            if ((i == 4 || i == 5) && f[i].length != 32) {
                throw new RaException(Reason.BAD_LENGTH, "app_info." + FIELDS[i], "must be 32 bytes, got " + f[i].length);
            }
        }
        List<byte[]> scripts = null;
        if (n == 9) {
            if (r.peekNil("app_info.init_script_hashes")) {
                r.nil("app_info.init_script_hashes");
            } else {
                int m = r.arrayHeader("app_info.init_script_hashes", MAX_INIT_SCRIPTS);
                scripts = new ArrayList<>();
                for (int i = 0; i < m; i++) {
                    String fn = "app_info.init_script_hashes[" + i + "]";
                    byte[] h = r.bin(fn);
                    if (h.length != 32) {
                        throw new RaException(Reason.BAD_LENGTH, fn, "must be 32 bytes, got " + h.length);
                    }
                    scripts.add(h);
                }
            }
        }
        r.end("app_info");
        return new AppInfo(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], scripts);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof AppInfo)) {
            return false;
        }
        AppInfo a = (AppInfo) o;
        return Arrays.equals(encode(), a.encode());
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(mrAggregated);
    }

    @Override
    public String toString() {
        return "AppInfo[app_id=" + Bytes.HEX.formatHex(appId) + ", compose_hash=" + Bytes.HEX.formatHex(composeHash)
                + ", instance_id=" + Bytes.HEX.formatHex(instanceId) + ", mr_system=" + Bytes.HEX.formatHex(mrSystem)
                + ", mr_aggregated=" + Bytes.HEX.formatHex(mrAggregated) + ", os_image_hash="
                + Bytes.HEX.formatHex(osImageHash) + "]";
    }
}
