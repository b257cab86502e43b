package dev.atlas.dstack.vmm.internal;

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
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The VMM's view of a TOML document: typed reads by dotted key that remember what was read, so that what was not
 * can be named as unknown. Errors are {@code CONFIG_INVALID} naming the dotted key and the file, never the value.
 */
final class Toml {
    /** Size limit of {@code vmm.toml}. */
    static final int MAX_BYTES = 1 << 20;
    private static final TomlMapper MAPPER = new TomlMapper();

    private final String source;
    private final ObjectNode root;
    private final Set<String> read = new HashSet<>();

    private Toml(String source, ObjectNode root) {
        this.source = source;
        this.root = root;
    }

    static Toml parse(byte[] bytes, String source) throws RaException {
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
            n = text.isBlank() ? MAPPER.createObjectNode() : MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            JsonLocation l = e.getLocation();
            // the parser's text may quote a token (a secret); say where only
            throw new RaException(Reason.CONFIG_INVALID, source, "is not valid TOML"
                    + (l != null ? " (line " + l.getLineNr() + ", column " + l.getColumnNr() + ")" : ""));
        } catch (RuntimeException | StackOverflowError e) {
            throw new RaException(Reason.CONFIG_INVALID, source, "is not valid TOML");
        }
        if (n == null || n.isMissingNode() || n.isNull()) {
            n = MAPPER.createObjectNode();
        }
        if (!n.isObject()) {
            throw new RaException(Reason.CONFIG_INVALID, source, "is not a TOML table");
        }
        return new Toml(source, (ObjectNode) n);
    }

    String source() {
        return source;
    }

    RaException invalid(String key, String message) {
        return new RaException(Reason.CONFIG_INVALID, key, message + " (in " + source + ")");
    }

    /** The node at a dotted key, or null; marks the key and its parents read. */
    JsonNode get(String dotted) throws RaException {
        String[] parts = dotted.split("\\.");
        JsonNode n = root;
        StringBuilder path = new StringBuilder();
        for (int i = 0; i < parts.length; i++) {
            if (i > 0) {
                if (!n.isObject()) {
                    throw invalid(path.toString(), "expected a table, got " + kind(n));
                }
                path.append('.');
            }
            path.append(parts[i]);
            n = n.get(parts[i]);
            if (n == null) {
                return null;
            }
        }
        read.add(dotted);
        return n;
    }

    boolean has(String dotted) throws RaException {
        JsonNode n = peek(dotted);
        return n != null;
    }

    private JsonNode peek(String dotted) {
        JsonNode n = root;
        for (String p : dotted.split("\\.")) {
            if (n == null || !n.isObject()) {
                return null;
            }
            n = n.get(p);
        }
        return n;
    }

    /** Marks a whole table read (its content is accepted as is and not used). */
    void accept(String dotted) throws RaException {
        get(dotted);
    }

    String string(String key, String dflt) throws RaException {
        JsonNode v = get(key);
        if (v == null) {
            return dflt;
        }
        if (!v.isTextual()) {
            throw invalid(key, "expected a string, got " + kind(v));
        }
        return v.textValue();
    }

    Optional<String> optString(String key) throws RaException {
        JsonNode v = get(key);
        if (v == null) {
            return Optional.empty();
        }
        if (!v.isTextual()) {
            throw invalid(key, "expected a string, got " + kind(v));
        }
        return Optional.of(v.textValue());
    }

    boolean bool(String key, boolean dflt) throws RaException {
        JsonNode v = get(key);
        if (v == null) {
            return dflt;
        }
        if (!v.isBoolean()) {
            throw invalid(key, "expected a boolean, got " + kind(v));
        }
        return v.booleanValue();
    }

    Optional<Boolean> optBool(String key) throws RaException {
        JsonNode v = get(key);
        if (v == null) {
            return Optional.empty();
        }
        if (!v.isBoolean()) {
            throw invalid(key, "expected a boolean, got " + kind(v));
        }
        return Optional.of(v.booleanValue());
    }

    long integer(String key, long dflt, long min, long max) throws RaException {
        JsonNode v = get(key);
        if (v == null) {
            return dflt;
        }
        return integerValue(key, v, min, max);
    }

    long integerValue(String key, JsonNode v, long min, long max) throws RaException {
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw invalid(key, "expected an integer, got " + kind(v));
        }
        long l = v.longValue();
        if (l < min || l > max) {
            throw invalid(key, "must be in " + min + ".." + max + ", got " + l);
        }
        return l;
    }

    /** A size: an integer of bytes or dstack's size string ({@code "4M"}, {@code "0x1000"}; K/M/G/T are 1024-based). */
    long size(String key, long dflt) throws RaException {
        JsonNode v = get(key);
        if (v == null) {
            return dflt;
        }
        if (v.isIntegralNumber()) {
            return integerValue(key, v, 0, Long.MAX_VALUE);
        }
        if (!v.isTextual()) {
            throw invalid(key, "expected a size (integer or \"4M\"), got " + kind(v));
        }
        String s = v.textValue().trim();
        try {
            if (s.startsWith("0x") || s.startsWith("0X")) {
                return Long.parseUnsignedLong(s.substring(2), 16);
            }
            long mult = 1;
            if (!s.isEmpty()) {
                char c = Character.toUpperCase(s.charAt(s.length() - 1));
                int shift = switch (c) {
                    case 'K' -> 10;
                    case 'M' -> 20;
                    case 'G' -> 30;
                    case 'T' -> 40;
                    default -> 0;
                };
                if (shift > 0) {
                    mult = 1L << shift;
                    s = s.substring(0, s.length() - 1).trim();
                }
            }
            long n = Long.parseLong(s);
            if (n < 0) {
                throw new NumberFormatException();
            }
            return Math.multiplyExact(n, mult);
        } catch (NumberFormatException | ArithmeticException e) {
            throw invalid(key, "is not a size (a number with an optional K, M, G or T suffix)");
        }
    }

    List<String> strings(String key, List<String> dflt) throws RaException {
        JsonNode v = get(key);
        if (v == null) {
            return dflt;
        }
        if (!v.isArray()) {
            throw invalid(key, "expected an array of strings, got " + kind(v));
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i < v.size(); i++) {
            if (!v.get(i).isTextual()) {
                throw invalid(key + "[" + i + "]", "expected a string, got " + kind(v.get(i)));
            }
            out.add(v.get(i).textValue());
        }
        return out;
    }

    /** Every key (dotted) of the document that no read touched, in document order. */
    List<String> unknownKeys() {
        List<String> out = new ArrayList<>();
        collect(root, "", out);
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
            if (e.getValue().isObject() && anyReadUnder(key)) {
                collect(e.getValue(), key, out);
            } else if (e.getValue().isObject() && e.getValue().isEmpty()) {
                // an empty table says nothing
                continue;
            } else {
                out.add(key);
            }
        }
    }

    private boolean anyReadUnder(String key) {
        String p = key + ".";
        for (String r : read) {
            if (r.startsWith(p)) {
                return true;
            }
        }
        return false;
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
        return v.getNodeType().name().toLowerCase(Locale.ROOT);
    }
}
