package dev.atlas.dstack.simulator.internal;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.OptionalLong;
import dev.atlas.dstack.ra.prpc.PrpcException;

/**
 * Reads the fields of a pRPC JSON request message as serde does for the generated structs: a missing field
 * (or JSON {@code null}) takes its default, bytes are hex with or without {@code 0x}, unknown fields are
 * ignored. A GET query gives every value as a string, so booleans and integers are also read from their
 * string form. A wrong type fails with a message naming the field.
 */
public final class Args {
    private static final HexFormat HEX = HexFormat.of();
    /** Most elements read from a repeated field. */
    public static final int MAX_REPEATED = 1024;

    private Args() {
    }

    private static JsonNode field(JsonNode req, String name) {
        if (req == null || !req.isObject()) {
            return null;
        }
        JsonNode v = req.get(name);
        return v == null || v.isNull() ? null : v;
    }

    public static String string(JsonNode req, String name) throws PrpcException {
        JsonNode v = field(req, name);
        if (v == null) {
            return "";
        }
        if (!v.isTextual()) {
            throw new PrpcException("invalid type for field `" + name + "`: expected a string");
        }
        return v.textValue();
    }

    public static byte[] bytes(JsonNode req, String name) throws PrpcException {
        JsonNode v = field(req, name);
        if (v == null) {
            return new byte[0];
        }
        if (!v.isTextual()) {
            throw new PrpcException("invalid type for field `" + name + "`: expected a hex string");
        }
        String s = v.textValue();
        if (s.startsWith("0x") || s.startsWith("0X")) {
            s = s.substring(2);
        }
        if (s.length() % 2 != 0) {
            throw new PrpcException("invalid hex in field `" + name + "`: odd number of digits");
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
                throw new PrpcException("invalid hex in field `" + name + "`: invalid character at offset " + i);
            }
        }
        return HEX.parseHex(s);
    }

    public static boolean bool(JsonNode req, String name) throws PrpcException {
        JsonNode v = field(req, name);
        if (v == null) {
            return false;
        }
        if (v.isBoolean()) {
            return v.booleanValue();
        }
        if (v.isTextual() && (v.textValue().equals("true") || v.textValue().equals("false"))) {
            return v.textValue().equals("true");
        }
        throw new PrpcException("invalid type for field `" + name + "`: expected a boolean");
    }

    public static OptionalLong optionalU64(JsonNode req, String name) throws PrpcException {
        JsonNode v = field(req, name);
        if (v == null) {
            return OptionalLong.empty();
        }
        String digits;
        if (v.isIntegralNumber()) {
            if (v.bigIntegerValue().signum() < 0 || v.bigIntegerValue().bitLength() > 64) {
                throw new PrpcException("invalid value for field `" + name + "`: expected an unsigned 64-bit integer");
            }
            return OptionalLong.of(v.bigIntegerValue().longValue());
        } else if (v.isTextual()) {
            digits = v.textValue();
        } else {
            throw new PrpcException("invalid type for field `" + name + "`: expected an unsigned 64-bit integer");
        }
        if (digits.isEmpty() || digits.length() > 20 || !digits.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new PrpcException("invalid value for field `" + name + "`: expected an unsigned 64-bit integer");
        }
        try {
            return OptionalLong.of(Long.parseUnsignedLong(digits));
        } catch (NumberFormatException e) {
            throw new PrpcException("invalid value for field `" + name + "`: expected an unsigned 64-bit integer");
        }
    }

    public static List<String> strings(JsonNode req, String name) throws PrpcException {
        JsonNode v = field(req, name);
        List<String> out = new ArrayList<>();
        if (v == null) {
            return out;
        }
        if (v.isTextual()) { // a GET query gives one value as a plain string
            out.add(v.textValue());
            return out;
        }
        if (!v.isArray()) {
            throw new PrpcException("invalid type for field `" + name + "`: expected an array of strings");
        }
        if (v.size() > MAX_REPEATED) {
            throw new PrpcException("field `" + name + "` has more than " + MAX_REPEATED + " elements");
        }
        for (JsonNode e : v) {
            if (!e.isTextual()) {
                throw new PrpcException("invalid type for field `" + name + "`: expected an array of strings");
            }
            out.add(e.textValue());
        }
        return out;
    }
}
