package dev.atlas.dstack.kms.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * A TOML document read as a tree, with typed reads that name the dotted key and the file in every error and keep
 * track of which keys were read (so the rest can be named as unknown). Used for {@code kms.toml}.
 *
 * <p>Errors: {@code CONFIG_INVALID} with the dotted key as the field; messages never quote a value (a value may be
 * a secret such as {@code core.admin.auth_token}).
 */
public final class TomlTree {
    /** Size limit of a config file. */
    public static final int MAX_BYTES = 1 << 20;
    private static final TomlMapper MAPPER = new TomlMapper();

    private final String source;

    private TomlTree(String source) {
        this.source = source;
    }

    /** The file name used in messages. */
    public String source() {
        return source;
    }

    /** Parses a whole document (strict UTF-8, at most {@link #MAX_BYTES}). */
    public static ObjectNode parse(byte[] bytes, String source) throws RaException {
        if (bytes.length > MAX_BYTES) {
            throw new RaException(Reason.CONFIG_INVALID, source, "larger than " + MAX_BYTES + " bytes");
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new RaException(Reason.CONFIG_INVALID, source, "is not UTF-8 text");
        }
        JsonNode n;
        try {
            n = MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            JsonLocation l = e.getLocation();
            // the parser's own message may quote the text near the error, which may be a secret: say where only
            throw new RaException(Reason.CONFIG_INVALID, source, "is not valid TOML"
                    + (l != null ? " (line " + l.getLineNr() + ", column " + l.getColumnNr() + ")" : ""));
        } catch (RuntimeException e) {
            throw new RaException(Reason.CONFIG_INVALID, source, "is not valid TOML");
        }
        if (n == null || n.isMissingNode()) {
            return MAPPER.createObjectNode();
        }
        if (!n.isObject()) {
            throw new RaException(Reason.CONFIG_INVALID, source, "is not a TOML table");
        }
        return (ObjectNode) n;
    }

    /** Deep merge, figment style: tables merge key by key, anything else in {@code over} replaces. */
    public static ObjectNode merge(ObjectNode base, ObjectNode over) {
        ObjectNode out = base.deepCopy();
        Iterator<Map.Entry<String, JsonNode>> it = over.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode old = out.get(e.getKey());
            if (old != null && old.isObject() && e.getValue().isObject()) {
                out.set(e.getKey(), merge((ObjectNode) old, (ObjectNode) e.getValue()));
            } else {
                out.set(e.getKey(), e.getValue().deepCopy());
            }
        }
        return out;
    }

    /** The root table of a merged document. */
    public static Table root(ObjectNode node, String source) {
        return new TomlTree(source).new Table("", node);
    }

    /** One table; reads record the keys they consumed. */
    public final class Table {
        private final String path;
        private final ObjectNode node;
        private final Set<String> read = new LinkedHashSet<>();

        Table(String path, ObjectNode node) {
            this.path = path;
            this.node = node;
        }

        /** The dotted key of {@code key} in this table. */
        public String key(String key) {
            return path.isEmpty() ? key : path + "." + key;
        }

        public boolean has(String key) {
            return node.has(key);
        }

        private JsonNode get(String key) {
            read.add(key);
            return node.get(key);
        }

        public RaException invalid(String key, String message) {
            return new RaException(Reason.CONFIG_INVALID, key(key), message + " (in " + source + ")");
        }

        public RaException unsupported(String key, String message) {
            return new RaException(Reason.CONFIG_UNSUPPORTED, key(key), message + " (in " + source + ")");
        }

        /** A sub-table; an absent one reads as empty. */
        public Table table(String key) throws RaException {
            JsonNode v = get(key);
            if (v == null) {
                return new Table(key(key), MAPPER.createObjectNode());
            }
            if (!v.isObject()) {
                throw invalid(key, "expected a table, got " + kind(v));
            }
            return new Table(key(key), (ObjectNode) v);
        }

        public Optional<String> optString(String key) throws RaException {
            JsonNode v = get(key);
            if (v == null) {
                return Optional.empty();
            }
            if (!v.isTextual()) {
                throw invalid(key, "expected a string, got " + kind(v));
            }
            return Optional.of(v.textValue());
        }

        public String string(String key) throws RaException {
            return optString(key).orElseThrow(() -> invalid(key, "missing"));
        }

        public String string(String key, String dflt) throws RaException {
            return optString(key).orElse(dflt);
        }

        public boolean bool(String key, Boolean dflt) throws RaException {
            JsonNode v = get(key);
            if (v == null) {
                if (dflt == null) {
                    throw invalid(key, "missing");
                }
                return dflt;
            }
            if (!v.isBoolean()) {
                throw invalid(key, "expected a boolean, got " + kind(v));
            }
            return v.booleanValue();
        }

        public int port(String key, Integer dflt) throws RaException {
            JsonNode v = get(key);
            if (v == null) {
                if (dflt == null) {
                    throw invalid(key, "missing");
                }
                return dflt;
            }
            if (!v.isIntegralNumber()) {
                throw invalid(key, "expected an integer port, got " + kind(v));
            }
            if (!v.canConvertToInt() || v.intValue() < 0 || v.intValue() > 65535) {
                throw invalid(key, "a port is 0..65535");
            }
            return v.intValue();
        }

        /** Rocket's {@code address}: an IP literal (no host names). */
        public InetAddress ip(String key, String dflt) throws RaException {
            String s = string(key, dflt);
            try {
                if (s.isEmpty() || s.length() > 64 || s.chars().anyMatch(c -> !(Character.isLetterOrDigit(c)
                        || c == '.' || c == ':' || c == '%'))) {
                    throw new IllegalArgumentException();
                }
                return InetAddress.ofLiteral(s);
            } catch (IllegalArgumentException e) {
                throw invalid(key, "expected an IPv4 or IPv6 address literal");
            }
        }

        public InetSocketAddress socketAddress(String addressKey, String portKey, String dfltAddress, int dfltPort)
                throws RaException {
            return new InetSocketAddress(ip(addressKey, dfltAddress), port(portKey, dfltPort));
        }

        /** A duration as dstack's {@code serde-duration}: {@code <u64><s|m|h|d>} or {@code never}. */
        public Duration duration(String key, Duration dflt) throws RaException {
            Optional<String> s = optString(key);
            if (s.isEmpty()) {
                if (dflt == null) {
                    throw invalid(key, "missing");
                }
                return dflt;
            }
            try {
                return parseDuration(s.get());
            } catch (IllegalArgumentException e) {
                throw invalid(key, e.getMessage());
            }
        }

        /** Keys present but not read so far. */
        public List<String> unread() {
            List<String> out = new ArrayList<>();
            node.fieldNames().forEachRemaining(k -> {
                if (!read.contains(k)) {
                    out.add(k);
                }
            });
            return out;
        }

        /** Marks {@code key} as read without a typed read. */
        public void consume(String key) {
            read.add(key);
        }

        public String source() {
            return source;
        }
    }

    /**
     * dstack's {@code serde-duration} grammar: a decimal {@code u64} (Rust's parser also takes a leading {@code +})
     * and one unit {@code s}, {@code m}, {@code h} or {@code d}; {@code never} is the longest duration. An
     * overflowing value is an error, never a wrap.
     *
     * @throws IllegalArgumentException with a message naming what is wrong (never the value)
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
        String value = s.substring(0, last);
        String unit = s.substring(last);
        long mult = switch (unit) {
            case "s" -> 1;
            case "m" -> 60;
            case "h" -> 3600;
            case "d" -> 86400;
            default -> throw new IllegalArgumentException("invalid time unit: use s, m, h or d");
        };
        String digits = value.startsWith("+") ? value.substring(1) : value;
        if (digits.isEmpty() || digits.chars().anyMatch(c -> c < '0' || c > '9')) {
            throw new IllegalArgumentException("a duration is a whole number followed by s, m, h or d");
        }
        long v;
        try {
            v = Long.parseLong(digits);
            return Duration.ofSeconds(Math.multiplyExact(v, mult));
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException("duration is too large");
        }
    }

    static String kind(JsonNode v) {
        if (v.isTextual()) {
            return "a string";
        }
        if (v.isBoolean()) {
            return "a boolean";
        }
        if (v.isIntegralNumber()) {
            return "an integer";
        }
        if (v.isNumber()) {
            return "a float";
        }
        if (v.isArray()) {
            return "an array";
        }
        if (v.isObject()) {
            return "a table";
        }
        return v.getNodeType().toString().toLowerCase(java.util.Locale.ROOT);
    }
}
