package dev.atlas.dstack.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.gateway.GatewayConfig;
import dev.atlas.dstack.gateway.GatewayConfig.Cidr;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;

import java.io.IOException;
import java.io.InputStream;
import java.net.Inet4Address;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * The registered instances (§3.3 gateway side, steps 4-6): the checks of {@code new_client_by_id}
 * ({@code gateway/src/main_service.rs}) with dstack's words, IP allocation from {@code wg.client_ip_range}
 * ({@code alloc_ip}/{@code valid_ip}), re-registration (same IP, new key, port policy reset when the compose hash
 * changes), and persistence in {@code <[core.sync] data_dir>/instances.json} (written atomically after every
 * change, read at start) in place of WaveKV. Thread-safe; listeners hear the app id of every change, outside the
 * lock.
 */
public final class InstanceRegistry {
    private static final System.Logger LOG = System.getLogger("dev.atlas.dstack.gateway");
    /** The file name under {@code data_dir}. */
    public static final String FILE_NAME = "instances.json";
    /** Size limit of the state file (ours). */
    static final int MAX_FILE_BYTES = 16 << 20;
    private static final Pattern HEX = Pattern.compile("[0-9a-f]{1,128}");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ObjectMapper STRICT = new ObjectMapper()
            .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private final GatewayConfig.Wg wg;
    private final Optional<Path> stateFile;
    private final Clock clock;
    private final Map<String, Instance> byId = new LinkedHashMap<>();
    private final Set<Inet4Address> allocated = new HashSet<>();
    private final List<Consumer<String>> listeners = new CopyOnWriteArrayList<>();

    /**
     * @param wg the network ({@code ip}, {@code reserved_net}, {@code client_ip_range})
     * @param stateFile where registrations persist; empty: memory only
     * @param clock registration times
     * @throws RaException {@code CONFIG_FILE_UNREADABLE} when the state file exists but cannot be read or is not
     *         this format
     */
    public InstanceRegistry(GatewayConfig.Wg wg, Optional<Path> stateFile, Clock clock) throws RaException {
        this.wg = wg;
        this.stateFile = stateFile;
        this.clock = clock;
        if (stateFile.isPresent() && Files.exists(stateFile.get())) {
            load(stateFile.get());
        }
    }

    /** The state file under {@code data_dir}. */
    public static Path stateFileIn(Path dataDir) {
        return dataDir.resolve(FILE_NAME);
    }

    /**
     * Registers or re-registers {@code instanceId} (§3.3 steps 4-6). The ids are lowercase hex (the caller
     * converted them).
     *
     * @throws RaException {@code INVALID_ARGUMENT} (an empty id, a key that is not 32 bytes of base64),
     *         {@code REGISTRATION_CONFLICT} (the key belongs to another instance, the instance to another app, no
     *         free address)
     */
    public Instance register(String instanceId, String appId, String composeHash, String publicKey,
            Optional<PortPolicy> policy) throws RaException {
        if (instanceId.isEmpty()) {
            throw new RaException(Reason.INVALID_ARGUMENT, "instance_id", "instance_id is empty (no_instance_id is "
                    + "set?)");
        }
        if (appId.isEmpty()) {
            throw new RaException(Reason.INVALID_ARGUMENT, "app_id", "[" + instanceId + "] app id is empty");
        }
        checkWgKey(instanceId, publicKey);
        Instance out;
        synchronized (this) {
            for (Instance other : byId.values()) {
                if (!other.instanceId().equals(instanceId) && other.publicKey().equals(publicKey)) {
                    throw new RaException(Reason.REGISTRATION_CONFLICT, "client_public_key", "[" + instanceId
                            + "] WireGuard public key is already registered to another instance");
                }
            }
            Instance existing = byId.get(instanceId);
            Instant now = clock.instant();
            if (existing != null) {
                if (!existing.appId().equals(appId)) {
                    throw new RaException(Reason.REGISTRATION_CONFLICT, "instance_id", "[" + instanceId
                            + "] instance_id is already registered to a different app");
                }
                Optional<PortPolicy> kept = existing.composeHash().equals(composeHash) ? existing.reportedPolicy()
                        : Optional.empty();
                if (!existing.composeHash().equals(composeHash)) {
                    LOG.log(System.Logger.Level.INFO, "compose_hash changed for instance " + instanceId + " ("
                            + existing.composeHash() + " -> " + composeHash + "), invalidating cached port_policy");
                }
                if (valid(existing.clientIp())) {
                    out = new Instance(instanceId, appId, composeHash, existing.clientIp(), publicKey, now,
                            policy.isPresent() ? policy : kept);
                    byId.put(instanceId, out);
                    persist();
                } else {
                    LOG.log(System.Logger.Level.INFO, "ip " + existing.clientIp().getHostAddress() + " of " + instanceId
                            + " is not in client_ip_range any more: allocating another");
                    allocated.remove(existing.clientIp());
                    out = add(instanceId, appId, composeHash, publicKey, now, policy.isPresent() ? policy : kept);
                }
            } else {
                out = add(instanceId, appId, composeHash, publicKey, now, policy);
            }
        }
        fire(appId);
        return out;
    }

    private Instance add(String instanceId, String appId, String composeHash, String publicKey, Instant now,
            Optional<PortPolicy> policy) throws RaException {
        Inet4Address ip = allocate().orElseThrow(() -> new RaException(Reason.REGISTRATION_CONFLICT,
                "wg.client_ip_range", "failed to allocate IP address for client: IP pool exhausted, no available "
                + "addresses in client_ip_range " + wg.clientIpRange()));
        Instance i = new Instance(instanceId, appId, composeHash, ip, publicKey, now, policy);
        byId.put(instanceId, i);
        allocated.add(ip);
        persist();
        LOG.log(System.Logger.Level.INFO, "registered instance " + instanceId + " of app " + appId + " at "
                + ip.getHostAddress());
        return i;
    }

    /** {@code valid_ip}: inside the client range, not the network's broadcast, not the gateway, not reserved. */
    boolean valid(Inet4Address ip) {
        if (!wg.clientIpRange().contains(ip)) {
            return false;
        }
        int v = bits(ip);
        int broadcast = wg.ip().networkBits() | (int) (wg.ip().size() - 1);
        if (v == broadcast || ip.equals(wg.ip().address())) {
            return false;
        }
        return wg.reservedNet().stream().noneMatch(n -> n.contains(ip));
    }

    /** {@code alloc_ip}: the first host of the client range that is valid and free. */
    private Optional<Inet4Address> allocate() {
        Cidr range = wg.clientIpRange();
        long size = range.size();
        long first = size <= 2 ? 0 : 1; // Ipv4Net::hosts skips network and broadcast for prefixes below /31
        long last = size <= 2 ? size - 1 : size - 2;
        for (long o = first; o <= last; o++) {
            Inet4Address ip = Cidr.fromBits(range.networkBits() + (int) o);
            if (valid(ip) && !allocated.contains(ip)) {
                return Optional.of(ip);
            }
        }
        return Optional.empty();
    }

    private static int bits(Inet4Address a) {
        byte[] b = a.getAddress();
        return (b[0] & 255) << 24 | (b[1] & 255) << 16 | (b[2] & 255) << 8 | (b[3] & 255);
    }

    /** {@code validate_wireguard_public_key}: base64 of exactly 32 bytes. */
    static void checkWgKey(String instanceId, String key) throws RaException {
        if (key.isEmpty()) {
            throw new RaException(Reason.INVALID_ARGUMENT, "client_public_key", "public_key is empty");
        }
        byte[] raw;
        try {
            raw = key.length() > 64 ? new byte[0] : Base64.getDecoder().decode(key);
        } catch (IllegalArgumentException e) {
            throw new RaException(Reason.INVALID_ARGUMENT, "client_public_key", "[" + instanceId + "] invalid client "
                    + "public key: invalid WireGuard public key encoding");
        }
        if (raw.length != 32) {
            throw new RaException(Reason.INVALID_ARGUMENT, "client_public_key", "[" + instanceId + "] invalid client "
                    + "public key: WireGuard public key must decode to 32 bytes");
        }
    }

    public synchronized Optional<Instance> byInstanceId(String instanceId) {
        return Optional.ofNullable(byId.get(instanceId));
    }

    public synchronized List<Instance> byAppId(String appId) {
        return byId.values().stream().filter(i -> i.appId().equals(appId)).toList();
    }

    /** All instances, ordered by client IP. */
    public synchronized List<Instance> all() {
        List<Instance> out = new ArrayList<>(byId.values());
        out.sort(Comparator.comparingLong(i -> Integer.toUnsignedLong(bits(i.clientIp()))));
        return out;
    }

    public synchronized int size() {
        return byId.size();
    }

    public Optional<Instance> remove(String instanceId) {
        Instance gone;
        synchronized (this) {
            gone = byId.remove(instanceId);
            if (gone == null) {
                return Optional.empty();
            }
            allocated.remove(gone.clientIp());
            try {
                persist();
            } catch (RaException e) {
                LOG.log(System.Logger.Level.ERROR, e.getMessage());
            }
        }
        LOG.log(System.Logger.Level.INFO, "removed instance " + instanceId + " of app " + gone.appId());
        fire(gone.appId());
        return Optional.of(gone);
    }

    /** {@code listener} gets the app id of every change (register, re-register, remove). */
    public void addListener(Consumer<String> listener) {
        listeners.add(listener);
    }

    private void fire(String appId) {
        for (Consumer<String> l : listeners) {
            try {
                l.accept(appId);
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.ERROR, "registry listener failed for app " + appId + ": " + e);
            }
        }
    }

    // --- persistence ---------------------------------------------------------------------------------------------

    private void persist() throws RaException {
        if (stateFile.isEmpty()) {
            return;
        }
        Path file = stateFile.get();
        ObjectNode root = JSON.createObjectNode();
        root.put("version", 1);
        ArrayNode arr = root.putArray("instances");
        for (Instance i : byId.values()) {
            ObjectNode o = arr.addObject();
            o.put("instance_id", i.instanceId());
            o.put("app_id", i.appId());
            o.put("compose_hash", i.composeHash());
            o.put("ip", i.clientIp().getHostAddress());
            o.put("public_key", i.publicKey());
            o.put("reg_time", i.registeredAt().toString());
            if (i.reportedPolicy().isPresent()) {
                ObjectNode p = o.putObject("port_policy");
                ArrayNode ports = p.putArray("ports");
                for (PortPolicy.Port port : i.reportedPolicy().get().ports()) {
                    ports.addObject().put("port", port.port()).put("pp", port.pp());
                }
                p.put("restrict_mode", i.reportedPolicy().get().restrictMode());
            }
        }
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            Files.write(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root));
            try {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new RaException(Reason.CONFIG_FILE_UNREADABLE, "core.sync.data_dir", "cannot write " + file + " ("
                    + e.getClass().getSimpleName() + ")");
        }
    }

    private void load(Path file) throws RaException {
        JsonNode root;
        try (InputStream in = Files.newInputStream(file)) {
            byte[] bytes = in.readNBytes(MAX_FILE_BYTES + 1);
            if (bytes.length > MAX_FILE_BYTES) {
                throw bad(file, "larger than " + MAX_FILE_BYTES + " bytes");
            }
            root = STRICT.readTree(new String(bytes, StandardCharsets.UTF_8));
        } catch (IOException | RuntimeException e) {
            throw bad(file, "cannot be read as JSON (" + e.getClass().getSimpleName() + ")");
        }
        if (!root.isObject() || root.path("version").asInt(-1) != 1 || !root.path("instances").isArray()) {
            throw bad(file, "is not a version 1 registration file");
        }
        Set<String> keys = new HashSet<>();
        for (JsonNode o : root.get("instances")) {
            Instance i;
            try {
                i = instance(o);
            } catch (IllegalArgumentException | java.time.DateTimeException e) {
                throw bad(file, "has a malformed entry (" + e.getMessage() + ")");
            }
            if (byId.containsKey(i.instanceId()) || !keys.add(i.publicKey()) || allocated.contains(i.clientIp())) {
                throw bad(file, "has two entries for one instance, key or address (" + i.instanceId() + ")");
            }
            if (!valid(i.clientIp())) {
                LOG.log(System.Logger.Level.WARNING, "dropping instance " + i.instanceId() + " from " + file + ": ip "
                        + i.clientIp().getHostAddress() + " is not valid in client_ip_range " + wg.clientIpRange()
                        + " (it registers again at its next boot)");
                continue;
            }
            byId.put(i.instanceId(), i);
            allocated.add(i.clientIp());
        }
        LOG.log(System.Logger.Level.INFO, "loaded " + byId.size() + " registered instances from " + file);
    }

    private static RaException bad(Path file, String why) {
        return new RaException(Reason.CONFIG_FILE_UNREADABLE, "core.sync.data_dir", file + " " + why);
    }

    private static Instance instance(JsonNode o) {
        String id = text(o, "instance_id");
        String app = text(o, "app_id");
        String compose = text(o, "compose_hash");
        if (!HEX.matcher(id).matches() || !HEX.matcher(app).matches()
                || !(compose.isEmpty() || HEX.matcher(compose).matches())) {
            throw new IllegalArgumentException("ids are lowercase hex");
        }
        Inet4Address ip = Cidr.ipv4(text(o, "ip"));
        String pk = text(o, "public_key");
        try {
            checkWgKey(id, pk);
        } catch (RaException e) {
            throw new IllegalArgumentException("public_key");
        }
        Instant reg = Instant.parse(text(o, "reg_time"));
        Optional<PortPolicy> policy = Optional.empty();
        JsonNode p = o.get("port_policy");
        if (p != null && !p.isNull()) {
            List<PortPolicy.Port> ports = new ArrayList<>();
            for (JsonNode port : p.path("ports")) {
                if (!port.path("port").isInt() || !port.path("pp").isBoolean()) {
                    throw new IllegalArgumentException("port_policy.ports");
                }
                ports.add(new PortPolicy.Port(port.get("port").intValue(), port.get("pp").booleanValue()));
            }
            if (!p.path("restrict_mode").isBoolean()) {
                throw new IllegalArgumentException("port_policy.restrict_mode");
            }
            policy = Optional.of(new PortPolicy(ports, p.get("restrict_mode").booleanValue()));
        }
        return new Instance(id, app, compose, ip, pk, reg, policy);
    }

    private static String text(JsonNode o, String field) {
        JsonNode v = o.get(field);
        if (v == null || !v.isTextual()) {
            throw new IllegalArgumentException(field);
        }
        return v.textValue();
    }
}
