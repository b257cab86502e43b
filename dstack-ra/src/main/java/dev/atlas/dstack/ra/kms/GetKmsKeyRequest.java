package dev.atlas.dstack.ra.kms;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcJson;
import java.util.Objects;

/** {@code KMS.GetKmsKey} request ({@code GetKmsKeyRequest{string vm_config}}): the onboarding destination's vm_config. */
public record GetKmsKeyRequest(String vmConfig) {
    public GetKmsKeyRequest {
        Objects.requireNonNull(vmConfig, "vmConfig");
    }

    public static GetKmsKeyRequest fromJson(JsonNode n) throws PrpcException {
        JsonNode m = Wire.message(n, "GetKmsKeyRequest");
        return new GetKmsKeyRequest(PrpcJson.string(m, "vm_config"));
    }

    public ObjectNode toJson() {
        ObjectNode o = Wire.object();
        o.put("vm_config", vmConfig);
        return o;
    }
}
