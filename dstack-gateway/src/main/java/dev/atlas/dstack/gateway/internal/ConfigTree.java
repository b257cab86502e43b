package dev.atlas.dstack.gateway.internal;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * {@code gateway.toml} as a tree: the shipped defaults with the operator's file laid over them (figment's merge),
 * typed reads that name the dotted key and the file, and a record of what was read so that the rest can be named.
 * Messages never quote a value (tokens and WireGuard keys live in this file).
 */
final class ConfigTree {
    /** Size limit of a config file. */
    static final int MAX_BYTES = 1 << 20;
    private static final TomlMapper TOML = new TomlMapper();

    private final String file;
    private final ObjectNode user;
    private final Set<String> consumed = new HashSet<>();

    private ConfigTree(String file, ObjectNode user) {
        this.file = file;
        this.user = user;
    }

    /** Parses {@code bytes} (strict UTF-8, at most {@link #MAX_BYTES}) and lays it over {@code defaults}. */
    static Node open(byte[] bytes, String file, String defaults) throws RaException {
        ObjectNode user = parse(bytes, file);
        ObjectNode base = parse(defaults.getBytes(StandardCharsets.UTF_8), "shipped defaults");
        ConfigTree t = new ConfigTree(file, user);
        return t.new Node("", overlay(base, user), user);
    }

    static ObjectNode parse(byte[] bytes, String file) throws RaException {
        if (bytes.length > MAX_BYTES) {
            throw new RaException(Reason.CONFIG_INVALID, file, "larger than " + MAX_BYTES + " bytes");
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new RaException(Reason.CONFIG_INVALID, file, "is not UTF-8 text");
        }
        JsonNode root;
        try {
            root = TOML.readTree(text);
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            // the parser's text may quote the line (a secret, perhaps): give the position only
            throw new RaException(Reason.CONFIG_INVALID, file, "is not valid TOML" + (at == null ? ""
                    : " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")"));
        } catch (RuntimeException | StackOverflowError e) {
            throw new RaException(Reason.CONFIG_INVALID, file, "is not valid TOML");
        }
        if (root == null || root.isMissingNode() || root.isNull()) {
            return TOML.createObjectNode();
        }
        if (!root.isObject()) {
            throw new RaException(Reason.CONFIG_INVALID, file, "is not a TOML table");
        }
        return (ObjectNode) root;
    }

    /** Tables merge key by key; any other value of {@code over} replaces the one below. */
    static ObjectNode overlay(ObjectNode base, ObjectNode over) {
        ObjectNode out = base.deepCopy();
        for (Map.Entry<String, JsonNode> e : over.properties()) {
            JsonNode below = out.get(e.getKey());
            if (below instanceof ObjectNode b && e.getValue() instanceof ObjectNode o) {
                out.set(e.getKey(), overlay(b, o));
            } else {
                out.set(e.getKey(), e.getValue().deepCopy());
            }
        }
        return out;
    }

    static String describe(JsonNode v) {
        if (v.isTextual()) {
            return "a string";
        } else if (v.isBoolean()) {
            return "a boolean";
        } else if (v.isIntegralNumber()) {
            return "an integer";
        } else if (v.isNumber()) {
            return "a float";
        } else if (v.isArray()) {
            return "an array";
        } else if (v.isObject()) {
            return "a table";
        }
        return "a " + v.getNodeType().name().toLowerCase(java.util.Locale.ROOT);
    }

    /**
     * dstack's {@code serde_duration} text: a whole number and one of {@code s m h d}, or {@code never}.
     *
     * @throws IllegalArgumentException naming what is wrong, never the value
     */
    static Duration duration(String s) {
        if (s.equals("never")) {
            return Duration.ofSeconds(Long.MAX_VALUE, 999_999_999);
        }
        if (s.isEmpty() || s.length() > 24) {
            throw new IllegalArgumentException("a duration is a whole number followed by s, m, h or d");
        }
        long unit = switch (s.charAt(s.length() - 1)) {
            case 's' -> 1;
            case 'm' -> 60;
            case 'h' -> 3600;
            case 'd' -> 86_400;
            default -> throw new IllegalArgumentException("invalid time unit: use s, m, h or d");
        };
        String n = s.substring(0, s.length() - 1);
        if (n.startsWith("+")) {
            n = n.substring(1);
        }
        if (n.isEmpty() || !n.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new IllegalArgumentException("a duration is a whole number followed by s, m, h or d");
        }
        try {
            return Duration.ofSeconds(Math.multiplyExact(Long.parseLong(n), unit));
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException("duration is too large");
        }
    }

    /** One table of the merged document, with the operator's own table beside it. */
    final class Node {
        private final String path;
        private final ObjectNode merged;
        private final ObjectNode mine;

        Node(String path, ObjectNode merged, ObjectNode mine) {
            this.path = path;
            this.merged = merged;
            this.mine = mine;
        }

        String key(String k) {
            return path.isEmpty() ? k : path + "." + k;
        }

        String file() {
            return file;
        }

        boolean has(String k) {
            return merged.has(k);
        }

        /** Whether the operator's file (not only the shipped defaults) sets {@code k}. */
        boolean userSets(String k) {
            return mine != null && mine.has(k);
        }

        RaException invalid(String k, String why) {
            return new RaException(Reason.CONFIG_INVALID, key(k), why + " (in " + file + ")");
        }

        RaException unsupported(String k, String why) {
            return new RaException(Reason.CONFIG_UNSUPPORTED, key(k), why + " (in " + file + ")");
        }

        private JsonNode take(String k) {
            consumed.add(key(k));
            return merged.get(k);
        }

        void skip(String k) {
            consumed.add(key(k));
        }

        Node table(String k) throws RaException {
            JsonNode v = take(k);
            JsonNode u = mine == null ? null : mine.get(k);
            if (v == null) {
                return new Node(key(k), TOML.createObjectNode(), null);
            }
            if (!(v instanceof ObjectNode o)) {
                throw invalid(k, "expected a table, got " + describe(v));
            }
            return new Node(key(k), o, u instanceof ObjectNode uo ? uo : null);
        }

        Optional<String> optString(String k) throws RaException {
            JsonNode v = take(k);
            if (v == null) {
                return Optional.empty();
            }
            if (!v.isTextual()) {
                throw invalid(k, "expected a string, got " + describe(v));
            }
            return Optional.of(v.textValue());
        }

        String string(String k) throws RaException {
            return optString(k).orElseThrow(() -> invalid(k, "missing"));
        }

        boolean bool(String k) throws RaException {
            return optBool(k).orElseThrow(() -> invalid(k, "missing"));
        }

        Optional<Boolean> optBool(String k) throws RaException {
            JsonNode v = take(k);
            if (v == null) {
                return Optional.empty();
            }
            if (!v.isBoolean()) {
                throw invalid(k, "expected a boolean, got " + describe(v));
            }
            return Optional.of(v.booleanValue());
        }

        long integer(String k, long min, long max) throws RaException {
            return optInteger(k, min, max).orElseThrow(() -> invalid(k, "missing"));
        }

        Optional<Long> optInteger(String k, long min, long max) throws RaException {
            JsonNode v = take(k);
            if (v == null) {
                return Optional.empty();
            }
            if (!v.isIntegralNumber()) {
                throw invalid(k, "expected an integer, got " + describe(v));
            }
            if (!v.canConvertToLong() || v.longValue() < min || v.longValue() > max) {
                throw invalid(k, "must be " + min + ".." + max);
            }
            return Optional.of(v.longValue());
        }

        Duration duration(String k) throws RaException {
            String s = string(k);
            try {
                return ConfigTree.duration(s);
            } catch (IllegalArgumentException e) {
                throw invalid(k, e.getMessage());
            }
        }

        /** An array of strings. */
        List<String> strings(String k) throws RaException {
            JsonNode v = take(k);
            if (v == null) {
                return List.of();
            }
            if (!v.isArray()) {
                throw invalid(k, "expected an array, got " + describe(v));
            }
            if (v.size() > 4096) {
                throw invalid(k, "more than 4096 entries");
            }
            List<String> out = new ArrayList<>();
            for (int i = 0; i < v.size(); i++) {
                JsonNode e = v.get(i);
                if (!e.isTextual()) {
                    throw invalid(k + "[" + i + "]", "expected a string, got " + describe(e));
                }
                out.add(e.textValue());
            }
            return out;
        }

        /** The raw value (for keys with two accepted types). */
        Optional<JsonNode> raw(String k) {
            return Optional.ofNullable(take(k));
        }

        /** Keys of this table not read. */
        List<String> unread() {
            List<String> out = new ArrayList<>();
            for (String k : names()) {
                if (!consumed.contains(key(k))) {
                    out.add(k);
                }
            }
            return out;
        }

        private List<String> names() {
            List<String> out = new ArrayList<>();
            merged.fieldNames().forEachRemaining(out::add);
            return out;
        }
    }
}
