package dev.atlas.dstack.ra.prpc;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.JsonSerializer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.module.SimpleModule;
import java.io.IOException;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * Helpers for handler and client authors: dstack's JSON conventions for pRPC messages.
 *
 * <ul>
 *   <li>{@code bytes} fields are hex strings: written lowercase without {@code 0x}; read with or without
 *       {@code 0x} (upstream {@code prpc::serde_helpers::bytes_as_hex_str} strips any number of leading
 *       {@code 0x}), either case;</li>
 *   <li>a missing or {@code null} field takes the proto3 default ({@code ""}, {@code 0}, {@code false}, empty
 *       bytes, empty list), as upstream's {@code #[serde(default)]} messages do;</li>
 *   <li>a present field of the wrong type is an error naming the field.</li>
 * </ul>
 * Values decoded from a GET query are strings without a schema; the typed readers here parse them as the
 * numbers and bools {@code serde_qs} would ({@code "42"}, {@code "true"}). Every error is a {@link PrpcException}
 * whose message names the field, so a handler can let it propagate (HTTP 400).
 */
public final class PrpcJson {
    private static final HexFormat HEX = HexFormat.of();
    private static final BigInteger U64_MAX = new BigInteger("18446744073709551615");

    private PrpcJson() {}

    /**
     * A new {@link ObjectMapper} with the binding's conventions: record components and bean properties in
     * snake_case (proto field names), {@code byte[]} as lowercase hex (read with or without {@code 0x}), unknown
     * fields ignored (as serde does without {@code deny_unknown_fields}), duplicate keys rejected.
     */
    public static ObjectMapper newMapper() {
        SimpleModule hex = new SimpleModule("dstack-prpc-hex");
        hex.addSerializer(byte[].class, new HexSerializer());
        hex.addDeserializer(byte[].class, new HexDeserializer());
        ObjectMapper m = new ObjectMapper();
        m.setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE);
        m.registerModule(hex);
        m.disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
        m.enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
        m.getFactory().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
        return m;
    }

    /** Lowercase hex without {@code 0x}, as dstack's servers write {@code bytes}. */
    public static String hex(byte[] bytes) {
        return HEX.formatHex(bytes);
    }

    /**
     * Decodes dstack hex: any number of leading {@code 0x} removed (as upstream's {@code trim_start_matches}), then
     * an even number of hex digits of either case.
     *
     * @param field the field name for the error message
     */
    public static byte[] parseHex(String value, String field) throws PrpcException {
        String s = value;
        while (s.startsWith("0x")) {
            s = s.substring(2);
        }
        if ((s.length() & 1) != 0) {
            throw new PrpcException("field `" + field + "`: invalid hex: odd number of digits");
        }
        for (int i = 0; i < s.length(); i++) {
            if (Character.digit(s.charAt(i), 16) < 0 || s.charAt(i) > 0x7f) {
                throw new PrpcException("field `" + field + "`: invalid hex character at position " + i);
            }
        }
        return HEX.parseHex(s);
    }

    /** A {@code bytes} field; empty when missing or null. */
    public static byte[] bytes(JsonNode message, String field) throws PrpcException {
        JsonNode n = field(message, field);
        if (absent(n)) {
            return new byte[0];
        }
        if (!n.isTextual()) {
            throw wrongType(field, n, "a hex string");
        }
        return parseHex(n.textValue(), field);
    }

    /** An {@code optional bytes} field; empty when missing or null. */
    public static Optional<byte[]> optionalBytes(JsonNode message, String field) throws PrpcException {
        JsonNode n = field(message, field);
        return absent(n) ? Optional.empty() : Optional.of(bytes(message, field));
    }

    /** A {@code bytes} field that must have exactly {@code length} bytes. */
    public static byte[] bytes(JsonNode message, String field, int length) throws PrpcException {
        byte[] b = bytes(message, field);
        if (b.length != length) {
            throw new PrpcException("field `" + field + "`: must be " + length + " bytes, got " + b.length);
        }
        return b;
    }

    /** A {@code repeated bytes} field: an array of hex strings; empty when missing or null. */
    public static List<byte[]> bytesList(JsonNode message, String field) throws PrpcException {
        JsonNode n = field(message, field);
        List<byte[]> out = new ArrayList<>();
        if (absent(n)) {
            return out;
        }
        if (!n.isArray()) {
            throw wrongType(field, n, "an array of hex strings");
        }
        for (int i = 0; i < n.size(); i++) {
            JsonNode e = n.get(i);
            String f = field + "[" + i + "]";
            if (!e.isTextual()) {
                throw wrongType(f, e, "a hex string");
            }
            out.add(parseHex(e.textValue(), f));
        }
        return out;
    }

    /** A {@code string} field; {@code ""} when missing or null. */
    public static String string(JsonNode message, String field) throws PrpcException {
        JsonNode n = field(message, field);
        if (absent(n)) {
            return "";
        }
        if (!n.isTextual()) {
            throw wrongType(field, n, "a string");
        }
        return n.textValue();
    }

    /** An {@code optional string} field. */
    public static Optional<String> optionalString(JsonNode message, String field) throws PrpcException {
        JsonNode n = field(message, field);
        return absent(n) ? Optional.empty() : Optional.of(string(message, field));
    }

    /** A {@code repeated string} field; empty when missing or null. */
    public static List<String> stringList(JsonNode message, String field) throws PrpcException {
        JsonNode n = field(message, field);
        List<String> out = new ArrayList<>();
        if (absent(n)) {
            return out;
        }
        if (!n.isArray()) {
            throw wrongType(field, n, "an array of strings");
        }
        for (int i = 0; i < n.size(); i++) {
            JsonNode e = n.get(i);
            if (!e.isTextual()) {
                throw wrongType(field + "[" + i + "]", e, "a string");
            }
            out.add(e.textValue());
        }
        return out;
    }

    /** A {@code bool} field; false when missing or null. */
    public static boolean bool(JsonNode message, String field) throws PrpcException {
        JsonNode n = field(message, field);
        if (absent(n)) {
            return false;
        }
        if (n.isBoolean()) {
            return n.booleanValue();
        }
        if (n instanceof StrictJson.QueryText) {
            if (n.textValue().equals("true")) {
                return true;
            }
            if (n.textValue().equals("false")) {
                return false;
            }
        }
        throw wrongType(field, n, "a bool");
    }

    /** A {@code uint32} field; 0 when missing or null. */
    public static long uint32(JsonNode message, String field) throws PrpcException {
        return integer(message, field, BigInteger.ZERO, BigInteger.valueOf(0xffffffffL), "u32").longValue();
    }

    /** An {@code int32} field; 0 when missing or null. */
    public static int int32(JsonNode message, String field) throws PrpcException {
        return integer(message, field, BigInteger.valueOf(Integer.MIN_VALUE), BigInteger.valueOf(Integer.MAX_VALUE),
                "i32").intValue();
    }

    /** An {@code int64} field; 0 when missing or null. */
    public static long int64(JsonNode message, String field) throws PrpcException {
        return integer(message, field, BigInteger.valueOf(Long.MIN_VALUE), BigInteger.valueOf(Long.MAX_VALUE),
                "i64").longValue();
    }

    /** A {@code uint64} field (as an unsigned {@code long}: use {@link Long#toUnsignedString}); 0 when missing. */
    public static long uint64(JsonNode message, String field) throws PrpcException {
        return integer(message, field, BigInteger.ZERO, U64_MAX, "u64").longValue();
    }

    /** A nested message field: an object, or {@code {}} when missing or null. */
    public static JsonNode message(JsonNode message, String field) throws PrpcException {
        JsonNode n = field(message, field);
        if (absent(n)) {
            return StrictJson.NODES.objectNode();
        }
        if (!n.isObject()) {
            throw wrongType(field, n, "an object");
        }
        return n;
    }

    /** Whether the field is present and not null. */
    public static boolean has(JsonNode message, String field) {
        return !absent(message == null ? null : message.get(field));
    }

    private static BigInteger integer(JsonNode message, String field, BigInteger min, BigInteger max, String type)
            throws PrpcException {
        JsonNode n = field(message, field);
        if (absent(n)) {
            return BigInteger.ZERO;
        }
        BigInteger v;
        if (n.isIntegralNumber()) {
            v = n.bigIntegerValue();
        } else if (n instanceof StrictJson.QueryText && n.textValue().matches("[+-]?[0-9]{1,20}")) {
            String t = n.textValue();
            v = new BigInteger(t.startsWith("+") ? t.substring(1) : t);
        } else {
            throw wrongType(field, n, "an integer (" + type + ")");
        }
        if (v.compareTo(min) < 0 || v.compareTo(max) > 0) {
            throw new PrpcException("field `" + field + "`: " + v + " is out of range for " + type);
        }
        return v;
    }

    private static JsonNode field(JsonNode message, String field) throws PrpcException {
        if (message == null || message.isNull() || message.isMissingNode()) {
            return null;
        }
        if (!message.isObject()) {
            throw new PrpcException("invalid type: " + StrictJson.typeName(message) + ", expected a message object");
        }
        return message.get(field);
    }

    private static boolean absent(JsonNode n) {
        return n == null || n.isNull() || n.isMissingNode();
    }

    private static PrpcException wrongType(String field, JsonNode n, String expected) {
        return new PrpcException("field `" + field + "`: invalid type: " + StrictJson.typeName(n) + ", expected "
                + expected);
    }

    private static final class HexSerializer extends JsonSerializer<byte[]> {
        @Override
        public void serialize(byte[] value, JsonGenerator gen, SerializerProvider serializers) throws IOException {
            gen.writeString(HEX.formatHex(value));
        }
    }

    private static final class HexDeserializer extends JsonDeserializer<byte[]> {
        @Override
        public byte[] deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
            String name = p.currentName() == null ? "bytes" : p.currentName();
            if (p.currentToken() != JsonToken.VALUE_STRING) {
                return (byte[]) ctxt.handleUnexpectedToken(byte[].class, p);
            }
            try {
                return parseHex(p.getText(), name);
            } catch (PrpcException e) {
                throw com.fasterxml.jackson.databind.exc.InvalidFormatException.from(p, e.getMessage(), p.getText(),
                        byte[].class);
            }
        }
    }
}
