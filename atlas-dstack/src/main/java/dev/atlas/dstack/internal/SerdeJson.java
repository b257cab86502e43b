package dev.atlas.dstack.internal;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.Map;

/**
 * JSON with the semantics of Rust's {@code serde_json} as Atlas uses it (the {@code preserve_order} feature
 * on, no {@code arbitrary_precision}): objects keep insertion order, integers that fit {@code u64}/{@code i64}
 * stay exact, everything else becomes an IEEE double, and {@link #write} prints exactly what
 * {@code serde_json::to_string} prints (spec atls-protocol §4.3).
 *
 * <p>Deliberate differences on input, all rejections: duplicate object keys (serde keeps the last value at
 * the first position), lone UTF-16 surrogates in escapes (serde rejects these too), numbers out of the
 * double range.
 */
public final class SerdeJson {
    private static final JsonNodeFactory NODES = JsonNodeFactory.withExactBigDecimals(true);
    private static final BigInteger U64_MAX = new BigInteger("18446744073709551615");
    private static final BigInteger I64_MIN = BigInteger.valueOf(Long.MIN_VALUE);

    private static final JsonFactory FACTORY = JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNestingDepth(64)
                    .maxNumberLength(400)
                    .maxStringLength(4 << 20)
                    .build())
            .build();

    private SerdeJson() {}

    /** Parses one JSON document of at most {@code maxChars} characters with serde_json's number rules. */
    public static JsonNode parse(String text, int maxChars) {
        if (text.length() > maxChars) {
            throw new IllegalArgumentException("JSON text of " + text.length() + " characters exceeds the limit of "
                    + maxChars);
        }
        try (JsonParser p = FACTORY.createParser(text)) {
            JsonToken t = p.nextToken();
            if (t == null) {
                throw new IllegalArgumentException("empty JSON document");
            }
            JsonNode n = read(p, t);
            if (p.nextToken() != null) {
                throw new IllegalArgumentException("trailing characters after the JSON value");
            }
            return n;
        } catch (IOException e) {
            String m = e.getMessage() == null ? "" : e.getMessage();
            int nl = m.indexOf('\n');
            throw new IllegalArgumentException("invalid JSON: " + (nl < 0 ? m : m.substring(0, nl)), e);
        }
    }

    private static JsonNode read(JsonParser p, JsonToken t) throws IOException {
        switch (t) {
            case START_OBJECT: {
                ObjectNode o = NODES.objectNode();
                JsonToken k;
                while ((k = p.nextToken()) == JsonToken.FIELD_NAME) {
                    String name = p.currentName();
                    checkSurrogates(name);
                    o.set(name, read(p, p.nextToken()));
                }
                return o;
            }
            case START_ARRAY: {
                ArrayNode a = NODES.arrayNode();
                JsonToken e;
                while ((e = p.nextToken()) != JsonToken.END_ARRAY) {
                    a.add(read(p, e));
                }
                return a;
            }
            case VALUE_STRING: {
                String s = p.getText();
                checkSurrogates(s);
                return NODES.textNode(s);
            }
            case VALUE_NUMBER_INT:
                return integer(p.getText());
            case VALUE_NUMBER_FLOAT:
                return NODES.numberNode(finiteDouble(p.getText()));
            case VALUE_TRUE:
                return NODES.booleanNode(true);
            case VALUE_FALSE:
                return NODES.booleanNode(false);
            case VALUE_NULL:
                return NODES.nullNode();
            default:
                throw new IllegalArgumentException("unexpected JSON token " + t);
        }
    }

    private static JsonNode integer(String text) {
        BigInteger v = new BigInteger(text);
        if (v.signum() == 0 && text.startsWith("-")) {
            return NODES.numberNode(-0.0d); // serde: `-0` is the float -0.0
        }
        if (v.compareTo(I64_MIN) < 0 || v.compareTo(U64_MAX) > 0) {
            return NODES.numberNode(finiteDouble(text));
        }
        return v.bitLength() < 64 ? NODES.numberNode(v.longValue()) : NODES.numberNode(v);
    }

    private static double finiteDouble(String text) {
        double d = Double.parseDouble(text);
        if (Double.isInfinite(d)) {
            throw new IllegalArgumentException("number out of range: " + text);
        }
        return d;
    }

    private static void checkSurrogates(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c)) {
                if (i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1))) {
                    throw new IllegalArgumentException("lone leading surrogate in a string");
                }
                i++;
            } else if (Character.isLowSurrogate(c)) {
                throw new IllegalArgumentException("lone trailing surrogate in a string");
            }
        }
    }

    /** {@code serde_json::to_string} of a value: compact, insertion order, serde escaping and numbers. */
    public static String write(JsonNode n) {
        StringBuilder sb = new StringBuilder();
        write(n, sb);
        return sb.toString();
    }

    /** Like {@code serde_json::to_string_pretty}: two-space indent, {@code ": "} after keys. */
    public static String writePretty(JsonNode n) {
        StringBuilder sb = new StringBuilder();
        writePretty(n, sb, 0);
        return sb.toString();
    }

    private static void writePretty(JsonNode n, StringBuilder sb, int depth) {
        if (n.isObject() && n.size() > 0) {
            sb.append("{\n");
            int i = 0;
            for (Map.Entry<String, JsonNode> e : n.properties()) {
                indent(sb, depth + 1);
                string(e.getKey(), sb);
                sb.append(": ");
                writePretty(e.getValue(), sb, depth + 1);
                sb.append(++i < n.size() ? ",\n" : "\n");
            }
            indent(sb, depth);
            sb.append('}');
        } else if (n.isArray() && n.size() > 0) {
            sb.append("[\n");
            for (int i = 0; i < n.size(); i++) {
                indent(sb, depth + 1);
                writePretty(n.get(i), sb, depth + 1);
                sb.append(i + 1 < n.size() ? ",\n" : "\n");
            }
            indent(sb, depth);
            sb.append(']');
        } else {
            write(n, sb);
        }
    }

    private static void indent(StringBuilder sb, int depth) {
        for (int i = 0; i < depth; i++) {
            sb.append("  ");
        }
    }

    private static void write(JsonNode n, StringBuilder sb) {
        if (n.isObject()) {
            sb.append('{');
            boolean first = true;
            for (Map.Entry<String, JsonNode> e : n.properties()) {
                if (!first) {
                    sb.append(',');
                }
                first = false;
                string(e.getKey(), sb);
                sb.append(':');
                write(e.getValue(), sb);
            }
            sb.append('}');
        } else if (n.isArray()) {
            sb.append('[');
            for (int i = 0; i < n.size(); i++) {
                if (i > 0) {
                    sb.append(',');
                }
                write(n.get(i), sb);
            }
            sb.append(']');
        } else if (n.isTextual()) {
            string(n.textValue(), sb);
        } else if (n.isBoolean()) {
            sb.append(n.booleanValue());
        } else if (n.isNull() || n.isMissingNode()) {
            sb.append("null");
        } else if (n.isIntegralNumber()) {
            BigInteger v = n.bigIntegerValue();
            if (v.compareTo(I64_MIN) < 0 || v.compareTo(U64_MAX) > 0) {
                sb.append(formatDouble(v.doubleValue()));
            } else {
                sb.append(v);
            }
        } else if (n.isNumber()) {
            sb.append(formatDouble(n.isBigDecimal() ? n.decimalValue().doubleValue() : n.doubleValue()));
        } else {
            throw new IllegalArgumentException("cannot serialize JSON node of type " + n.getNodeType());
        }
    }

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    /**
     * {@code s} as a JSON string literal, escaped as {@code serde_json} does ({@code \" \\ \b \f \n \r \t},
     * other controls {@code \}{@code u00xx}, everything else raw; a surrogate is copied as it is).
     */
    public static String quote(String s) {
        StringBuilder sb = new StringBuilder(s.length() + 2);
        string(s, sb);
        return sb.toString();
    }

    private static void string(String s, StringBuilder sb) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': sb.append("\\\""); break;
                case '\\': sb.append("\\\\"); break;
                case '\b': sb.append("\\b"); break;
                case '\f': sb.append("\\f"); break;
                case '\n': sb.append("\\n"); break;
                case '\r': sb.append("\\r"); break;
                case '\t': sb.append("\\t"); break;
                default:
                    if (c < 0x20) {
                        sb.append("\\u00").append(HEX[c >> 4]).append(HEX[c & 0xf]);
                    } else {
                        sb.append(c);
                    }
            }
        }
        sb.append('"');
    }

    /**
     * A finite double as serde_json prints it (ryu's format): the shortest digits that round-trip, then
     * {@code 100.0}, {@code 12.34}, {@code 0.001234}, {@code 1e16}, {@code 1.234e33}, {@code 1e-7}.
     * Non-finite values print as {@code null}, as serde does.
     */
    public static String formatDouble(double d) {
        if (Double.isNaN(d) || Double.isInfinite(d)) {
            return "null";
        }
        if (d == 0) {
            return (Double.doubleToRawLongBits(d) < 0) ? "-0.0" : "0.0";
        }
        BigDecimal shortest = shortest(d);
        String digits = shortest.unscaledValue().abs().toString();
        int length = digits.length();
        int k = -shortest.scale();
        int kk = length + k;
        StringBuilder sb = new StringBuilder();
        if (d < 0) {
            sb.append('-');
        }
        if (k >= 0 && kk <= 16) {
            sb.append(digits);
            for (int i = length; i < kk; i++) {
                sb.append('0');
            }
            sb.append(".0");
        } else if (kk > 0 && kk <= 16) {
            sb.append(digits, 0, kk).append('.').append(digits, kk, length);
        } else if (kk > -5 && kk <= 0) {
            sb.append("0.");
            for (int i = kk; i < 0; i++) {
                sb.append('0');
            }
            sb.append(digits);
        } else if (length == 1) {
            sb.append(digits).append('e').append(kk - 1);
        } else {
            sb.append(digits.charAt(0)).append('.').append(digits, 1, length).append('e').append(kk - 1);
        }
        return sb.toString();
    }

    /** The shortest decimal (fewest significant digits, nearest) that parses back to {@code d}. */
    private static BigDecimal shortest(double d) {
        BigDecimal exact = new BigDecimal(d);
        for (int p = 1; p <= 17; p++) {
            BigDecimal r = exact.round(new MathContext(p, RoundingMode.HALF_EVEN));
            if (r.doubleValue() == d) {
                return r.stripTrailingZeros();
            }
        }
        return exact.round(new MathContext(17, RoundingMode.HALF_EVEN)).stripTrailingZeros();
    }
}
