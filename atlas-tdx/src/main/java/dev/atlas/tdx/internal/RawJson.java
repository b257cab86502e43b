package dev.atlas.tdx.internal;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;

/**
 * Cuts the raw text of a top-level member's value out of a JSON document, verbatim. Used to keep the
 * exact signed bytes of {@code tcbInfo} / {@code enclaveIdentity} from a PCS/PCCS body without
 * re-serializing them.
 */
public final class RawJson {
    private RawJson() {}

    /** The exact text of {@code doc}'s top-level member {@code name}; the document must be strict JSON. */
    public static String member(String doc, String name) {
        Json.parse(doc, Integer.MAX_VALUE); // strictness: duplicates, trailing tokens, syntax
        try (JsonParser p = Json.MAPPER.getFactory().createParser(doc.toCharArray())) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new IllegalArgumentException("expected a JSON object");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken t = p.nextToken();
                long start = p.currentTokenLocation().getCharOffset();
                if (t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY) {
                    p.skipChildren();
                }
                long end = p.currentLocation().getCharOffset();
                if (field.equals(name)) {
                    if (t != JsonToken.START_OBJECT) {
                        throw new IllegalArgumentException("field `" + name + "` is not an object");
                    }
                    return doc.substring((int) start, (int) end);
                }
            }
            throw new IllegalArgumentException("missing field `" + name + "`");
        } catch (IOException e) {
            throw new IllegalArgumentException("invalid JSON: " + e.getMessage(), e);
        }
    }
}
