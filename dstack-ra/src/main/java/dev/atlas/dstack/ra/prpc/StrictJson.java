package dev.atlas.dstack.ra.prpc;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;

/**
 * The strict JSON reader of the pRPC binding: one value, no trailing tokens, no duplicate keys, bounded nesting,
 * string and number lengths; every error names the field path ({@code $} is the message itself).
 */
final class StrictJson {
    static final int MAX_DEPTH = 64;
    static final JsonNodeFactory NODES = new JsonNodeFactory(true);

    private static final JsonFactory FACTORY = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNestingDepth(MAX_DEPTH + 1)
                    .maxNumberLength(100)
                    .maxStringLength(16 << 20)
                    .build())
            .build();

    private StrictJson() {}

    /** A JSON error; {@link #getMessage()} is safe to send to the caller. */
    static final class JsonError extends Exception {
        private static final long serialVersionUID = 1L;

        JsonError(String message) {
            super(message, null, false, false);
        }
    }

    /** Parses {@code data} as one JSON value. */
    static JsonNode parse(byte[] data, int off, int len) throws JsonError {
        String path = "$";
        try (JsonParser p = FACTORY.createParser(data, off, len)) {
            JsonToken t = p.nextToken();
            if (t == null) {
                throw new JsonError("EOF while parsing a value");
            }
            JsonNode n = read(p, t, "$", 0);
            JsonToken extra;
            try {
                extra = p.nextToken();
            } catch (JsonProcessingException e) {
                extra = JsonToken.NOT_AVAILABLE;
            }
            if (extra != null) {
                throw new JsonError("trailing characters after the JSON value at line "
                        + p.currentLocation().getLineNr() + " column " + p.currentLocation().getColumnNr());
            }
            return n;
        } catch (JsonProcessingException e) {
            com.fasterxml.jackson.core.JsonLocation loc = e.getLocation();
            throw new JsonError("invalid JSON" + (loc == null ? "" : " at line " + loc.getLineNr() + " column "
                    + loc.getColumnNr()) + ": " + firstLine(e.getOriginalMessage()));
        } catch (IOException e) {
            throw new JsonError("invalid JSON: " + firstLine(e.getMessage()));
        }
    }

    private static JsonNode read(JsonParser p, JsonToken t, String path, int depth) throws IOException, JsonError {
        switch (t) {
            case START_OBJECT: {
                if (depth >= MAX_DEPTH) {
                    throw new JsonError("field `" + path + "`: nesting deeper than " + MAX_DEPTH);
                }
                ObjectNode o = NODES.objectNode();
                JsonToken k;
                while ((k = p.nextToken()) == JsonToken.FIELD_NAME) {
                    String name = p.currentName();
                    String child = path + "." + name;
                    if (o.has(name)) {
                        throw new JsonError("duplicate field `" + name + "` in `" + path + "`");
                    }
                    o.set(name, read(p, p.nextToken(), child, depth + 1));
                }
                return o;
            }
            case START_ARRAY: {
                if (depth >= MAX_DEPTH) {
                    throw new JsonError("field `" + path + "`: nesting deeper than " + MAX_DEPTH);
                }
                ArrayNode a = NODES.arrayNode();
                JsonToken e;
                int i = 0;
                while ((e = p.nextToken()) != JsonToken.END_ARRAY) {
                    a.add(read(p, e, path + "[" + i + "]", depth + 1));
                    i++;
                }
                return a;
            }
            case VALUE_STRING:
                return NODES.textNode(p.getText());
            case VALUE_NUMBER_INT:
                switch (p.getNumberType()) {
                    case INT:
                    case LONG:
                        return NODES.numberNode(p.getLongValue());
                    default:
                        return NODES.numberNode(p.getBigIntegerValue());
                }
            case VALUE_NUMBER_FLOAT:
                return NODES.numberNode(p.getDecimalValue());
            case VALUE_TRUE:
                return NODES.booleanNode(true);
            case VALUE_FALSE:
                return NODES.booleanNode(false);
            case VALUE_NULL:
                return NODES.nullNode();
            default:
                throw new JsonError("field `" + path + "`: unexpected token " + t);
        }
    }

    static String firstLine(String m) {
        if (m == null) {
            return "";
        }
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }

    /** The JSON name of a node's type, for "invalid type" messages. */
    static String typeName(JsonNode n) {
        if (n == null || n.isMissingNode()) {
            return "missing";
        }
        if (n instanceof QueryText) {
            return "query string";
        }
        switch (n.getNodeType()) {
            case OBJECT: return "object";
            case ARRAY: return "array";
            case STRING: return "string";
            case NUMBER: return n.isIntegralNumber() ? "integer" : "floating point number";
            case BOOLEAN: return "boolean";
            case NULL: return "null";
            default: return n.getNodeType().name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** A string value that came from a GET query: typed readers may parse it as a number or a bool. */
    static final class QueryText extends com.fasterxml.jackson.databind.node.TextNode {
        private static final long serialVersionUID = 1L;

        QueryText(String v) {
            super(v);
        }
    }
}
