package dev.atlas.server.internal;

import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.EventLogEntry;
import java.io.IOException;
import java.util.HexFormat;
import java.util.List;

/**
 * Server-side event-log fix-ups.
 *
 * <p>{@link #backfill}: dstack 0.5.6 and later send runtime events with {@code digest: ""}; Atlas clients replay
 * the sent digests and would compute a wrong RTMR3. Like the reference attestation service, the server fills
 * in {@code SHA-384(LE32(0x08000001) ‖ ":" ‖ event ‖ ":" ‖ payload)} for every runtime event whose digest is
 * empty, and re-serializes only when something changed (in Python's {@code json.dumps} style, as the reference
 * does). A log it cannot read is passed on unchanged: the client's verifier is the judge.
 */
public final class EventLogBackfill {
    /** Largest event log the server rewrites. */
    public static final int MAX_CHARS = 8 << 20;
    private static final HexFormat HEX = HexFormat.of();
    private static final ObjectMapper MAPPER = new ObjectMapper()
            .enable(com.fasterxml.jackson.databind.DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);

    static {
        MAPPER.getFactory().setStreamReadConstraints(StreamReadConstraints.builder()
                .maxStringLength(MAX_CHARS).maxNestingDepth(64).build());
    }

    private EventLogBackfill() {}

    /** A runtime event to append: name and raw payload. */
    public record Event(String name, byte[] payload) {
        public Event {
            payload = payload.clone();
        }
    }

    /** The log with empty runtime digests filled in; the input itself when nothing needed filling. */
    public static String backfill(String eventLogJson) {
        if (eventLogJson.length() > MAX_CHARS) {
            return eventLogJson;
        }
        JsonNode root;
        try {
            root = MAPPER.readTree(eventLogJson);
        } catch (IOException | RuntimeException e) { // Jackson reports some number overflows unchecked
            return eventLogJson;
        }
        if (root == null || !root.isArray()) {
            return eventLogJson;
        }
        boolean changed = false;
        for (JsonNode n : root) {
            if (!n.isObject()) {
                continue;
            }
            JsonNode type = n.get("event_type");
            JsonNode digest = n.get("digest");
            JsonNode event = n.get("event");
            JsonNode payload = n.get("event_payload");
            if (type == null || !type.canConvertToLong() || type.asLong() != EventLogEntry.RUNTIME_EVENT_TYPE
                    || digest == null || !digest.isTextual() || !digest.textValue().isEmpty()
                    || event == null || !event.isTextual() || payload == null || !payload.isTextual()) {
                continue;
            }
            byte[] raw;
            try {
                raw = HEX.parseHex(payload.textValue());
            } catch (IllegalArgumentException e) {
                continue;
            }
            ((ObjectNode) n).put("digest", HEX.formatHex(EventLogEntry.runtimeDigest(event.textValue(), raw)));
            changed = true;
        }
        return changed ? PyJson.dumps(root) : eventLogJson;
    }

    /**
     * Appends runtime events (imr 3, type 0x08000001, digest filled in) to a log, for events the server measured
     * itself through the native RTMR interface, which the agent's log does not know about.
     *
     * @throws IOException when the agent's log is not a JSON array
     */
    public static String append(String eventLogJson, List<Event> events) throws IOException {
        if (events.isEmpty()) {
            return eventLogJson;
        }
        JsonNode root;
        try {
            root = MAPPER.readTree(eventLogJson);
        } catch (RuntimeException e) {
            throw new IOException("the guest agent's event log is not valid JSON", e);
        }
        if (root == null || !root.isArray()) {
            throw new IOException("the guest agent's event log is not a JSON array");
        }
        ArrayNode arr = (ArrayNode) root;
        for (Event e : events) {
            ObjectNode o = arr.addObject();
            o.put("imr", EventLogEntry.RUNTIME_IMR);
            o.put("event_type", EventLogEntry.RUNTIME_EVENT_TYPE);
            o.put("digest", HEX.formatHex(EventLogEntry.runtimeDigest(e.name(), e.payload())));
            o.put("event", e.name());
            o.put("event_payload", HEX.formatHex(e.payload()));
        }
        return arr.toString();
    }
}
