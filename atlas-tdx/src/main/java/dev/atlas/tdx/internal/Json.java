package dev.atlas.tdx.internal;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Strict JSON reading on Jackson: duplicate keys rejected, trailing tokens rejected, nesting depth and
 * sizes bounded. Field helpers throw {@link IllegalArgumentException} with the field path; callers turn
 * that into an {@code AttestationException} with their own reason.
 */
public final class Json {
    public static final ObjectMapper MAPPER;

    static {
        JsonFactory f = JsonFactory.builder()
                .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                .streamReadConstraints(StreamReadConstraints.builder()
                        .maxNestingDepth(64)
                        .maxNumberLength(64)
                        .maxStringLength(4 << 20)
                        .build())
                .build();
        MAPPER = JsonMapper.builder(f)
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY)
                .disable(JsonParser.Feature.ALLOW_COMMENTS)
                .build();
    }

    private Json() {}

    /** Parses one JSON value of at most {@code maxChars} characters. */
    public static JsonNode parse(String text, int maxChars) {
        if (text.length() > maxChars) {
            throw new IllegalArgumentException("JSON text of " + text.length() + " characters exceeds the limit of "
                    + maxChars);
        }
        try {
            JsonNode n = MAPPER.readTree(text);
            if (n == null || n.isMissingNode()) {
                throw new IllegalArgumentException("empty JSON document");
            }
            return n;
        } catch (IOException e) {
            throw new IllegalArgumentException("invalid JSON: " + firstLine(e.getMessage()), e);
        }
    }

    public static ObjectNode object(JsonNode n, String path) {
        if (n == null || !n.isObject()) {
            throw new IllegalArgumentException(path + ": expected an object");
        }
        return (ObjectNode) n;
    }

    public static JsonNode required(JsonNode obj, String field, String path) {
        JsonNode v = obj.get(field);
        if (v == null) {
            throw new IllegalArgumentException(path + ": missing field `" + field + "`");
        }
        return v;
    }

    public static String string(JsonNode obj, String field, String path) {
        JsonNode v = required(obj, field, path);
        if (!v.isTextual()) {
            throw new IllegalArgumentException(path + "." + field + ": expected a string");
        }
        return v.textValue();
    }

    public static long integer(JsonNode obj, String field, long min, long max, String path) {
        return integerValue(required(obj, field, path), min, max, path + "." + field);
    }

    public static long integerValue(JsonNode v, long min, long max, String path) {
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw new IllegalArgumentException(path + ": expected an integer");
        }
        long x = v.longValue();
        if (x < min || x > max) {
            throw new IllegalArgumentException(path + ": " + x + " is outside " + min + ".." + max);
        }
        return x;
    }

    public static List<JsonNode> array(JsonNode obj, String field, boolean required, String path) {
        JsonNode v = obj.get(field);
        if (v == null) {
            if (required) {
                throw new IllegalArgumentException(path + ": missing field `" + field + "`");
            }
            return List.of();
        }
        if (!v.isArray()) {
            throw new IllegalArgumentException(path + "." + field + ": expected an array");
        }
        List<JsonNode> out = new ArrayList<>(v.size());
        v.forEach(out::add);
        return out;
    }

    public static List<String> stringArray(JsonNode obj, String field, String path) {
        List<String> out = new ArrayList<>();
        int i = 0;
        for (JsonNode n : array(obj, field, false, path)) {
            if (!n.isTextual()) {
                throw new IllegalArgumentException(path + "." + field + "[" + i + "]: expected a string");
            }
            out.add(n.textValue());
            i++;
        }
        return List.copyOf(out);
    }

    public static byte[] hex(JsonNode obj, String field, int expectedBytes, String path) {
        String s = string(obj, field, path);
        try {
            return Hex.decodeExact(s, expectedBytes, path + "." + field);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(path + "." + field + ": " + e.getMessage(), e);
        }
    }

    static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
