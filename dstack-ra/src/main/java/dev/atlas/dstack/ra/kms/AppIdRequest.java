package dev.atlas.dstack.ra.kms;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcJson;

/**
 * {@code KMS.GetAppEnvEncryptPubKey} request (proto {@code AppId{bytes app_id}}).
 *
 * <p>The 20-byte length of {@code app_id} is checked by the KMS (with dstack's error text), <b>not</b> by this
 * parser or the constructor: any length is carried so that the KMS can refuse it with its own message.
 */
public record AppIdRequest(byte[] appId) {
    public AppIdRequest {
        appId = Wire.copy(appId, "appId");
    }

    @Override
    public byte[] appId() {
        return appId.clone();
    }

    public static AppIdRequest fromJson(JsonNode n) throws PrpcException {
        JsonNode m = Wire.message(n, "AppId");
        return new AppIdRequest(PrpcJson.bytes(m, "app_id"));
    }

    public ObjectNode toJson() {
        ObjectNode o = Wire.object();
        o.put("app_id", Wire.hex(appId));
        return o;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof AppIdRequest r && Wire.eq(appId, r.appId);
    }

    @Override
    public int hashCode() {
        return Wire.hash(appId);
    }

    @Override
    public String toString() {
        return "AppIdRequest[appId=" + Wire.hex(appId) + "]";
    }
}
