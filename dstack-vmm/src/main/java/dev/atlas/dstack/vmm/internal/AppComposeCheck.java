package dev.atlas.dstack.vmm.internal;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.dstack.ra.prpc.PrpcException;

import java.util.List;

/**
 * What upstream's {@code serde_json::from_str::<AppCompose>} checks ({@code dstack-types/src/lib.rs}): a JSON object
 * with {@code manifest_version} (string or integer), {@code name} and {@code runner} (strings), and the right types
 * for the optional fields we know. Unknown fields are allowed (serde's default). Errors start with
 * {@code Invalid compose file} as upstream's context.
 */
final class AppComposeCheck {
    static final int MAX_BYTES = 4 << 20;
    private static final ObjectMapper STRICT = new ObjectMapper(JsonFactory.builder()
            .enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).build()).build());
    private static final List<String> BOOLS = List.of("public_logs", "public_sysinfo", "public_tcbinfo",
            "kms_enabled", "gateway_enabled", "tproxy_enabled", "local_key_provider_enabled", "no_instance_id",
            "secure_time");

    static {
        STRICT.enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
        STRICT.getFactory().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
    }

    private AppComposeCheck() {}

    /** Parses and checks {@code compose}; returns the parsed object. */
    static JsonNode check(String compose) throws PrpcException {
        if (compose.length() > MAX_BYTES) {
            throw new PrpcException("Invalid compose file: larger than " + MAX_BYTES + " bytes");
        }
        JsonNode n;
        try {
            n = STRICT.readTree(compose);
        } catch (Exception e) {
            throw new PrpcException("Invalid compose file: not JSON");
        }
        if (n == null || !n.isObject()) {
            throw new PrpcException("Invalid compose file: expected a JSON object (AppCompose)");
        }
        JsonNode mv = n.get("manifest_version");
        if (mv == null || !(mv.isTextual() || mv.isIntegralNumber())) {
            throw new PrpcException("Invalid compose file: field `manifest_version` missing or not a string/number");
        }
        requireString(n, "name");
        requireString(n, "runner");
        for (String b : BOOLS) {
            JsonNode v = n.get(b);
            if (v != null && !v.isNull() && !v.isBoolean()) {
                throw new PrpcException("Invalid compose file: field `" + b + "` is not a boolean");
            }
        }
        for (String s : List.of("docker_compose_file", "bash_script", "storage_fs", "key_provider")) {
            JsonNode v = n.get(s);
            if (v != null && !v.isNull() && !v.isTextual()) {
                throw new PrpcException("Invalid compose file: field `" + s + "` is not a string");
            }
        }
        for (String a : List.of("allowed_envs", "features")) {
            JsonNode v = n.get(a);
            if (v != null && !v.isNull()) {
                if (!v.isArray()) {
                    throw new PrpcException("Invalid compose file: field `" + a + "` is not an array of strings");
                }
                for (JsonNode e : v) {
                    if (!e.isTextual()) {
                        throw new PrpcException("Invalid compose file: field `" + a + "` is not an array of strings");
                    }
                }
            }
        }
        return n;
    }

    /** {@code gateway_enabled} (or the legacy {@code tproxy_enabled}); false when absent. */
    static boolean gatewayEnabled(JsonNode compose) {
        JsonNode g = compose.get("gateway_enabled");
        if (g == null || g.isNull()) {
            g = compose.get("tproxy_enabled");
        }
        return g != null && g.isBoolean() && g.booleanValue();
    }

    private static void requireString(JsonNode n, String f) throws PrpcException {
        JsonNode v = n.get(f);
        if (v == null || !v.isTextual()) {
            throw new PrpcException("Invalid compose file: field `" + f + "` missing or not a string");
        }
    }
}
