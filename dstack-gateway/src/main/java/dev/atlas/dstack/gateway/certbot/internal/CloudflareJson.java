package dev.atlas.dstack.gateway.certbot.internal;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atlas.dstack.gateway.certbot.DnsRecord;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.util.ArrayList;
import java.util.List;

/**
 * The Cloudflare v4 envelopes the certbot reads ({@code {"success", "errors", "result", "result_info"}}): each
 * field of its JSON type, unknown fields ignored (Cloudflare adds many), ids of a safe alphabet (they go into URL
 * paths), text bounded. Failures are DNS_API_FAILED naming the call and the field; the body is never quoted
 * except Cloudflare's own error code and message.
 */
public final class CloudflareJson {
    /** Most entries one page may hold. */
    public static final int MAX_PAGE_ENTRIES = 5000;
    /** Most pages a listing may claim. */
    public static final int MAX_PAGES = 1000;
    private static final int MAX_TEXT = 4096;

    private CloudflareJson() {
    }

    /** A zone. */
    public record Zone(String id, String name) {
    }

    /** One page of a listing. */
    public record Page<T>(List<T> items, int totalPages) {
    }

    /** {@code GET /zones}. */
    public static Page<Zone> zones(byte[] body, String call) throws RaException {
        JsonNode root = envelope(body, call);
        JsonNode result = root.get("result");
        if (result == null || !result.isArray()) {
            throw bad(call, "result", "expected an array, got " + StrictJson.kind(result));
        }
        if (result.size() > MAX_PAGE_ENTRIES) {
            throw bad(call, "result", "more than " + MAX_PAGE_ENTRIES + " entries");
        }
        List<Zone> out = new ArrayList<>();
        for (int i = 0; i < result.size(); i++) {
            JsonNode z = result.get(i);
            String f = "result[" + i + "]";
            if (!z.isObject()) {
                throw bad(call, f, "expected an object, got " + StrictJson.kind(z));
            }
            out.add(new Zone(id(z, f + ".id", call), text(z, "name", f + ".name", call)));
        }
        return new Page<>(out, totalPages(root, call));
    }

    /** {@code GET /zones/{id}/dns_records}. */
    public static Page<DnsRecord> records(byte[] body, String call) throws RaException {
        JsonNode root = envelope(body, call);
        JsonNode result = root.get("result");
        if (result == null || !result.isArray()) {
            throw bad(call, "result", "expected an array, got " + StrictJson.kind(result));
        }
        if (result.size() > MAX_PAGE_ENTRIES) {
            throw bad(call, "result", "more than " + MAX_PAGE_ENTRIES + " entries");
        }
        List<DnsRecord> out = new ArrayList<>();
        for (int i = 0; i < result.size(); i++) {
            JsonNode r = result.get(i);
            String f = "result[" + i + "]";
            if (!r.isObject()) {
                throw bad(call, f, "expected an object, got " + StrictJson.kind(r));
            }
            String id = id(r, f + ".id", call);
            String name = text(r, "name", f + ".name", call);
            String type = text(r, "type", f + ".type", call);
            JsonNode c = r.get("content");
            String content = c == null || c.isNull() ? "" : textValue(c, f + ".content", call);
            if ("CAA".equalsIgnoreCase(type)) {
                out.add(caa(r.get("data"), id, name, content, f, call));
            } else {
                out.add(DnsRecord.of(id, name, type, content));
            }
        }
        return new Page<>(out, totalPages(root, call));
    }

    /** {@code POST /zones/{id}/dns_records} and {@code DELETE}: {@code result.id}. */
    public static String resultId(byte[] body, String call) throws RaException {
        JsonNode root = envelope(body, call);
        JsonNode result = root.get("result");
        if (result == null || !result.isObject()) {
            throw bad(call, "result", "expected an object, got " + StrictJson.kind(result));
        }
        return id(result, "result.id", call);
    }

    /**
     * Cloudflare's error list of a failed call as {@code [code] message; ...} (bounded), or a short note when the
     * body is not a Cloudflare envelope.
     */
    public static String errors(byte[] body) {
        JsonNode root = StrictJson.read(body);
        if (root == null || !root.isObject()) {
            return "a body that is not a Cloudflare JSON envelope (" + body.length + " bytes)";
        }
        JsonNode errs = root.get("errors");
        if (errs == null || !errs.isArray() || errs.isEmpty()) {
            return "no error detail";
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < Math.min(errs.size(), 5); i++) {
            JsonNode e = errs.get(i);
            if (sb.length() > 0) {
                sb.append("; ");
            }
            JsonNode code = e.get("code");
            JsonNode msg = e.get("message");
            sb.append('[').append(code != null && code.isIntegralNumber() ? code.asText() : "?").append("] ")
                    .append(msg != null && msg.isTextual() ? clip(msg.textValue()) : "");
        }
        return sb.toString();
    }

    private static JsonNode envelope(byte[] body, String call) throws RaException {
        JsonNode root = StrictJson.read(body);
        if (root == null) {
            throw bad(call, "body", "is not one JSON document (" + body.length + " bytes)");
        }
        if (!root.isObject()) {
            throw bad(call, "body", "expected a JSON object, got " + StrictJson.kind(root));
        }
        JsonNode success = root.get("success");
        if (success != null && !success.isBoolean()) {
            throw bad(call, "success", "expected a boolean, got " + StrictJson.kind(success));
        }
        if (success != null && !success.booleanValue()) {
            throw new RaException(Reason.DNS_API_FAILED, call, "Cloudflare answered success=false: " + errors(body));
        }
        return root;
    }

    private static int totalPages(JsonNode root, String call) throws RaException {
        JsonNode info = root.get("result_info");
        if (info == null || info.isNull()) {
            return 1;
        }
        if (!info.isObject()) {
            throw bad(call, "result_info", "expected an object, got " + StrictJson.kind(info));
        }
        JsonNode tp = info.get("total_pages");
        if (tp == null || tp.isNull()) {
            return 1;
        }
        if (!tp.isIntegralNumber() || !tp.canConvertToInt() || tp.intValue() < 0 || tp.intValue() > MAX_PAGES) {
            throw bad(call, "result_info.total_pages", "expected an integer 0.." + MAX_PAGES);
        }
        return tp.intValue();
    }

    private static DnsRecord caa(JsonNode data, String id, String name, String content, String f, String call)
            throws RaException {
        if (data != null && data.isObject()) {
            JsonNode flags = data.get("flags");
            if (flags == null || !flags.isIntegralNumber() || flags.intValue() < 0 || flags.intValue() > 255) {
                throw bad(call, f + ".data.flags", "expected an integer 0..255");
            }
            String tag = text(data, "tag", f + ".data.tag", call);
            String value = text(data, "value", f + ".data.value", call);
            return new DnsRecord(id, name, "CAA", content.isEmpty() ? DnsRecord.caa(id, name, flags.intValue(), tag,
                    value).content() : content, flags.intValue(), tag, value);
        }
        // only content: `flags tag "value"` (the form Cloudflare shows)
        String[] parts = content.trim().split("\\s+", 3);
        if (parts.length == 3) {
            try {
                int flags = Integer.parseInt(parts[0]);
                String v = parts[2];
                if (flags >= 0 && flags <= 255 && v.length() >= 2 && v.startsWith("\"") && v.endsWith("\"")) {
                    return new DnsRecord(id, name, "CAA", content, flags, parts[1], v.substring(1, v.length() - 1));
                }
            } catch (NumberFormatException e) {
                // fall through
            }
        }
        throw bad(call, f + ".content", "a CAA record without data and whose content is not 'flags tag \"value\"'");
    }

    private static String id(JsonNode o, String field, String call) throws RaException {
        String leaf = field.substring(field.lastIndexOf('.') + 1);
        String v = text(o, leaf, field, call);
        if (!Ids.valid(v)) {
            throw bad(call, field, "not an id (1..64 of [A-Za-z0-9_-])");
        }
        return v;
    }

    private static String text(JsonNode o, String key, String field, String call) throws RaException {
        return textValue(o.get(key), field, call);
    }

    private static String textValue(JsonNode v, String field, String call) throws RaException {
        if (v == null || !v.isTextual()) {
            throw bad(call, field, "expected a string, got " + StrictJson.kind(v));
        }
        if (v.textValue().length() > MAX_TEXT) {
            throw bad(call, field, "longer than " + MAX_TEXT + " characters");
        }
        return v.textValue();
    }

    private static String clip(String s) {
        String t = s.length() > 200 ? s.substring(0, 200) + "..." : s;
        StringBuilder sb = new StringBuilder();
        t.codePoints().forEach(c -> sb.appendCodePoint(c < 0x20 || c == 0x7f ? '?' : c));
        return sb.toString();
    }

    private static RaException bad(String call, String field, String why) {
        return new RaException(Reason.DNS_API_FAILED, field, "Cloudflare " + call + ": malformed answer: " + why);
    }

    /** Ids that may go into a URL path. */
    public static final class Ids {
        private Ids() {
        }

        public static boolean valid(String v) {
            if (v == null || v.isEmpty() || v.length() > 64) {
                return false;
            }
            for (int i = 0; i < v.length(); i++) {
                char c = v.charAt(i);
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
                        || c == '_')) {
                    return false;
                }
            }
            return true;
        }
    }
}
