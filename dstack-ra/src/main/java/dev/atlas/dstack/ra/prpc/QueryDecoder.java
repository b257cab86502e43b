package dev.atlas.dstack.ra.prpc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Decodes a GET query into a request message the way upstream's {@code serde_qs::from_bytes} (strict mode,
 * depth 5) structures it: {@code a=1&b[c]=2&d[0]=x&d[1]=y&e[]=z}. Without the proto schema the leaves stay
 * strings ({@link StrictJson.QueryText}); {@link PrpcJson}'s typed readers parse them as numbers or bools.
 */
final class QueryDecoder {
    /** serde_qs's default maximum depth of bracket nesting. */
    static final int MAX_DEPTH = 5;
    static final int MAX_PAIRS = 1024;

    private QueryDecoder() {}

    static ObjectNode decode(String rawQuery) throws StrictJson.JsonError {
        ObjectNode root = StrictJson.NODES.objectNode();
        if (rawQuery == null || rawQuery.isEmpty()) {
            return root;
        }
        // Intermediate tree: ObjectNodes whose keys are tagged "k:<name>", "i:<index>" (a[3]) or "a:<n>" (a[]);
        // levels of indexes become arrays at the end.
        int pairs = 0;
        for (String pair : rawQuery.split("&", -1)) {
            if (pair.isEmpty()) {
                continue;
            }
            if (++pairs > MAX_PAIRS) {
                throw new StrictJson.JsonError("query has more than " + MAX_PAIRS + " fields");
            }
            int eq = pair.indexOf('=');
            String rawKey = eq < 0 ? pair : pair.substring(0, eq);
            String rawValue = eq < 0 ? "" : pair.substring(eq + 1);
            String key = percentDecode(rawKey, "query key");
            String value = percentDecode(rawValue, "query field `" + key + "`");
            List<String> segments = segments(rawKey, key);
            insert(root, segments, value, key);
        }
        return (ObjectNode) finish(root, "$");
    }

    /** Splits {@code a[b][0][]} into {@code a, b, #0, []}; brackets must be literal (strict mode). */
    private static List<String> segments(String rawKey, String key) throws StrictJson.JsonError {
        String lower = rawKey.toLowerCase(java.util.Locale.ROOT);
        if (lower.contains("%5b") || lower.contains("%5d")) {
            throw new StrictJson.JsonError("query field `" + key + "`: encoded brackets are not allowed in keys");
        }
        List<String> out = new ArrayList<>();
        int open = key.indexOf('[');
        String head = open < 0 ? key : key.substring(0, open);
        if (head.isEmpty() || head.indexOf(']') >= 0) {
            throw new StrictJson.JsonError("query field `" + key + "`: invalid field name");
        }
        out.add("k:" + head);
        int i = open;
        while (i >= 0 && i < key.length()) {
            if (key.charAt(i) != '[') {
                throw new StrictJson.JsonError("query field `" + key + "`: text after a closing bracket");
            }
            int close = key.indexOf(']', i);
            if (close < 0) {
                throw new StrictJson.JsonError("query field `" + key + "`: unclosed bracket");
            }
            String inner = key.substring(i + 1, close);
            if (inner.indexOf('[') >= 0) {
                throw new StrictJson.JsonError("query field `" + key + "`: nested bracket");
            }
            if (inner.isEmpty()) {
                out.add("a:");
            } else if (isIndex(inner)) {
                out.add("i:" + Integer.parseInt(inner));
            } else {
                out.add("k:" + inner);
            }
            if (out.size() - 1 > MAX_DEPTH) {
                throw new StrictJson.JsonError("query field `" + key + "`: nesting deeper than " + MAX_DEPTH);
            }
            i = close + 1;
        }
        return out;
    }

    private static boolean isIndex(String s) {
        if (s.isEmpty() || s.length() > 6) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                return false;
            }
        }
        return true;
    }

    private static void insert(ObjectNode root, List<String> segs, String value, String key)
            throws StrictJson.JsonError {
        ObjectNode node = root;
        for (int i = 0; i < segs.size(); i++) {
            String s = segs.get(i);
            if (s.equals("a:")) {
                s = "a:" + node.size();
            }
            boolean last = i == segs.size() - 1;
            JsonNode existing = node.get(s);
            if (last) {
                if (existing != null) {
                    throw new StrictJson.JsonError("query field `" + key + "`: multiple values for one key");
                }
                node.set(s, new StrictJson.QueryText(value));
            } else {
                if (existing == null) {
                    ObjectNode child = StrictJson.NODES.objectNode();
                    node.set(s, child);
                    node = child;
                } else if (existing instanceof ObjectNode) {
                    node = (ObjectNode) existing;
                } else {
                    throw new StrictJson.JsonError("query field `" + key + "`: both a value and a nested field");
                }
            }
        }
    }

    /** Turns levels keyed only by indexes or appends into arrays (ordered by index), recursively. */
    private static JsonNode finish(JsonNode n, String path) throws StrictJson.JsonError {
        if (!(n instanceof ObjectNode)) {
            return n;
        }
        ObjectNode o = (ObjectNode) n;
        boolean anyIndexed = false;
        boolean allIndexed = o.size() > 0;
        Iterator<String> names = o.fieldNames();
        while (names.hasNext()) {
            String k = names.next();
            boolean idx = !k.startsWith("k:");
            anyIndexed |= idx;
            allIndexed &= idx;
        }
        if (anyIndexed && !allIndexed) {
            throw new StrictJson.JsonError("query field `" + path + "`: mixes list indexes and field names");
        }
        if (allIndexed && !path.equals("$")) {
            boolean hasNumbered = false;
            boolean hasAppended = false;
            java.util.TreeMap<Integer, JsonNode> byIndex = new java.util.TreeMap<>();
            List<JsonNode> appended = new ArrayList<>();
            for (Map.Entry<String, JsonNode> e : o.properties()) {
                if (e.getKey().startsWith("i:")) {
                    hasNumbered = true;
                    byIndex.put(Integer.parseInt(e.getKey().substring(2)),
                            finish(e.getValue(), path + "[" + e.getKey().substring(2) + "]"));
                } else {
                    hasAppended = true;
                    appended.add(finish(e.getValue(), path + "[]"));
                }
            }
            if (hasNumbered && hasAppended) {
                throw new StrictJson.JsonError("query field `" + path + "`: mixes `[]` and `[n]`");
            }
            ArrayNode a = StrictJson.NODES.arrayNode();
            if (hasNumbered) {
                byIndex.values().forEach(a::add);
            } else {
                appended.forEach(a::add);
            }
            return a;
        }
        if (allIndexed) {
            throw new StrictJson.JsonError("query field `$`: list indexes without a field name");
        }
        ObjectNode out = StrictJson.NODES.objectNode();
        for (Map.Entry<String, JsonNode> e : o.properties()) {
            String name = e.getKey().substring(2);
            String child = path.equals("$") ? name : path + "[" + name + "]";
            out.set(name, finish(e.getValue(), child));
        }
        return out;
    }

    /** application/x-www-form-urlencoded decoding: {@code +} is a space, {@code %XX} a byte; strict UTF-8. */
    static String percentDecode(String s, String what) throws StrictJson.JsonError {
        if (s.indexOf('%') < 0 && s.indexOf('+') < 0) {
            return s;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '+') {
                out.write(' ');
            } else if (c == '%') {
                if (i + 2 >= s.length() || Character.digit(s.charAt(i + 1), 16) < 0
                        || Character.digit(s.charAt(i + 2), 16) < 0) {
                    throw new StrictJson.JsonError(what + ": invalid percent-encoding");
                }
                out.write(Character.digit(s.charAt(i + 1), 16) * 16 + Character.digit(s.charAt(i + 2), 16));
                i += 2;
            } else {
                byte[] b = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
                if (Character.isHighSurrogate(c) && i + 1 < s.length()) {
                    b = s.substring(i, i + 2).getBytes(StandardCharsets.UTF_8);
                    i++;
                }
                out.writeBytes(b);
            }
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(out.toByteArray())).toString();
        } catch (CharacterCodingException e) {
            throw new StrictJson.JsonError(what + ": not valid UTF-8");
        }
    }

    /** Percent-decoding without the {@code +} rule (path segments); null when invalid. */
    static String decodePathSegment(String s) {
        try {
            return percentDecode(s.replace("+", "%2B"), "path");
        } catch (StrictJson.JsonError e) {
            return null;
        }
    }
}
