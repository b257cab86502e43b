package dev.atlas.dstack;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.internal.SerdeJson;
import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.AttestationException.Reason;
import java.math.BigInteger;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Atlas's policy JSON format for {@link DstackTdxPolicy} (spec atls-protocol §5; see {@code docs/policy.md}),
 * kept apart from the policy value as Tink keeps a key format apart from its parameters. Reading is strict
 * (serde_json's grammar: duplicate keys, trailing text and unknown members are rejected; every member has one
 * type) and ends in the policy's validating builder, so a policy from JSON obeys the same rules as one built in
 * code. Writing uses Atlas's member order and serde_json's number and string forms, so
 * {@code parse(write(p)).equals(p)} and an {@code app_compose} keeps its hash.
 */
public final class PolicyJson {
    private static final Set<String> FIELDS = Set.of("type", "expected_bootchain", "app_compose", "app_compose_raw",
            "expected_compose_hash", "os_image_hash", "allowed_tcb_status", "grace_period", "pccs_url",
            "cache_collateral", "disable_runtime_verification");
    private static final List<String> BOOTCHAIN_FIELDS = DstackTdxPolicy.BOOTCHAIN_FIELDS;
    private static final int MAX_JSON_CHARS = 8 << 20;

    private PolicyJson() {}

    /**
     * Reads policy JSON from UTF-8 bytes (malformed UTF-8 is {@link Reason#INVALID_POLICY}).
     *
     * @throws AttestationException {@link Reason#INVALID_POLICY} naming the member and the rule
     */
    public static DstackTdxPolicy parse(byte[] json) throws AttestationException {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(java.nio.ByteBuffer.wrap(json)).toString();
        } catch (CharacterCodingException e) {
            throw DstackTdxPolicy.invalid("policy is not UTF-8 text");
        }
        return parse(text);
    }

    /**
     * Reads Atlas's policy JSON. Unknown members, wrong types, duplicate keys and trailing text are rejected.
     *
     * @throws AttestationException {@link Reason#INVALID_POLICY} naming the member and the rule
     */
    public static DstackTdxPolicy parse(String json) throws AttestationException {
        JsonNode n;
        try {
            n = SerdeJson.parse(json, MAX_JSON_CHARS);
        } catch (IllegalArgumentException e) {
            throw invalid("policy is not valid JSON: " + e.getMessage());
        }
        if (!n.isObject()) {
            throw invalid("policy must be a JSON object");
        }
        List<String> unknown = new ArrayList<>();
        n.fieldNames().forEachRemaining(f -> {
            if (!FIELDS.contains(f)) {
                unknown.add(f);
            }
        });
        if (!unknown.isEmpty()) {
            throw invalid("unknown policy field" + (unknown.size() > 1 ? "s " : " ") + String.join(", ", unknown)
                    + " (known: type, expected_bootchain, app_compose, app_compose_raw, expected_compose_hash,"
                    + " os_image_hash, allowed_tcb_status, grace_period, pccs_url, cache_collateral,"
                    + " disable_runtime_verification)");
        }
        JsonNode type = n.get("type");
        if (type == null) {
            throw invalid("missing field `type` (must be \"dstack_tdx\")");
        }
        if (!type.isTextual() || !DstackTdxPolicy.TYPE.equals(type.textValue())) {
            throw invalid("unknown policy type " + type + " (the only type is \"dstack_tdx\")");
        }
        DstackTdxPolicy.Builder b = DstackTdxPolicy.builder();
        JsonNode bc = optional(n, "expected_bootchain");
        if (bc != null) {
            if (!bc.isObject()) {
                throw invalid("expected_bootchain must be an object {mrtd, rtmr0, rtmr1, rtmr2}");
            }
            for (var it = bc.fieldNames(); it.hasNext();) {
                String f = it.next();
                if (!BOOTCHAIN_FIELDS.contains(f)) {
                    throw invalid("unknown field expected_bootchain." + f + " (known: mrtd, rtmr0, rtmr1, rtmr2)");
                }
            }
            String[] v = new String[4];
            for (int i = 0; i < 4; i++) {
                JsonNode f = bc.get(BOOTCHAIN_FIELDS.get(i));
                if (f == null || !f.isTextual()) {
                    throw invalid("expected_bootchain." + BOOTCHAIN_FIELDS.get(i) + " must be a string");
                }
                v[i] = f.textValue();
            }
            b.expectedBootchain(Bootchain.of(v[0], v[1], v[2], v[3]));
        }
        JsonNode compose = optional(n, "app_compose");
        if (compose != null) {
            b.appCompose(compose);
        }
        b.appComposeRaw(optionalString(n, "app_compose_raw"));
        b.expectedComposeHash(optionalString(n, "expected_compose_hash"));
        b.osImageHash(optionalString(n, "os_image_hash"));
        JsonNode allowed = n.get("allowed_tcb_status");
        if (allowed != null) {
            if (!allowed.isArray()) {
                throw invalid("allowed_tcb_status must be an array of strings");
            }
            List<String> list = new ArrayList<>();
            for (JsonNode s : allowed) {
                if (!s.isTextual()) {
                    throw invalid("allowed_tcb_status must be an array of strings, found " + s);
                }
                list.add(s.textValue());
            }
            b.allowedTcbStatus(list);
        }
        JsonNode grace = optional(n, "grace_period");
        if (grace != null) {
            if (!grace.isIntegralNumber() || grace.bigIntegerValue().signum() < 0) {
                throw invalid("grace_period must be a non-negative integer number of seconds, got " + grace);
            }
            BigInteger g = grace.bigIntegerValue();
            if (g.compareTo(BigInteger.valueOf(DstackTdxPolicy.MAX_GRACE_PERIOD_SECONDS)) > 0) {
                throw DstackTdxPolicy.graceTooLarge(g.toString());
            }
            b.gracePeriodSeconds(g.longValue());
        }
        if (n.has("pccs_url")) {
            JsonNode p = n.get("pccs_url");
            if (!p.isNull() && !p.isTextual()) {
                throw invalid("pccs_url must be a string or null");
            }
            b.pccsUrl(p.isNull() ? null : p.textValue());
        }
        b.cacheCollateral(bool(n, "cache_collateral", false));
        b.disableRuntimeVerification(bool(n, "disable_runtime_verification", false));
        return b.build();
    }

    private static JsonNode optional(JsonNode n, String f) {
        JsonNode v = n.get(f);
        return v == null || v.isNull() ? null : v;
    }

    private static String optionalString(JsonNode n, String f) throws AttestationException {
        JsonNode v = optional(n, f);
        if (v == null) {
            return null;
        }
        if (!v.isTextual()) {
            throw invalid(f + " must be a string");
        }
        return v.textValue();
    }

    private static boolean bool(JsonNode n, String f, boolean dflt) throws AttestationException {
        JsonNode v = n.get(f);
        if (v == null) {
            return dflt;
        }
        if (!v.isBoolean()) {
            throw invalid(f + " must be true or false");
        }
        return v.booleanValue();
    }

    /**
     * The policy as Atlas writes it (member order of Atlas's struct; Option members only when present;
     * {@code app_compose} in serde_json form, so its hash is unchanged).
     */
    public static String write(DstackTdxPolicy policy) {
        return SerdeJson.write(toJsonNode(policy));
    }

    /** Same content as {@link #write}, indented for people. */
    public static String writePretty(DstackTdxPolicy policy) {
        return SerdeJson.writePretty(toJsonNode(policy));
    }

    private static AttestationException invalid(String msg) {
        return DstackTdxPolicy.invalid(msg);
    }

    private static ObjectNode toJsonNode(DstackTdxPolicy p) {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("type", DstackTdxPolicy.TYPE);
        if (p.expectedBootchain() != null) {
            ObjectNode bc = o.putObject("expected_bootchain");
            for (String f : BOOTCHAIN_FIELDS) {
                bc.put(f, p.expectedBootchain().field(f));
            }
        }
        JsonNode compose = p.appCompose();
        if (compose != null) {
            o.set("app_compose", compose);
        }
        if (p.appComposeRaw() != null) {
            o.put("app_compose_raw", p.appComposeRaw());
        }
        if (p.expectedComposeHash() != null) {
            o.put("expected_compose_hash", p.expectedComposeHash());
        }
        if (p.osImageHash() != null) {
            o.put("os_image_hash", p.osImageHash());
        }
        ArrayNode a = o.putArray("allowed_tcb_status");
        p.allowedTcbStatus().forEach(a::add);
        if (p.gracePeriodSeconds() != null) {
            o.put("grace_period", p.gracePeriodSeconds().longValue());
        }
        // Always written: Atlas omits a None pccs_url, which reads back as the Phala default and so silently
        // turns "Intel PCS" into "Phala PCCS"; an explicit null keeps the meaning.
        if (p.pccsUrl() != null) {
            o.put("pccs_url", p.pccsUrl());
        } else {
            o.putNull("pccs_url");
        }
        o.put("cache_collateral", p.cacheCollateral());
        o.put("disable_runtime_verification", p.disableRuntimeVerification());
        return o;
    }
}
