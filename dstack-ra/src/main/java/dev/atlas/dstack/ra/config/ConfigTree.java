package dev.atlas.dstack.ra.config;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * A dstack server's config file ({@code kms.toml}, {@code gateway.toml}, {@code vmm.toml}) as a tree a server has
 * parsed (with jackson-dataformat-toml; parsing stays in the server): typed reads by key, or by dotted key, that
 * name the dotted key and the file in every refusal, the shipped defaults laid under the operator's file (figment's
 * merge), dstack's duration ({@code "5s"}, {@code "10m"}, {@code "never"}) and size ({@code "4M"}) strings, and a
 * record of what was read so that what was not can be named as unknown.
 *
 * <p>Refusals are {@link RaException}s: {@code CONFIG_INVALID} (or {@code CONFIG_UNSUPPORTED} via
 * {@link Table#unsupported}) whose field is the dotted key and whose message ends with {@code (in <file>)}. Messages
 * never quote a value (tokens and private keys live in these files). Not thread-safe: one reader at a time.
 */
public final class ConfigTree {
    /** Size limit of a config file. */
    public static final int MAX_BYTES = 1 << 20;
    /** Most entries an array of strings may have. */
    public static final int MAX_ARRAY = 4096;

    private final String source;
    /** Dotted keys read as values (or accepted whole). */
    private final Set<String> read = new HashSet<>();
    /** Dotted keys opened as tables (their own keys are accounted for one by one). */
    private final Set<String> opened = new HashSet<>();
    private final Table root;

    private ConfigTree(String source, ObjectNode merged, ObjectNode user) {
        this.source = Objects.requireNonNull(source, "source");
        this.root = new Table("", merged, user);
    }

    /** A document without defaults. */
    public static ConfigTree of(ObjectNode document, String source) {
        return new ConfigTree(source, Objects.requireNonNull(document, "document"), document);
    }

    /** The operator's {@code user} document laid over the shipped {@code defaults} ({@link #overlay}). */
    public static ConfigTree overlaid(ObjectNode defaults, ObjectNode user, String source) {
        return new ConfigTree(source, overlay(defaults, user), user);
    }

    /** The file name used in messages. */
    public String source() {
        return source;
    }

    /** The root table. */
    public Table root() {
        return root;
    }

    /**
     * Every dotted key of the document that no read touched, in document order; a table that was opened or has a
     * read key under it is looked into, an untouched empty table says nothing.
     */
    public List<String> unknownKeys() {
        List<String> out = new ArrayList<>();
        collect(root.merged, "", out);
        return out;
    }

    private void collect(JsonNode n, String prefix, List<String> out) {
        Iterator<Map.Entry<String, JsonNode>> it = n.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            String key = prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey();
            if (read.contains(key)) {
                continue;
            }
            if (e.getValue().isObject() && (opened.contains(key) || anyUnder(key))) {
                collect(e.getValue(), key, out);
            } else if (!(e.getValue().isObject() && e.getValue().isEmpty())) {
                out.add(key);
            }
        }
    }

    private boolean anyUnder(String key) {
        String p = key + ".";
        for (String r : read) {
            if (r.startsWith(p)) {
                return true;
            }
        }
        for (String r : opened) {
            if (r.startsWith(p)) {
                return true;
            }
        }
        return false;
    }

    // ---- parsing helpers for the servers (the TOML parser itself stays with them) ----

    /**
     * The text of a config file: at most {@link #MAX_BYTES} bytes of strict UTF-8.
     *
     * @throws RaException CONFIG_INVALID naming {@code source}
     */
    public static String text(byte[] bytes, String source) throws RaException {
        if (bytes.length > MAX_BYTES) {
            throw new RaException(Reason.CONFIG_INVALID, source, "larger than " + MAX_BYTES + " bytes");
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new RaException(Reason.CONFIG_INVALID, source, "is not UTF-8 text");
        }
    }

    /**
     * The bytes of a config file in one bounded read of at most {@link #MAX_BYTES} + 1 bytes, so that
     * {@link #text} refuses a larger file by name (no size check that the file could outgrow before the read).
     *
     * @throws RaException CONFIG_FILE_UNREADABLE naming the file and the I/O error's type
     */
    public static byte[] readFile(Path file) throws RaException {
        try (InputStream in = Files.newInputStream(file)) {
            return in.readNBytes(MAX_BYTES + 1);
        } catch (IOException | InvalidPathException e) {
            throw new RaException(Reason.CONFIG_FILE_UNREADABLE, file.toString(), "cannot be read ("
                    + e.getClass().getSimpleName() + ")");
        }
    }

    /**
     * Parses a config document with the caller's TOML mapper (dstack-ra itself has no TOML dependency) and
     * returns its root table ({@link #requireTable}). A rejected document is {@link #notToml} with the position
     * only; any other parser failure, a stack overflow on deep nesting included, is {@code notToml} without one.
     */
    public static ObjectNode parseToml(String text, ObjectMapper toml, String source) throws RaException {
        JsonNode root;
        try {
            root = toml.readTree(text);
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            // the parser's own message may quote the text near the error, which may be a secret: say where only
            throw at == null ? notToml(source, 0, 0) : notToml(source, at.getLineNr(), at.getColumnNr());
        } catch (RuntimeException | StackOverflowError e) {
            throw notToml(source, 0, 0);
        }
        return requireTable(root, source);
    }

    /**
     * The refusal of a document the parser rejected; only the position is given (the parser's own text may quote
     * a secret). {@code line} below 1 means unknown.
     */
    public static RaException notToml(String source, int line, int column) {
        return new RaException(Reason.CONFIG_INVALID, source, "is not valid TOML"
                + (line > 0 ? " (line " + line + ", column " + column + ")" : ""));
    }

    /** The parsed root as a table: null or missing is an empty table, anything else but a table is refused. */
    public static ObjectNode requireTable(JsonNode parsed, String source) throws RaException {
        if (parsed == null || parsed.isMissingNode() || parsed.isNull()) {
            return JsonNodeFactory.instance.objectNode();
        }
        if (!parsed.isObject()) {
            throw new RaException(Reason.CONFIG_INVALID, source, "is not a TOML table");
        }
        return (ObjectNode) parsed;
    }

    /** Deep merge, figment style: tables merge key by key, any other value of {@code over} replaces the one below. */
    public static ObjectNode overlay(ObjectNode base, ObjectNode over) {
        ObjectNode out = base.deepCopy();
        Iterator<Map.Entry<String, JsonNode>> it = over.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode below = out.get(e.getKey());
            if (below instanceof ObjectNode b && e.getValue() instanceof ObjectNode o) {
                out.set(e.getKey(), overlay(b, o));
            } else {
                out.set(e.getKey(), e.getValue().deepCopy());
            }
        }
        return out;
    }

    /** What kind of TOML value {@code v} is, for messages ({@code "a string"}, {@code "a table"}, ...). */
    public static String kind(JsonNode v) {
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
        return "a " + v.getNodeType().name().toLowerCase(Locale.ROOT);
    }

    /**
     * dstack's {@code serde-duration} grammar: a decimal {@code u64} (an optional leading {@code +}) and one unit
     * {@code s}, {@code m}, {@code h} or {@code d}; {@code never} is the longest duration. Overflow is an error.
     *
     * @throws IllegalArgumentException naming what is wrong, never the value
     */
    public static Duration parseDuration(String s) {
        Objects.requireNonNull(s, "duration");
        if (s.isEmpty()) {
            throw new IllegalArgumentException("a duration cannot be empty");
        }
        if (s.equals("never")) {
            return Duration.ofSeconds(Long.MAX_VALUE, 999_999_999);
        }
        if (s.length() > 32) {
            throw new IllegalArgumentException("duration too long");
        }
        int last = s.offsetByCodePoints(s.length(), -1);
        long unit;
        switch (s.substring(last)) {
            case "s" -> unit = 1;
            case "m" -> unit = 60;
            case "h" -> unit = 3600;
            case "d" -> unit = 86_400;
            default -> throw new IllegalArgumentException("invalid time unit: use s, m, h or d");
        }
        String n = s.substring(0, last);
        if (n.startsWith("+")) {
            n = n.substring(1);
        }
        if (n.isEmpty() || n.chars().anyMatch(c -> c < '0' || c > '9')) {
            throw new IllegalArgumentException("a duration is a whole number followed by s, m, h or d");
        }
        try {
            return Duration.ofSeconds(Math.multiplyExact(Long.parseLong(n), unit));
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException("duration is too large");
        }
    }

    /**
     * dstack's size string: a decimal number with an optional {@code K}, {@code M}, {@code G} or {@code T} suffix
     * (1024-based, either case), or {@code 0x} hexadecimal. Overflow and negatives are errors.
     *
     * @throws IllegalArgumentException naming what is wrong, never the value
     */
    public static long parseSize(String text) {
        String s = text.trim();
        try {
            if (s.startsWith("0x") || s.startsWith("0X")) {
                long v = Long.parseUnsignedLong(s.substring(2), 16);
                if (v < 0) {
                    throw new NumberFormatException();
                }
                return v;
            }
            long mult = 1;
            if (!s.isEmpty()) {
                int shift;
                switch (Character.toUpperCase(s.charAt(s.length() - 1))) {
                    case 'K' -> shift = 10;
                    case 'M' -> shift = 20;
                    case 'G' -> shift = 30;
                    case 'T' -> shift = 40;
                    default -> shift = 0;
                }
                if (shift > 0) {
                    mult = 1L << shift;
                    s = s.substring(0, s.length() - 1).trim();
                }
            }
            if (s.isEmpty() || s.chars().anyMatch(c -> c < '0' || c > '9')) {
                throw new NumberFormatException();
            }
            return Math.multiplyExact(Long.parseLong(s), mult);
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException("is not a size (a number with an optional K, M, G or T suffix)");
        }
    }

    /**
     * One table of the (merged) document, with the operator's own table beside it. Keys may be dotted
     * ({@code "cvm.qemu_path"}): they are looked up from this table, and a non-table on the way is refused.
     */
    public final class Table {
        private final String path;
        private final ObjectNode merged;
        private final ObjectNode mine;

        Table(String path, ObjectNode merged, ObjectNode mine) {
            this.path = path;
            this.merged = merged;
            this.mine = mine;
        }

        /** The dotted key of {@code k} in this table. */
        public String key(String k) {
            return path.isEmpty() ? k : path + "." + k;
        }

        /** The file name used in messages. */
        public String source() {
            return source;
        }

        /** The tree this table belongs to. */
        public ConfigTree tree() {
            return ConfigTree.this;
        }

        public RaException invalid(String k, String why) {
            return new RaException(Reason.CONFIG_INVALID, key(k), why + " (in " + source + ")");
        }

        public RaException unsupported(String k, String why) {
            return new RaException(Reason.CONFIG_UNSUPPORTED, key(k), why + " (in " + source + ")");
        }

        /** Whether {@code k} is set (by the file or the defaults); does not count as a read. */
        public boolean has(String k) {
            return peek(merged, k) != null;
        }

        /** Whether the operator's file (not only the shipped defaults) sets {@code k}. */
        public boolean userSets(String k) {
            return mine != null && peek(mine, k) != null;
        }

        private static JsonNode peek(JsonNode from, String dotted) {
            JsonNode n = from;
            for (String p : dotted.split("\\.", -1)) {
                if (n == null || !n.isObject()) {
                    return null;
                }
                n = n.get(p);
            }
            return n;
        }

        /** The value at {@code k}, or null; marks it read. */
        public JsonNode get(String k) throws RaException {
            JsonNode n = walk(k);
            read.add(key(k));
            return n;
        }

        private JsonNode walk(String k) throws RaException {
            String[] parts = k.split("\\.", -1);
            JsonNode n = merged;
            StringBuilder at = new StringBuilder();
            for (int i = 0; i < parts.length; i++) {
                if (i > 0) {
                    if (!n.isObject()) {
                        throw invalid(at.toString(), "expected a table, got " + kind(n));
                    }
                    at.append('.');
                }
                at.append(parts[i]);
                n = n.get(parts[i]);
                if (n == null) {
                    return null;
                }
            }
            return n;
        }

        /** Marks {@code k} (a value or a whole table) read without a typed read: accepted as is and not used. */
        public void accept(String k) {
            read.add(key(k));
        }

        /** The raw value (for keys with two accepted types). */
        public Optional<JsonNode> raw(String k) throws RaException {
            return Optional.ofNullable(get(k));
        }

        /** A sub-table, whose keys are then accounted for one by one; an absent one reads as empty. */
        public Table table(String k) throws RaException {
            JsonNode v = walk(k);
            opened.add(key(k));
            if (v == null) {
                return new Table(key(k), JsonNodeFactory.instance.objectNode(), null);
            }
            if (!(v instanceof ObjectNode o)) {
                throw invalid(k, "expected a table, got " + kind(v));
            }
            JsonNode u = mine == null ? null : peek(mine, k);
            return new Table(key(k), o, u instanceof ObjectNode uo ? uo : null);
        }

        public Optional<String> optString(String k) throws RaException {
            JsonNode v = get(k);
            if (v == null) {
                return Optional.empty();
            }
            if (!v.isTextual()) {
                throw invalid(k, "expected a string, got " + kind(v));
            }
            return Optional.of(v.textValue());
        }

        public String string(String k) throws RaException {
            return optString(k).orElseThrow(() -> invalid(k, "missing"));
        }

        public String string(String k, String dflt) throws RaException {
            return optString(k).orElse(dflt);
        }

        public Optional<Boolean> optBool(String k) throws RaException {
            JsonNode v = get(k);
            if (v == null) {
                return Optional.empty();
            }
            if (!v.isBoolean()) {
                throw invalid(k, "expected a boolean, got " + kind(v));
            }
            return Optional.of(v.booleanValue());
        }

        public boolean bool(String k) throws RaException {
            return optBool(k).orElseThrow(() -> invalid(k, "missing"));
        }

        public boolean bool(String k, boolean dflt) throws RaException {
            return optBool(k).orElse(dflt);
        }

        public Optional<Long> optInteger(String k, long min, long max) throws RaException {
            JsonNode v = get(k);
            return v == null ? Optional.empty() : Optional.of(integerValue(k, v, min, max));
        }

        public long integer(String k, long min, long max) throws RaException {
            return optInteger(k, min, max).orElseThrow(() -> invalid(k, "missing"));
        }

        public long integer(String k, long dflt, long min, long max) throws RaException {
            return optInteger(k, min, max).orElse(dflt);
        }

        /** {@code v} (the value of {@code k}, or an element of it) as an integer in {@code min..max}. */
        public long integerValue(String k, JsonNode v, long min, long max) throws RaException {
            if (!v.isIntegralNumber()) {
                throw invalid(k, "expected an integer, got " + kind(v));
            }
            if (!v.canConvertToLong() || v.longValue() < min || v.longValue() > max) {
                throw invalid(k, "must be " + min + ".." + max);
            }
            return v.longValue();
        }

        /** A TCP/UDP port (0..65535); {@code dflt} null makes it required. */
        public int port(String k, Integer dflt) throws RaException {
            JsonNode v = get(k);
            if (v == null) {
                if (dflt == null) {
                    throw invalid(k, "missing");
                }
                return dflt;
            }
            if (!v.isIntegralNumber()) {
                throw invalid(k, "expected an integer port, got " + kind(v));
            }
            if (!v.canConvertToInt() || v.intValue() < 0 || v.intValue() > 65535) {
                throw invalid(k, "a port is 0..65535");
            }
            return v.intValue();
        }

        /** A duration in dstack's {@code serde-duration} text ({@link #parseDuration}); required. */
        public Duration duration(String k) throws RaException {
            return duration(k, null);
        }

        /** A duration in dstack's {@code serde-duration} text; {@code dflt} null makes it required. */
        public Duration duration(String k, Duration dflt) throws RaException {
            Optional<String> s = optString(k);
            if (s.isEmpty()) {
                if (dflt == null) {
                    throw invalid(k, "missing");
                }
                return dflt;
            }
            try {
                return parseDuration(s.get());
            } catch (IllegalArgumentException e) {
                throw invalid(k, e.getMessage());
            }
        }

        /** A size: an integer of bytes or dstack's size string ({@link #parseSize}). */
        public long size(String k, long dflt) throws RaException {
            JsonNode v = get(k);
            if (v == null) {
                return dflt;
            }
            if (v.isIntegralNumber()) {
                return integerValue(k, v, 0, Long.MAX_VALUE);
            }
            if (!v.isTextual()) {
                throw invalid(k, "expected a size (integer or \"4M\"), got " + kind(v));
            }
            try {
                return parseSize(v.textValue());
            } catch (IllegalArgumentException e) {
                throw invalid(k, e.getMessage());
            }
        }

        /** An array of strings (at most {@link #MAX_ARRAY}); absent reads as empty. */
        public List<String> strings(String k) throws RaException {
            return strings(k, List.of());
        }

        /** An array of strings (at most {@link #MAX_ARRAY}), or {@code dflt} when absent. */
        public List<String> strings(String k, List<String> dflt) throws RaException {
            JsonNode v = get(k);
            if (v == null) {
                return dflt;
            }
            if (!v.isArray()) {
                throw invalid(k, "expected an array of strings, got " + kind(v));
            }
            if (v.size() > MAX_ARRAY) {
                throw invalid(k, "more than " + MAX_ARRAY + " entries");
            }
            List<String> out = new ArrayList<>();
            for (int i = 0; i < v.size(); i++) {
                JsonNode e = v.get(i);
                if (!e.isTextual()) {
                    throw invalid(k + "[" + i + "]", "expected a string, got " + kind(e));
                }
                out.add(e.textValue());
            }
            return out;
        }

        /** Keys of this table (not dotted) that no read, table or accept touched, in document order. */
        public List<String> unread() {
            List<String> out = new ArrayList<>();
            merged.fieldNames().forEachRemaining(k -> {
                String full = key(k);
                if (!read.contains(full) && !opened.contains(full) && !anyUnder(full)) {
                    out.add(k);
                }
            });
            return out;
        }

        /** Every dotted key of the whole document not touched ({@link ConfigTree#unknownKeys()}). */
        public List<String> unknownKeys() {
            return ConfigTree.this.unknownKeys();
        }
    }
}
