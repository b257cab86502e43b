package dev.atlas.dstack;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.internal.Digests;
import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.AttestationException.Reason;
import dev.atlas.tdx.internal.Hex;
import dev.atlas.tdx.internal.Json;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A dstack event log (spec atls-protocol §3): boot events from the CCEL table on RTMR0-2, then dstack
 * runtime events on RTMR3. Immutable.
 *
 * <p>{@link #parse} checks structure only: shape, types, hex, limits, format version. {@link #verify()}
 * checks what can be checked without the quote (runtime events only on RTMR3, every sent runtime digest
 * equal to the one recomputed from name and payload, system events unique and before
 * {@code system-ready}) and returns the typed events. {@link #replay()} gives the RTMR values; only
 * when they equal a verified quote's registers does any of it mean something.
 */
public final class EventLog {
    /** Maximum JSON text size accepted (characters). */
    public static final int MAX_CHARS = 4 << 20;
    /** Maximum number of entries. */
    public static final int MAX_ENTRIES = 4096;
    /** Maximum event name length (characters). */
    public static final int MAX_NAME_CHARS = 1024;
    /** Maximum payload size (bytes). */
    public static final int MAX_PAYLOAD_BYTES = 1 << 20;

    static final Set<String> FIELDS = Set.of("imr", "event_type", "digest", "event", "event_payload");

    private final List<EventLogEntry> entries;

    private EventLog(List<EventLogEntry> entries) {
        this.entries = Collections.unmodifiableList(entries);
    }

    /** An event log from entries (e.g. built by a simulator). */
    public static EventLog of(List<EventLogEntry> entries) {
        return new EventLog(new ArrayList<>(entries));
    }

    /**
     * Parses an event log: a JSON array of entries, or a JSON string whose content is that array (the
     * double encoding of the GetQuote and {@code /tdx_quote} responses).
     *
     * @throws AttestationException {@link Reason#MALFORMED_EVENT_LOG} or
     *     {@link Reason#UNSUPPORTED_EVENT_LOG_VERSION}
     */
    public static EventLog parse(String json) throws AttestationException {
        JsonNode n;
        try {
            n = Json.parse(json, MAX_CHARS);
        } catch (IllegalArgumentException e) {
            throw new AttestationException(Reason.MALFORMED_EVENT_LOG, "event log: " + e.getMessage());
        }
        return fromJson(n);
    }

    /** Same as {@link #parse} for an already parsed JSON value (array, or string holding the array). */
    public static EventLog fromJson(JsonNode n) throws AttestationException {
        if (n.isTextual()) {
            try {
                n = Json.parse(n.textValue(), MAX_CHARS);
            } catch (IllegalArgumentException e) {
                throw new AttestationException(Reason.MALFORMED_EVENT_LOG, "event log string: " + e.getMessage());
            }
            if (!n.isArray()) {
                throw new AttestationException(Reason.MALFORMED_EVENT_LOG,
                        "event log string must hold a JSON array, got " + kind(n));
            }
        }
        if (!n.isArray()) {
            throw new AttestationException(Reason.MALFORMED_EVENT_LOG,
                    "event log must be a JSON array (or a string holding one), got " + kind(n));
        }
        if (n.size() > MAX_ENTRIES) {
            throw new AttestationException(Reason.MALFORMED_EVENT_LOG,
                    "event log has " + n.size() + " entries, more than the limit of " + MAX_ENTRIES);
        }
        List<EventLogEntry> out = new ArrayList<>(n.size());
        for (int i = 0; i < n.size(); i++) {
            out.add(entry(n.get(i), "event_log[" + i + "]"));
        }
        return new EventLog(out);
    }

    private static EventLogEntry entry(JsonNode e, String path) throws AttestationException {
        if (!e.isObject()) {
            throw new AttestationException(Reason.MALFORMED_EVENT_LOG, path + ": expected an object, got " + kind(e));
        }
        JsonNode version = e.get("version");
        if (version != null && !(version.isIntegralNumber() && version.canConvertToLong() && version.longValue() == 1)) {
            throw new AttestationException(Reason.UNSUPPORTED_EVENT_LOG_VERSION, path + ": event log version "
                    + version + " is not supported (only V1 runtime events are; dstack V2 events need a V2 verifier)");
        }
        if (e.has("preimage")) {
            throw new AttestationException(Reason.UNSUPPORTED_EVENT_LOG_VERSION, path
                    + ": `preimage` belongs to dstack V2 runtime events, which are not supported");
        }
        for (var it = e.fieldNames(); it.hasNext();) {
            String f = it.next();
            if (!FIELDS.contains(f) && !f.equals("version")) {
                throw new AttestationException(Reason.MALFORMED_EVENT_LOG, path + ": unknown field `" + f + "`");
            }
        }
        try {
            int imr = (int) Json.integer(e, "imr", 0, 3, path);
            long type = Json.integer(e, "event_type", 0, 0xffffffffL, path);
            String digestHex = Json.string(e, "digest", path);
            String name = Json.string(e, "event", path);
            String payloadHex = Json.string(e, "event_payload", path);
            if (name.length() > MAX_NAME_CHARS) {
                throw new IllegalArgumentException(path + ".event: name longer than " + MAX_NAME_CHARS + " characters");
            }
            if (payloadHex.length() > 2 * MAX_PAYLOAD_BYTES) {
                throw new IllegalArgumentException(path + ".event_payload: longer than " + MAX_PAYLOAD_BYTES + " bytes");
            }
            byte[] digest = hex(digestHex, path + ".digest");
            if (digest.length > 48) {
                throw new IllegalArgumentException(path + ".digest: " + digest.length
                        + " bytes; an RTMR extend takes at most 48");
            }
            return new EventLogEntry(imr, type, digest, name, hex(payloadHex, path + ".event_payload"));
        } catch (IllegalArgumentException ex) {
            throw new AttestationException(Reason.MALFORMED_EVENT_LOG, ex.getMessage());
        }
    }

    private static byte[] hex(String s, String path) {
        try {
            return Hex.decode(s);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(path + ": " + e.getMessage(), e);
        }
    }

    private static String kind(JsonNode n) {
        return n.getNodeType().name().toLowerCase(java.util.Locale.ROOT);
    }

    public List<EventLogEntry> entries() {
        return entries;
    }

    /**
     * Replays RTMR0..RTMR3: each starts at 48 zero bytes and is extended, in log order, with
     * {@code mr = SHA-384(mr ‖ d)} where {@code d} is the entry's {@link EventLogEntry#effectiveDigest()}
     * (recomputed for runtime events). Returns four 48-byte values.
     */
    public List<byte[]> replay() {
        byte[][] mr = new byte[4][48];
        for (EventLogEntry e : entries) {
            mr[e.imr()] = Digests.sha384(mr[e.imr()], e.effectiveDigestUnsafe());
        }
        List<byte[]> out = new ArrayList<>(4);
        for (byte[] m : mr) {
            out.add(m);
        }
        return out;
    }

    /**
     * Checks the log's internal consistency and returns its dstack events.
     *
     * @throws AttestationException {@link Reason#EVENT_IMR_MISMATCH} (runtime event off RTMR3, or another
     *     event type on RTMR3), {@link Reason#EVENT_DIGEST_MISMATCH} (a sent runtime digest is neither empty
     *     nor the recomputed one), {@link Reason#DUPLICATE_EVENT}, {@link Reason#EVENT_ORDER_INVALID}
     */
    public DstackEvents verify() throws AttestationException {
        List<RuntimeEvent> runtime = new ArrayList<>();
        for (int i = 0; i < entries.size(); i++) {
            EventLogEntry e = entries.get(i);
            if (e.isRuntimeEvent() != (e.imr() == EventLogEntry.RUNTIME_IMR)) {
                String what = e.isRuntimeEvent() ? "runtime event `" + e.event() + "`" : "event of type 0x"
                        + Long.toHexString(e.eventType());
                throw new AttestationException(Reason.EVENT_IMR_MISMATCH, e.event(),
                        e.isRuntimeEvent() ? "imr 3" : "imr 0-2", "imr " + e.imr(), "event_log[" + i + "]: " + what
                        + " on imr " + e.imr() + "; dstack runtime events (type 0x08000001) belong on imr 3 and only"
                        + " they do");
            }
            if (!e.isRuntimeEvent()) {
                continue;
            }
            if (!e.digestAgrees()) {
                throw new AttestationException(Reason.EVENT_DIGEST_MISMATCH, e.event(),
                        Hex.encode(e.effectiveDigestUnsafe()), e.digestHex(), "event_log[" + i + "] `" + e.event()
                        + "`: sent digest " + e.digestHex() + " is not SHA-384 of its name and payload ("
                        + Hex.encode(e.effectiveDigestUnsafe()) + ")");
            }
            runtime.add(new RuntimeEvent(e.event(), e.payloadUnsafe(), e.effectiveDigestUnsafe(), i));
        }
        Map<String, Integer> seen = new HashMap<>();
        boolean ready = false;
        for (RuntimeEvent r : runtime) {
            if (ready && DstackEvents.SYSTEM_EVENTS.contains(r.name())) {
                throw new AttestationException(Reason.EVENT_ORDER_INVALID, r.name(), "before system-ready",
                        "after system-ready", "event_log[" + r.logIndex() + "]: system event `" + r.name()
                        + "` after `system-ready`; only application events can follow it");
            }
            if (DstackEvents.UNIQUE_EVENTS.contains(r.name())) {
                Integer prev = seen.put(r.name(), r.logIndex());
                if (prev != null) {
                    throw new AttestationException(Reason.DUPLICATE_EVENT, r.name(), "1", "2 or more",
                            "event `" + r.name() + "` occurs more than once (event_log[" + prev + "] and event_log["
                            + r.logIndex() + "])");
                }
            }
            if (r.name().equals(DstackEvents.SYSTEM_READY)) {
                ready = true;
            }
        }
        return new DstackEvents(runtime);
    }

    /** The log as a JSON array in dstack's member order (digests and payloads as sent, lowercase hex). */
    public String toJson() {
        ArrayNode a = Json.MAPPER.createArrayNode();
        for (EventLogEntry e : entries) {
            ObjectNode o = a.addObject();
            o.put("imr", e.imr());
            o.put("event_type", e.eventType());
            o.put("digest", e.digestHex());
            o.put("event", e.event());
            o.put("event_payload", e.payloadHex());
        }
        return a.toString();
    }

    @Override
    public String toString() {
        return "EventLog{" + entries.size() + " entries}";
    }
}
