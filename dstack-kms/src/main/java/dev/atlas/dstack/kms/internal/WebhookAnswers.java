package dev.atlas.dstack.kms.internal;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.dstack.ra.RaException;
import java.io.IOException;
import java.math.BigInteger;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The strict, bounded reader of the auth webhook's answers (a parser: {@link #MAX_ANSWER_BYTES}, one JSON object
 * and nothing after it, duplicate keys refused, bounded nesting, required fields of the right JSON type; unknown
 * fields ignored as serde does). Shapes from upstream {@code kms/src/main_service/upgrade_authority.rs}:
 * {@code BootResponse} ({@code isAllowed} bool, {@code gatewayAppId} string, {@code reason} string, all required)
 * and {@code AuthApiInfoResponse} ({@code status}, {@code kmsContractAddr}, {@code gatewayAppId} strings,
 * {@code chainId} u64, {@code appImplementation} string required; {@code ethRpcUrl} string, default empty).
 *
 * <p>Every failure is {@code AUTH_UNAVAILABLE} with dstack's {@code failed to decode response from <url>} and the
 * field at fault: a garbled answer is never a decision, so the request it was for is refused.
 */
public final class WebhookAnswers {
    /** Largest answer read (ours: a decision is a few hundred bytes; upstream reads any size). */
    public static final int MAX_ANSWER_BYTES = 64 * 1024;
    /** Deepest JSON nesting read. */
    public static final int MAX_DEPTH = 16;
    private static final BigInteger U64_MAX = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);
    private static final JsonFactory FACTORY = JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_DEPTH)
                    .maxNumberLength(64).maxStringLength(MAX_ANSWER_BYTES).build())
            .build();
    private static final ObjectMapper MAPPER = new ObjectMapper(FACTORY);

    private WebhookAnswers() {
    }

    /** Reads a {@code BootResponse}; {@code url} only names the webhook in messages. */
    public static BootDecision bootResponse(byte[] body, String url) throws RaException {
        JsonNode n = object(body, url);
        boolean allowed = bool(n, "isAllowed", url);
        String reason = string(n, "reason", url);
        String gateway = string(n, "gatewayAppId", url);
        return new BootDecision(allowed, reason, Optional.of(gateway));
    }

    /** Reads an {@code AuthApiInfoResponse}. */
    public static AuthInfo info(byte[] body, String url) throws RaException {
        JsonNode n = object(body, url);
        String status = string(n, "status", url);
        String contract = string(n, "kmsContractAddr", url);
        String gateway = string(n, "gatewayAppId", url);
        long chainId = u64(n, "chainId", url);
        String impl = string(n, "appImplementation", url);
        String rpc = n.has("ethRpcUrl") ? string(n, "ethRpcUrl", url) : "";
        return new AuthInfo(status, contract, gateway, OptionalLong.of(chainId), impl, rpc);
    }

    private static JsonNode object(byte[] body, String url) throws RaException {
        if (body.length > MAX_ANSWER_BYTES) {
            throw fail(url, "answer of " + body.length + " bytes is larger than " + MAX_ANSWER_BYTES);
        }
        JsonNode n;
        try (JsonParser p = FACTORY.createParser(body)) {
            JsonToken first = p.nextToken();
            if (first == null) {
                throw fail(url, "empty answer, expected a JSON object");
            }
            n = MAPPER.readTree(p);
            JsonToken extra;
            try {
                extra = p.nextToken();
            } catch (JsonProcessingException e) {
                extra = JsonToken.NOT_AVAILABLE;
            }
            if (extra != null) {
                throw fail(url, "trailing characters after the JSON value");
            }
        } catch (JsonProcessingException e) {
            throw fail(url, "not JSON (" + e.getOriginalMessage() + ")");
        } catch (IOException e) {
            throw fail(url, "unreadable answer");
        }
        if (n == null || !n.isObject()) {
            throw fail(url, "invalid type: " + type(n) + ", expected a JSON object");
        }
        return n;
    }

    private static boolean bool(JsonNode o, String field, String url) throws RaException {
        JsonNode v = o.get(field);
        if (v == null) {
            throw fail(url, "missing field `" + field + "`");
        }
        if (!v.isBoolean()) {
            throw fail(url, "field `" + field + "`: invalid type: " + type(v) + ", expected a boolean");
        }
        return v.booleanValue();
    }

    private static String string(JsonNode o, String field, String url) throws RaException {
        JsonNode v = o.get(field);
        if (v == null) {
            throw fail(url, "missing field `" + field + "`");
        }
        if (!v.isTextual()) {
            throw fail(url, "field `" + field + "`: invalid type: " + type(v) + ", expected a string");
        }
        return v.textValue();
    }

    private static long u64(JsonNode o, String field, String url) throws RaException {
        JsonNode v = o.get(field);
        if (v == null) {
            throw fail(url, "missing field `" + field + "`");
        }
        if (!v.isIntegralNumber()) {
            throw fail(url, "field `" + field + "`: invalid type: " + type(v) + ", expected u64");
        }
        BigInteger b = v.bigIntegerValue();
        if (b.signum() < 0 || b.compareTo(U64_MAX) > 0) {
            throw fail(url, "field `" + field + "`: " + b + " is not a u64");
        }
        return b.longValue(); // unsigned
    }

    private static String type(JsonNode n) {
        if (n == null || n.isMissingNode()) {
            return "nothing";
        }
        return switch (n.getNodeType()) {
            case NULL -> "null";
            case BOOLEAN -> "boolean";
            case NUMBER -> n.isIntegralNumber() ? "integer" : "floating point";
            case STRING -> "string";
            case ARRAY -> "sequence";
            case OBJECT -> "map";
            default -> "value";
        };
    }

    private static RaException fail(String url, String what) {
        return new RaException(RaException.Reason.AUTH_UNAVAILABLE,
                "failed to decode response from " + url + ": " + what);
    }
}
