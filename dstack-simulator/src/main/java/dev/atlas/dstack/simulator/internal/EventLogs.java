package dev.atlas.dstack.simulator.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RuntimeEvent;
import dev.atlas.dstack.ra.TdxEvent;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

/** Conversions between the guest agent's event-log JSON and dstack-ra's event records. */
public final class EventLogs {
    static final HexFormat HEX = HexFormat.of();
    static final ObjectMapper JSON = new ObjectMapper();

    private EventLogs() {
    }

    /** Events and the RTMR3 runtime events of an event-log JSON array ({@code imr, event_type, digest, event, event_payload}). */
    public record Parsed(List<TdxEvent> events, List<RuntimeEvent> runtimeEvents) {
    }

    /** Reads the event-log JSON a {@code SimulatedCvm} produces. */
    public static Parsed parse(String json) throws RaException {
        List<TdxEvent> log = new ArrayList<>();
        List<RuntimeEvent> rt = new ArrayList<>();
        JsonNode arr;
        try {
            arr = JSON.readTree(json);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new RaException(RaException.Reason.WRONG_TYPE, "event_log", "not JSON");
        }
        for (JsonNode e : arr) {
            TdxEvent ev = TdxEvent.of(e.get("imr").asLong(), e.get("event_type").asLong(),
                    HEX.parseHex(e.get("digest").asText()), e.get("event").asText(),
                    HEX.parseHex(e.get("event_payload").asText()));
            log.add(ev);
            if (ev.imr() == 3 && ev.isRuntimeEvent()) {
                rt.add(ev.toRuntimeEvent());
            }
        }
        return new Parsed(log, rt);
    }

    /** The event log as the guest agent sends it: a JSON array of TDX events, as compact text. */
    public static String json(List<TdxEvent> events) {
        return array(events).toString();
    }

    /** The event log as a JSON array node. */
    public static ArrayNode array(List<TdxEvent> events) {
        ArrayNode arr = JSON.createArrayNode();
        for (TdxEvent e : events) {
            ObjectNode o = arr.addObject();
            o.put("imr", e.imr());
            o.put("event_type", e.eventType());
            o.put("digest", HEX.formatHex(e.digest()));
            o.put("event", e.event());
            o.put("event_payload", HEX.formatHex(e.payload()));
        }
        return arr;
    }

    /** A TDX quote with its 64 report-data bytes (offset 568) replaced. */
    public static byte[] patchReportData(byte[] quote, byte[] reportData64) throws RaException {
        if (quote.length < 632) {
            throw new RaException(RaException.Reason.BAD_QUOTE, "quote", "shorter than a TD report (" + quote.length
                    + " bytes)");
        }
        byte[] q = quote.clone();
        System.arraycopy(reportData64, 0, q, 568, 64);
        return q;
    }

    /** A 48-byte register of a TDX v4 quote: MRTD (offset 184) or RTMR0-3 (376 + 48 i). */
    public static byte[] register(byte[] quote, int offset) {
        return Arrays.copyOfRange(quote, offset, offset + 48);
    }
}
