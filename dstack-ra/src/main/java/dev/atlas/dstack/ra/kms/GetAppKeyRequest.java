package dev.atlas.dstack.ra.kms;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcJson;
import java.util.Objects;

/**
 * {@code KMS.GetAppKey} request ({@code GetAppKeyRequest{uint32 api_version; string vm_config}}).
 *
 * <p>The parser accepts any {@code api_version} that fits an {@code int}; whether it is supported ({@code <= 1}) is
 * the KMS's check, not the parser's. {@code vm_config} is the caller's vm_config JSON as a string (opaque here).
 */
public record GetAppKeyRequest(int apiVersion, String vmConfig) {
    /** The version dstack-util sends. */
    public static final int API_VERSION = 1;

    public GetAppKeyRequest {
        if (apiVersion < 0) {
            throw new IllegalArgumentException("api_version must not be negative, got " + apiVersion);
        }
        Objects.requireNonNull(vmConfig, "vmConfig");
    }

    /** Version 1 with {@code vmConfig}, as dstack-util sends it. */
    public static GetAppKeyRequest of(String vmConfig) {
        return new GetAppKeyRequest(API_VERSION, vmConfig);
    }

    public static GetAppKeyRequest fromJson(JsonNode n) throws PrpcException {
        JsonNode m = Wire.message(n, "GetAppKeyRequest");
        return new GetAppKeyRequest(Wire.uint32AsInt(m, "api_version"), PrpcJson.string(m, "vm_config"));
    }

    public ObjectNode toJson() {
        ObjectNode o = Wire.object();
        o.put("api_version", apiVersion);
        o.put("vm_config", vmConfig);
        return o;
    }
}
