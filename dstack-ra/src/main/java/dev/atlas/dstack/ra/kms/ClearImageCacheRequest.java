package dev.atlas.dstack.ra.kms;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcJson;
import java.util.Objects;

/**
 * {@code Admin.ClearImageCache} request ({@code ClearImageCacheRequest{string image_hash; string config_hash}}).
 * Whether a name is hex, {@code all} or empty is the admin service's check, not the parser's.
 */
public record ClearImageCacheRequest(String imageHash, String configHash) {
    public ClearImageCacheRequest {
        Objects.requireNonNull(imageHash, "imageHash");
        Objects.requireNonNull(configHash, "configHash");
    }

    public static ClearImageCacheRequest fromJson(JsonNode n) throws PrpcException {
        JsonNode m = Wire.message(n, "ClearImageCacheRequest");
        return new ClearImageCacheRequest(PrpcJson.string(m, "image_hash"), PrpcJson.string(m, "config_hash"));
    }

    public ObjectNode toJson() {
        ObjectNode o = Wire.object();
        o.put("image_hash", imageHash);
        o.put("config_hash", configHash);
        return o;
    }
}
