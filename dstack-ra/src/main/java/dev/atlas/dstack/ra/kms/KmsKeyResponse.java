package dev.atlas.dstack.ra.kms;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcJson;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * {@code KMS.GetKmsKey} response ({@code KmsKeyResponse{string temp_ca_key; repeated KmsKeys keys}}). The parser
 * accepts any number of key sets (at most {@link #MAX_KEYS}); "exactly one" is the onboarding destination's check
 * (§2.10 step 7). The temp CA key is secret to the extent any key is: {@link #toString()} redacts it.
 */
public record KmsKeyResponse(String tempCaKey, List<KmsKeys> keys) {
    /** Parser limit on {@code keys} (upstream sends exactly one). */
    public static final int MAX_KEYS = 16;

    public KmsKeyResponse {
        Objects.requireNonNull(tempCaKey, "tempCaKey");
        keys = Wire.list(keys, "keys");
        if (keys.size() > MAX_KEYS) {
            throw new IllegalArgumentException("keys: at most " + MAX_KEYS + " entries, got " + keys.size());
        }
    }

    public static KmsKeyResponse fromJson(JsonNode n) throws PrpcException {
        JsonNode m = Wire.message(n, "KmsKeyResponse");
        String temp = PrpcJson.string(m, "temp_ca_key");
        List<KmsKeys> keys = new ArrayList<>();
        if (PrpcJson.has(m, "keys")) {
            JsonNode a = m.get("keys");
            if (!a.isArray()) {
                throw new PrpcException("field `keys`: invalid type, expected an array of KmsKeys");
            }
            if (a.size() > MAX_KEYS) {
                throw new PrpcException("field `keys`: at most " + MAX_KEYS + " entries, got " + a.size());
            }
            for (int i = 0; i < a.size(); i++) {
                JsonNode e = a.get(i);
                if (!e.isObject()) {
                    throw new PrpcException("field `keys[" + i + "]`: invalid type, expected an object");
                }
                try {
                    keys.add(KmsKeys.fromJson(e));
                } catch (PrpcException ex) {
                    throw new PrpcException("field `keys[" + i + "]`: " + ex.getMessage());
                }
            }
        }
        return new KmsKeyResponse(temp, keys);
    }

    public ObjectNode toJson() {
        ObjectNode o = Wire.object();
        o.put("temp_ca_key", tempCaKey);
        ArrayNode a = o.putArray("keys");
        keys.forEach(k -> a.add(k.toJson()));
        return o;
    }

    @Override
    public String toString() {
        return "KmsKeyResponse[tempCaKey=" + Wire.redacted(tempCaKey) + ", keys=" + keys + "]";
    }
}
