package dev.atlas.dstack.ra.kms;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcJson;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;

/** Shared helpers of the KMS wire messages (package-private). */
final class Wire {
    static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private Wire() {}

    static ObjectNode object() {
        return NODES.objectNode();
    }

    /** The message object itself; a null/missing node is the default (empty) message. */
    static JsonNode message(JsonNode n, String type) throws PrpcException {
        if (n == null || n.isNull() || n.isMissingNode()) {
            return NODES.objectNode();
        }
        if (!n.isObject()) {
            throw new PrpcException("invalid type: expected a " + type + " object");
        }
        return n;
    }

    static byte[] copy(byte[] b, String field) {
        return Objects.requireNonNull(b, field).clone();
    }

    static String hex(byte[] b) {
        return PrpcJson.hex(b);
    }

    /** A {@code bytes} field that is empty or exactly {@code length} bytes. */
    static byte[] bytesEmptyOr(JsonNode n, String field, int length) throws PrpcException {
        byte[] b = PrpcJson.bytes(n, field);
        if (b.length != 0 && b.length != length) {
            throw new PrpcException("field `" + field + "`: must be empty or " + length + " bytes, got " + b.length);
        }
        return b;
    }

    /** A {@code uint32} field that must fit a Java {@code int} (values above 2^31-1 are refused). */
    static int uint32AsInt(JsonNode n, String field) throws PrpcException {
        long v = PrpcJson.uint32(n, field);
        if (v > Integer.MAX_VALUE) {
            throw new PrpcException("field `" + field + "`: " + v + " is out of range (at most " + Integer.MAX_VALUE
                    + ")");
        }
        return (int) v;
    }

    static void requireLength(byte[] b, String field, int length) {
        if (b.length != length) {
            throw new IllegalArgumentException(field + " must be " + length + " bytes, got " + b.length);
        }
    }

    static void requireEmptyOr(byte[] b, String field, int length) {
        if (b.length != 0 && b.length != length) {
            throw new IllegalArgumentException(field + " must be empty or " + length + " bytes, got " + b.length);
        }
    }

    /** A uint64 carried in a {@code long}: a JSON number, unsigned. */
    static void putU64(ObjectNode o, String field, long v) {
        if (v >= 0) {
            o.put(field, v);
        } else {
            o.put(field, new java.math.BigInteger(Long.toUnsignedString(v)));
        }
    }

    static String shortHex(byte[] b) {
        return b.length == 0 ? "" : HexFormat.of().formatHex(b);
    }

    static String redacted(byte[] b) {
        return b.length == 0 ? "<empty>" : "<" + b.length + " bytes redacted>";
    }

    static String redacted(String s) {
        return s.isEmpty() ? "<empty>" : "<redacted>";
    }

    static boolean eq(byte[] a, byte[] b) {
        return Arrays.equals(a, b);
    }

    static int hash(byte[] b) {
        return Arrays.hashCode(b);
    }

    static <T> List<T> list(List<T> l, String field) {
        return List.copyOf(Objects.requireNonNull(l, field));
    }
}
