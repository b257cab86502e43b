package dev.atlas.dstack.gateway.ct;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * What survives a restart (the state file): the crt.sh cursor ({@code last_checked}: every id up to it was
 * checked), the outstanding alarms (alerted once, re-evaluated each check, dropped when resolved), and webhook
 * deliveries still owed. Written atomically (temporary file in the same directory, then a rename), read strictly.
 */
final class MonitorState {
    static final int VERSION = 1;
    /** Largest state file accepted (bytes). */
    static final int MAX_BYTES = 16 << 20;
    /** Most webhook deliveries kept for a retry. */
    static final int MAX_PENDING_WEBHOOK = 1000;
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();

    final String domain;
    long lastChecked;
    /** crt.sh id → the alert (JSON object) of a certificate whose key is not attested. */
    final Map<Long, ObjectNode> entryAlarms = new TreeMap<>();
    /** "kind:spki" → the alert (JSON object) of an attested key that failed a check. */
    final Map<String, ObjectNode> keyAlarms = new LinkedHashMap<>();
    /** crt.sh ids the operator acknowledged: never alarmed again. */
    final java.util.Set<Long> acknowledged = new java.util.TreeSet<>();
    /** Alert JSON lines not yet delivered to the webhook. */
    final List<String> pendingWebhook = new ArrayList<>();

    MonitorState(String domain) {
        this.domain = domain;
    }

    /** The state in {@code file}, or a fresh one when the file does not exist. */
    static MonitorState load(Optional<Path> file, String domain) throws RaException {
        if (file.isEmpty()) {
            return new MonitorState(domain);
        }
        Path f = file.get();
        byte[] bytes;
        try {
            if (Files.size(f) > MAX_BYTES) {
                throw invalid(f, "", "exceeds " + MAX_BYTES + " bytes");
            }
            bytes = Files.readAllBytes(f);
        } catch (NoSuchFileException e) {
            return new MonitorState(domain);
        } catch (IOException e) {
            throw new RaException(Reason.CONFIG_FILE_UNREADABLE, "state", f + " cannot be read ("
                    + e.getClass().getSimpleName() + ")");
        }
        return parse(bytes, f.toString(), domain);
    }

    static MonitorState parse(byte[] bytes, String where, String domain) throws RaException {
        if (bytes.length > MAX_BYTES) {
            throw invalid(where, "", "exceeds " + MAX_BYTES + " bytes");
        }
        JsonNode n;
        try {
            n = JSON.readTree(new String(bytes, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw invalid(where, "", "is not valid JSON (" + Jsonl.describe(e) + ")");
        }
        if (n == null || !n.isObject()) {
            throw invalid(where, "", "must be a JSON object");
        }
        if (!n.path("version").isInt() || n.get("version").intValue() != VERSION) {
            throw invalid(where, "version", "must be " + VERSION);
        }
        if (!n.path("domain").isTextual()) {
            throw invalid(where, "domain", "must be a string");
        }
        if (!n.get("domain").textValue().equals(domain)) {
            throw invalid(where, "domain", "is " + n.get("domain").textValue() + ", not the monitored " + domain
                    + " (use another --state file per domain)");
        }
        MonitorState s = new MonitorState(domain);
        JsonNode lc = n.path("last_checked");
        if (!lc.isIntegralNumber() || !lc.canConvertToLong() || lc.longValue() < 0) {
            throw invalid(where, "last_checked", "must be a non-negative integer");
        }
        s.lastChecked = lc.longValue();
        for (JsonNode a : array(n, "entry_alarms", where)) {
            JsonNode id = a.path("crtsh_id");
            if (!a.isObject() || !id.isIntegralNumber() || !id.canConvertToLong() || id.longValue() <= 0) {
                throw invalid(where, "entry_alarms[].crtsh_id", "must be a positive integer");
            }
            if (!a.path("public_key").isTextual()) {
                throw invalid(where, "entry_alarms[].public_key", "must be a string");
            }
            s.entryAlarms.put(id.longValue(), (ObjectNode) a);
        }
        for (JsonNode a : array(n, "key_alarms", where)) {
            if (!a.isObject() || !a.path("alert").isTextual() || !a.path("public_key").isTextual()) {
                throw invalid(where, "key_alarms[]", "must be objects with alert and public_key strings");
            }
            s.keyAlarms.put(a.get("alert").textValue() + ":" + a.get("public_key").textValue(), (ObjectNode) a);
        }
        for (JsonNode a : array(n, "acknowledged", where)) {
            if (!a.isIntegralNumber() || !a.canConvertToLong() || a.longValue() <= 0) {
                throw invalid(where, "acknowledged[]", "must be positive integers");
            }
            s.acknowledged.add(a.longValue());
        }
        for (JsonNode a : array(n, "pending_webhook", where)) {
            if (!a.isTextual()) {
                throw invalid(where, "pending_webhook[]", "must be strings");
            }
            if (s.pendingWebhook.size() < MAX_PENDING_WEBHOOK) {
                s.pendingWebhook.add(a.textValue());
            }
        }
        return s;
    }

    private static Iterable<JsonNode> array(JsonNode n, String field, String where) throws RaException {
        JsonNode a = n.get(field);
        if (a == null) {
            return List.of();
        }
        if (!a.isArray()) {
            throw invalid(where, field, "must be an array");
        }
        return a;
    }

    String toJson() {
        ObjectNode o = JSON.createObjectNode();
        o.put("version", VERSION);
        o.put("domain", domain);
        o.put("last_checked", lastChecked);
        ArrayNode ea = o.putArray("entry_alarms");
        entryAlarms.values().forEach(ea::add);
        ArrayNode ka = o.putArray("key_alarms");
        keyAlarms.values().forEach(ka::add);
        ArrayNode ack = o.putArray("acknowledged");
        acknowledged.forEach(ack::add);
        ArrayNode pw = o.putArray("pending_webhook");
        pendingWebhook.forEach(pw::add);
        return o.toPrettyString() + "\n";
    }

    /** Writes the state to {@code file} atomically (mode 0600 where POSIX). */
    void save(Path file) throws RaException {
        Path dir = file.toAbsolutePath().getParent();
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            tmp = Files.createTempFile(dir, "." + file.getFileName(), ".tmp");
            Files.writeString(tmp, toJson(), StandardCharsets.UTF_8);
            try {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // best effort
                }
            }
            throw new RaException(Reason.CONFIG_FILE_UNREADABLE, "state", "cannot write " + file + " ("
                    + e.getClass().getSimpleName() + ")");
        }
    }

    private static RaException invalid(Object where, String field, String what) {
        return new RaException(Reason.CONFIG_INVALID, field.isEmpty() ? "state" : "state." + field,
                "state file " + where + (field.isEmpty() ? "" : ": " + field) + " " + what);
    }
}
