package dev.atlas.dstack.ra.internal;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.TdxEvent;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * The JSON event log of dstack's legacy forms (the RA-TLS {@code .2} extension and a version 1 CSR's
 * {@code event_log}): a JSON array of {@code TdxEvent} objects ({@code cc-eventlog/src/tdx.rs}: {@code imr},
 * {@code event_type}, {@code digest} hex (may be absent), {@code event}, {@code event_payload} hex, optional
 * {@code version} 1 and {@code preimage}). Strict: unknown fields, duplicate fields, wrong types, bad hex and
 * V2 events are rejected with the field named.
 */
public final class TdxEventLogJson {
    private static final ObjectMapper MAPPER = new ObjectMapper(JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(8).build()).build())
            .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    private static final Set<String> FIELDS = Set.of("imr", "event_type", "digest", "event", "event_payload",
            "version", "preimage");

    private TdxEventLogJson() {}

    /** Parses {@code json} (UTF-8 bytes, at most {@code maxBytes}) into events; {@code field} names the input. */
    public static List<TdxEvent> parse(byte[] json, int maxBytes, String field) throws RaException {
        if (json.length > maxBytes) {
            throw new RaException(Reason.TOO_LARGE, field, json.length + " bytes > " + maxBytes);
        }
        JsonNode root;
        try {
            root = MAPPER.readTree(new String(json, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new RaException(Reason.WRONG_TYPE, field, "not JSON");
        }
        if (root == null || !root.isArray()) {
            throw new RaException(Reason.WRONG_TYPE, field, "must be a JSON array of events");
        }
        if (root.size() > 4096) {
            throw new RaException(Reason.LIMIT_EXCEEDED, field, root.size() + " events > 4096");
        }
        List<TdxEvent> out = new ArrayList<>(root.size());
        for (int i = 0; i < root.size(); i++) {
            out.add(event(root.get(i), field + "[" + i + "]"));
        }
        return out;
    }

    private static TdxEvent event(JsonNode e, String f) throws RaException {
        if (!e.isObject()) {
            throw new RaException(Reason.WRONG_TYPE, f, "must be an object");
        }
        Set<String> seen = new HashSet<>();
        for (Iterator<String> it = e.fieldNames(); it.hasNext();) {
            String name = it.next();
            if (!FIELDS.contains(name)) {
                throw new RaException(Reason.UNKNOWN_FIELD, f + "." + name, "not a TdxEvent field");
            }
            seen.add(name);
        }
        long imr = u32(e, "imr", f);
        long type = u32(e, "event_type", f);
        byte[] digest = e.has("digest") ? hex(e.get("digest"), f + ".digest") : new byte[0];
        String name = text(e, "event", f);
        byte[] payload = hex(required(e, "event_payload", f), f + ".event_payload");
        if (e.has("version") && !(e.get("version").isIntegralNumber() && e.get("version").asLong() == 1
                && e.get("version").canConvertToLong())) {
            throw new RaException(Reason.UNKNOWN_VERSION, f + ".version", "only V1 events are read here");
        }
        String preimage = null;
        if (e.has("preimage") && !e.get("preimage").isNull()) {
            if (!e.get("preimage").isTextual()) {
                throw new RaException(Reason.WRONG_TYPE, f + ".preimage", "must be a string");
            }
            throw new RaException(Reason.UNKNOWN_VERSION, f + ".preimage", "pre-images belong to V2 events");
        }
        return new TdxEvent(imr, type, digest, name, payload, 1, preimage);
    }

    private static JsonNode required(JsonNode e, String name, String f) throws RaException {
        JsonNode v = e.get(name);
        if (v == null) {
            throw new RaException(Reason.MISSING_FIELD, f + "." + name, "missing");
        }
        return v;
    }

    private static long u32(JsonNode e, String name, String f) throws RaException {
        JsonNode v = required(e, name, f);
        if (!v.isIntegralNumber() || !v.canConvertToLong() || v.asLong() < 0 || v.asLong() > 0xffffffffL) {
            throw new RaException(Reason.WRONG_TYPE, f + "." + name, "must be a u32");
        }
        return v.asLong();
    }

    private static String text(JsonNode e, String name, String f) throws RaException {
        JsonNode v = required(e, name, f);
        if (!v.isTextual()) {
            throw new RaException(Reason.WRONG_TYPE, f + "." + name, "must be a string");
        }
        return v.textValue();
    }

    private static byte[] hex(JsonNode v, String f) throws RaException {
        if (!v.isTextual()) {
            throw new RaException(Reason.WRONG_TYPE, f, "must be a hex string");
        }
        String s = v.textValue();
        if (s.length() % 2 != 0) {
            throw new RaException(Reason.WRONG_TYPE, f, "odd-length hex");
        }
        try {
            return Bytes.HEX.parseHex(s);
        } catch (IllegalArgumentException ex) {
            throw new RaException(Reason.WRONG_TYPE, f, "not hex");
        }
    }

    /** dstack's {@code Attestation::from_tdx_quote}: runtime events are the log's runtime-event entries. */
    public static List<dev.atlas.dstack.ra.RuntimeEvent> runtimeEvents(List<TdxEvent> log) {
        List<dev.atlas.dstack.ra.RuntimeEvent> out = new ArrayList<>();
        for (TdxEvent e : log) {
            if (e.isRuntimeEvent()) {
                out.add(e.toRuntimeEvent());
            }
        }
        return out;
    }
}
