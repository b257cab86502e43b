package dev.atlas.dstack.gateway.ct;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.io.IOException;

/** The strict streaming JSON reading the monitor's parsers share (duplicate keys refused, bounded nesting). */
final class Jsonl {
    private static final JsonFactory FACTORY = JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64)
                    .maxStringLength(AcmeInfo.MAX_BYTES).maxNumberLength(64).build())
            .build();

    private Jsonl() {
    }

    static JsonParser parser(byte[] json) throws IOException {
        return FACTORY.createParser(json);
    }

    /** The current token as a string of at most {@code max} characters, else a refusal naming the field. */
    static String string(JsonParser p, JsonToken t, String field, String doc, String where, int max)
            throws IOException, RaException {
        if (t != JsonToken.VALUE_STRING) {
            throw malformed(doc, where, field, "must be a string, got " + type(t));
        }
        String s = p.getText();
        if (s.length() > max) {
            throw malformed(doc, where, field, "exceeds " + max + " characters (" + s.length() + ")");
        }
        return s;
    }

    static String type(JsonToken t) {
        if (t == null) {
            return "end of input";
        }
        return switch (t) {
            case START_OBJECT -> "an object";
            case START_ARRAY -> "an array";
            case VALUE_STRING -> "a string";
            case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> "a number";
            case VALUE_TRUE, VALUE_FALSE -> "a boolean";
            case VALUE_NULL -> "null";
            default -> t.toString();
        };
    }

    /** A parse error's message without the source excerpt Jackson appends. */
    static String describe(IOException e) {
        String m = e instanceof JsonParseException jp ? jp.getOriginalMessage() : e.getMessage();
        if (m == null) {
            return e.getClass().getSimpleName();
        }
        m = m.replace('\n', ' ');
        return m.length() > 200 ? m.substring(0, 200) + "..." : m;
    }

    static RaException malformed(String doc, String where, String field, String what) {
        return new RaException(Reason.CT_SOURCE_MALFORMED, field.isEmpty() ? doc : field,
                doc + " from " + where + (field.isEmpty() ? "" : ": " + field) + " " + what);
    }
}
