package dev.atlas.dstack;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atlas.dstack.internal.Digests;
import dev.atlas.dstack.internal.SerdeJson;
import dev.atlas.tdx.internal.Hex;
import java.nio.charset.StandardCharsets;

/**
 * App-compose hashes (spec atls-protocol §4).
 *
 * <ul>
 *   <li>{@link #ofRawBytes}: what dstack measures into the {@code compose-hash} event: SHA-256 of the exact
 *       bytes of {@code app-compose.json}. This is the only form that matches every deployment.</li>
 *   <li>{@link #ofJsonValue}: Atlas's form: SHA-256 of the value serialized like
 *       {@code serde_json::to_string} (compact, members in insertion order, serde's escaping and number
 *       format). It matches only deployments whose file is byte-identical to that serialization.</li>
 * </ul>
 */
public final class ComposeHash {
    /** Maximum size of an app compose document accepted for JSON hashing (characters). */
    public static final int MAX_JSON_CHARS = 4 << 20;

    private ComposeHash() {}

    /** Lowercase hex SHA-256 of the raw file bytes. */
    public static String ofRawBytes(byte[] appComposeFile) {
        return Hex.encode(Digests.sha256(appComposeFile));
    }

    /** Lowercase hex SHA-256 of {@link #serialize(JsonNode)}. */
    public static String ofJsonValue(JsonNode value) {
        return Hex.encode(Digests.sha256(serialize(value).getBytes(StandardCharsets.UTF_8)));
    }

    /**
     * Parses JSON text with serde_json's rules (insertion order kept, integer/float distinction) and hashes
     * the value as Atlas would. Duplicate keys and lone surrogates are rejected.
     *
     * @throws IllegalArgumentException if the text is not one JSON value
     */
    public static String ofJsonText(String json) {
        return ofJsonValue(parseJson(json));
    }

    /** Parses JSON text with serde_json's number and ordering rules. */
    public static JsonNode parseJson(String json) {
        return SerdeJson.parse(json, MAX_JSON_CHARS);
    }

    /** The exact text Atlas hashes: {@code serde_json::to_string(value)}. */
    public static String serialize(JsonNode value) {
        return SerdeJson.write(value);
    }
}
