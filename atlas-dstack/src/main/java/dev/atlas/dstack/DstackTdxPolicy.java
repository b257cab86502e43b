package dev.atlas.dstack;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.internal.SerdeJson;
import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.AttestationException.Reason;
import dev.atlas.tdx.CollateralClient;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;

/**
 * What a dstack TDX workload must be, in Atlas's policy JSON (spec atls-protocol §5):
 * {@code {"type":"dstack_tdx", "expected_bootchain":{...}, "app_compose":..., "os_image_hash":...,
 * "allowed_tcb_status":[...], "grace_period":N, "pccs_url":..., "cache_collateral":b,
 * "disable_runtime_verification":b}}. Immutable; built only through {@link #fromJson}, {@link #builder()},
 * {@link #productionBuilder()} or {@link #dev()}, all of which validate. See {@code docs/policy.md}.
 *
 * <p>Additions to Atlas (optional): {@code expected_compose_hash} (hex SHA-256 the {@code compose-hash}
 * event must carry) and {@code app_compose_raw} (the exact app-compose.json text, hashed as UTF-8 bytes);
 * at most one of {@code app_compose}, {@code app_compose_raw}, {@code expected_compose_hash} may be given.
 */
public final class DstackTdxPolicy {
    /** The policy JSON's {@code type}. */
    public static final String TYPE = "dstack_tdx";
    /** Default {@code pccs_url} when the member is absent (Atlas's default). */
    public static final String DEFAULT_PCCS_URL = "https://pccs.phala.network/tdx/certification/v4";
    /** Statuses {@link #dev()} allows. */
    public static final List<String> DEV_ALLOWED_TCB_STATUS = List.of("UpToDate", "SWHardeningNeeded", "OutOfDate");
    /** Accepted in {@code allowed_tcb_status}: every status the verifier can return, plus Atlas's TDRelaunchAdvised. */
    public static final List<String> TCB_STATUSES = List.of("UpToDate", "SWHardeningNeeded", "ConfigurationNeeded",
            "ConfigurationAndSWHardeningNeeded", "OutOfDate", "OutOfDateConfigurationNeeded", "TDRelaunchAdvised");

    private static final Set<String> FIELDS = Set.of("type", "expected_bootchain", "app_compose", "app_compose_raw",
            "expected_compose_hash", "os_image_hash", "allowed_tcb_status", "grace_period", "pccs_url",
            "cache_collateral", "disable_runtime_verification");
    private static final List<String> BOOTCHAIN_FIELDS = List.of("mrtd", "rtmr0", "rtmr1", "rtmr2");
    private static final int MAX_JSON_CHARS = 8 << 20;

    /**
     * Largest {@code grace_period}: 365 days (31,536,000 s). A grace period is a stop-gap while a platform's TCB
     * update is rolled out, not a way to accept OutOfDate forever; the bound also keeps "TCB date + grace" far
     * from overflowing an {@code Instant}, so a policy that loads can always be evaluated.
     */
    public static final long MAX_GRACE_PERIOD_SECONDS = 365L * 24 * 3600;

    private final Bootchain expectedBootchain;
    private final JsonNode appCompose;
    private final String appComposeRaw;
    private final String expectedComposeHash;
    private final String osImageHash;
    private final List<String> allowedTcbStatus;
    private final Long gracePeriodSeconds;
    private final String pccsUrl;
    private final boolean cacheCollateral;
    private final boolean disableRuntimeVerification;
    private final String composeHash;

    private DstackTdxPolicy(Builder b, String composeHash) {
        this.expectedBootchain = b.expectedBootchain;
        this.appCompose = b.appCompose == null ? null : b.appCompose.deepCopy();
        this.appComposeRaw = b.appComposeRaw;
        this.expectedComposeHash = b.expectedComposeHash;
        this.osImageHash = b.osImageHash;
        this.allowedTcbStatus = Collections.unmodifiableList(new ArrayList<>(b.allowedTcbStatus));
        this.gracePeriodSeconds = b.gracePeriodSeconds;
        this.pccsUrl = b.pccsUrl;
        this.cacheCollateral = b.cacheCollateral;
        this.disableRuntimeVerification = b.disableRuntimeVerification;
        this.composeHash = composeHash;
    }

    /** A builder with Atlas's JSON defaults: allowed {@code ["UpToDate"]}, Phala PCCS, no collateral cache. */
    public static Builder builder() {
        return new Builder(false);
    }

    /**
     * A builder for production: {@link Builder#build()} additionally requires runtime verification on, an
     * https collateral URL, and refuses {@code TDRelaunchAdvised} (never produced, so listing it is a mistake).
     */
    public static Builder productionBuilder() {
        return new Builder(true);
    }

    /**
     * Atlas's {@code DstackTdxPolicy::dev()}: <strong>runtime verification off</strong> (any bootchain, any
     * compose, any OS image), statuses UpToDate, SWHardeningNeeded and OutOfDate allowed. For development
     * against real hardware only; {@link #warnings()} says so.
     */
    public static DstackTdxPolicy dev() {
        Builder b = builder().disableRuntimeVerification(true).allowedTcbStatus(DEV_ALLOWED_TCB_STATUS);
        return new DstackTdxPolicy(b, null);
    }

    // ------------------------------------------------------------------ JSON

    /**
     * Reads Atlas's policy JSON. Unknown members, wrong types, duplicate keys and trailing text are rejected.
     *
     * @throws AttestationException {@link Reason#INVALID_POLICY} naming the member and the rule
     */
    public static DstackTdxPolicy fromJson(String json) throws AttestationException {
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
        if (!type.isTextual() || !TYPE.equals(type.textValue())) {
            throw invalid("unknown policy type " + type + " (the only type is \"dstack_tdx\")");
        }
        Builder b = builder();
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
            if (g.compareTo(BigInteger.valueOf(MAX_GRACE_PERIOD_SECONDS)) > 0) {
                throw graceTooLarge(g.toString());
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
    public String toJson() {
        return SerdeJson.write(toJsonNode());
    }

    /** Same content as {@link #toJson()}, indented for people. */
    public String toPrettyJson() {
        return SerdeJson.writePretty(toJsonNode());
    }

    private ObjectNode toJsonNode() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("type", TYPE);
        if (expectedBootchain != null) {
            ObjectNode bc = o.putObject("expected_bootchain");
            for (String f : BOOTCHAIN_FIELDS) {
                bc.put(f, expectedBootchain.field(f));
            }
        }
        if (appCompose != null) {
            o.set("app_compose", appCompose.deepCopy());
        }
        if (appComposeRaw != null) {
            o.put("app_compose_raw", appComposeRaw);
        }
        if (expectedComposeHash != null) {
            o.put("expected_compose_hash", expectedComposeHash);
        }
        if (osImageHash != null) {
            o.put("os_image_hash", osImageHash);
        }
        ArrayNode a = o.putArray("allowed_tcb_status");
        allowedTcbStatus.forEach(a::add);
        if (gracePeriodSeconds != null) {
            o.put("grace_period", gracePeriodSeconds.longValue());
        }
        // Always written: Atlas omits a None pccs_url, which reads back as the Phala default and so silently
        // turns "Intel PCS" into "Phala PCCS"; an explicit null keeps the meaning.
        if (pccsUrl != null) {
            o.put("pccs_url", pccsUrl);
        } else {
            o.putNull("pccs_url");
        }
        o.put("cache_collateral", cacheCollateral);
        o.put("disable_runtime_verification", disableRuntimeVerification);
        return o;
    }

    // ------------------------------------------------------------------ accessors

    public Bootchain expectedBootchain() {
        return expectedBootchain;
    }

    /** The Atlas-style compose value (a copy), or null. */
    public JsonNode appCompose() {
        return appCompose == null ? null : appCompose.deepCopy();
    }

    public String appComposeRaw() {
        return appComposeRaw;
    }

    public String expectedComposeHash() {
        return expectedComposeHash;
    }

    /**
     * The hash the {@code compose-hash} event must carry, from whichever of {@code app_compose},
     * {@code app_compose_raw} or {@code expected_compose_hash} is set; null if none.
     */
    public String composeHash() {
        return composeHash;
    }

    public String osImageHash() {
        return osImageHash;
    }

    public List<String> allowedTcbStatus() {
        return allowedTcbStatus;
    }

    /** Seconds, or null when no grace period is configured. */
    public Long gracePeriodSeconds() {
        return gracePeriodSeconds;
    }

    /** {@code pccs_url} as written (null when explicitly null). */
    public String pccsUrl() {
        return pccsUrl;
    }

    /** Where collateral comes from: {@code pccs_url}, or Intel's PCS when it is null or empty (as Atlas). */
    public String collateralUrl() {
        return pccsUrl == null || pccsUrl.isEmpty() ? CollateralClient.INTEL_PCS_URL : pccsUrl;
    }

    public boolean cacheCollateral() {
        return cacheCollateral;
    }

    public boolean disableRuntimeVerification() {
        return disableRuntimeVerification;
    }

    /** Things a reviewer should know about this policy (empty for a strict production policy). */
    public List<String> warnings() {
        List<String> w = new ArrayList<>();
        if (disableRuntimeVerification) {
            w.add("runtime verification disabled: bootchain, app compose and OS image are NOT checked; not for"
                    + " production");
        }
        for (String s : allowedTcbStatus) {
            if (!s.equals("UpToDate")) {
                w.add("TCB status " + s + " is allowed" + (s.equals("TDRelaunchAdvised")
                        ? " (never returned by the verifier; listing it has no effect)" : ""));
            }
        }
        if (allowedTcbStatus.isEmpty()) {
            w.add("allowed_tcb_status is empty: every attestation will be rejected");
        }
        if (gracePeriodSeconds != null) {
            w.add("OutOfDate platforms are accepted for " + gracePeriodSeconds + " s after their TCB level's date");
        }
        if (pccsUrl == null || pccsUrl.isEmpty()) {
            w.add("pccs_url is " + (pccsUrl == null ? "null" : "empty") + ": collateral comes from Intel PCS "
                    + CollateralClient.INTEL_PCS_URL);
        } else if (!pccsUrl.startsWith("https://")) {
            w.add("pccs_url is not https: collateral is signed, but its availability can be tampered with");
        }
        return w;
    }

    /** One line for reports: what was enforced. */
    public String summary() {
        StringBuilder sb = new StringBuilder("dstack_tdx; allowed ").append(allowedTcbStatus);
        if (gracePeriodSeconds != null) {
            sb.append("; grace ").append(gracePeriodSeconds).append(" s");
        }
        if (disableRuntimeVerification) {
            sb.append("; runtime verification DISABLED");
        } else {
            sb.append("; bootchain, compose hash ").append(composeHash).append(", OS image ").append(osImageHash);
        }
        return sb.toString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DstackTdxPolicy && ((DstackTdxPolicy) o).toJson().equals(toJson());
    }

    @Override
    public int hashCode() {
        return toJson().hashCode();
    }

    @Override
    public String toString() {
        return "DstackTdxPolicy{" + summary() + "}";
    }

    /** The one message for a grace period over {@link #MAX_GRACE_PERIOD_SECONDS}, from JSON or the builder. */
    private static AttestationException graceTooLarge(String value) {
        return invalid("grace_period " + value + " is too large: the maximum is " + MAX_GRACE_PERIOD_SECONDS
                + " s (365 days)");
    }

    static AttestationException invalid(String msg) {
        return new AttestationException(Reason.INVALID_POLICY, msg);
    }

    // ------------------------------------------------------------------ builder

    /** Validating builder. Defaults are the JSON defaults (see {@code docs/policy.md}). */
    public static final class Builder {
        private final boolean production;
        private Bootchain expectedBootchain;
        private JsonNode appCompose;
        private String appComposeRaw;
        private String expectedComposeHash;
        private String osImageHash;
        private List<String> allowedTcbStatus = List.of("UpToDate");
        private Long gracePeriodSeconds;
        private String pccsUrl = DEFAULT_PCCS_URL;
        private boolean cacheCollateral;
        private boolean disableRuntimeVerification;

        private Builder(boolean production) {
            this.production = production;
        }

        public Builder expectedBootchain(Bootchain b) {
            this.expectedBootchain = b;
            return this;
        }

        /** Atlas-style compose value, hashed with serde_json's serialization (a copy is kept). */
        public Builder appCompose(JsonNode compose) {
            this.appCompose = compose == null ? null : compose.deepCopy();
            return this;
        }

        /** The exact app-compose.json text; its UTF-8 bytes are hashed as dstack does. */
        public Builder appComposeRaw(String text) {
            this.appComposeRaw = text;
            return this;
        }

        /** The compose hash (64 lowercase hex) the {@code compose-hash} event must carry. */
        public Builder expectedComposeHash(String hex) {
            this.expectedComposeHash = hex;
            return this;
        }

        public Builder osImageHash(String hex) {
            this.osImageHash = hex;
            return this;
        }

        public Builder allowedTcbStatus(List<String> statuses) {
            this.allowedTcbStatus = List.copyOf(statuses);
            return this;
        }

        /** Seconds after the matched TCB level's date during which OutOfDate is still accepted; null = none. */
        public Builder gracePeriodSeconds(Long seconds) {
            this.gracePeriodSeconds = seconds;
            return this;
        }

        /** Collateral service; null or empty means Intel PCS (as in Atlas). */
        public Builder pccsUrl(String url) {
            this.pccsUrl = url;
            return this;
        }

        public Builder cacheCollateral(boolean on) {
            this.cacheCollateral = on;
            return this;
        }

        /** Skips bootchain, compose and OS image checks. Everything else still runs. Not for production. */
        public Builder disableRuntimeVerification(boolean off) {
            this.disableRuntimeVerification = off;
            return this;
        }

        /**
         * Validates in Atlas's order (statuses, grace period, OS image hash, bootchain, then the
         * runtime-field requirements), plus this library's rules (see {@code docs/policy.md}).
         *
         * @throws AttestationException {@link Reason#INVALID_POLICY}
         */
        public DstackTdxPolicy build() throws AttestationException {
            for (String s : allowedTcbStatus) {
                if (s == null) {
                    throw invalid("allowed_tcb_status contains null");
                }
                if (s.equals("Revoked")) {
                    throw invalid("TCB status 'Revoked' can never be allowed; remove it from allowed_tcb_status");
                }
                if (!TCB_STATUSES.contains(s)) {
                    throw invalid("invalid TCB status '" + s + "', valid values are: " + TCB_STATUSES);
                }
                if (production && s.equals("TDRelaunchAdvised")) {
                    throw invalid("TCB status 'TDRelaunchAdvised' is never returned by the verifier; a production"
                            + " policy must not list it");
                }
            }
            if (gracePeriodSeconds != null) {
                if (!allowedTcbStatus.contains("OutOfDate")) {
                    throw invalid("grace_period requires allowed_tcb_status to include OutOfDate");
                }
                if (gracePeriodSeconds < 0) {
                    throw invalid("grace_period must not be negative");
                }
                if (gracePeriodSeconds > MAX_GRACE_PERIOD_SECONDS) {
                    throw graceTooLarge(gracePeriodSeconds.toString());
                }
            }
            if (osImageHash != null) {
                hex(osImageHash, "os_image_hash", 32);
            }
            if (expectedBootchain != null) {
                for (String f : BOOTCHAIN_FIELDS) {
                    hex(expectedBootchain.field(f), "expected_bootchain." + f, 48);
                }
            }
            if (expectedComposeHash != null) {
                hex(expectedComposeHash, "expected_compose_hash", 32);
            }
            int composeForms = (appCompose != null ? 1 : 0) + (appComposeRaw != null ? 1 : 0)
                    + (expectedComposeHash != null ? 1 : 0);
            if (composeForms > 1) {
                throw invalid("give only one of app_compose, app_compose_raw and expected_compose_hash");
            }
            String composeHash = expectedComposeHash;
            if (appCompose != null) {
                try {
                    composeHash = ComposeHash.ofJsonValue(appCompose);
                } catch (IllegalArgumentException e) {
                    throw invalid("app_compose cannot be serialized: " + e.getMessage());
                }
            } else if (appComposeRaw != null) {
                composeHash = ComposeHash.ofRawBytes(appComposeRaw.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            }
            if (production && disableRuntimeVerification) {
                throw invalid("a production policy cannot disable runtime verification");
            }
            if (production && pccsUrl != null && !pccsUrl.isEmpty() && !pccsUrl.startsWith("https://")) {
                throw invalid("a production policy needs an https pccs_url (or null for Intel PCS)");
            }
            if (pccsUrl != null && !pccsUrl.isEmpty()) {
                try {
                    java.net.URI u = new java.net.URI(pccsUrl);
                    if (u.getHost() == null || !("https".equals(u.getScheme()) || "http".equals(u.getScheme()))) {
                        throw invalid("pccs_url must be an absolute http(s) URL: " + pccsUrl);
                    }
                } catch (java.net.URISyntaxException e) {
                    throw invalid("pccs_url is not a URL: " + pccsUrl);
                }
            }
            if (!disableRuntimeVerification) {
                if (expectedBootchain == null || osImageHash == null) {
                    throw invalid("expected_bootchain and os_image_hash must be provided together");
                }
                if (composeForms == 0) {
                    throw invalid("app_compose must be provided (or app_compose_raw / expected_compose_hash)");
                }
            }
            return new DstackTdxPolicy(this, composeHash);
        }

        private static void hex(String v, String field, int bytes) throws AttestationException {
            if (v.isEmpty() || !v.chars().allMatch(c -> (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
                throw invalid(field + " must be a lowercase hex string");
            }
            if (v.length() != 2 * bytes) {
                throw invalid(field + " must be " + 2 * bytes + " hex characters (" + bytes + " bytes), got "
                        + v.length());
            }
        }
    }
}
