package dev.atlas.dstack.auth;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * dstack's auth-mock policies, for test deployments only ({@code --mock-policy}; refused with
 * {@code --production} or {@code NODE_ENV=production}). Allow answers carry {@code MOCK_GATEWAY_APP_ID}, deny
 * answers carry {@code ""}, as auth-mock does.
 */
public enum MockPolicy {
    ALLOW_ALL("allow-all"),
    DENY_ALL("deny-all"),
    DENY_KMS("deny-kms"),
    DENY_APP("deny-app"),
    ALLOWLIST_DEVICE("allowlist-device"),
    ALLOWLIST_MR("allowlist-mr");

    /** auth-mock's default {@code MOCK_GATEWAY_APP_ID}. */
    public static final String DEFAULT_GATEWAY_APP_ID = "0xmockgateway1234567890123456789012345678";
    /** auth-mock's default {@code KMS_CONTRACT_ADDR}. */
    public static final String DEFAULT_KMS_CONTRACT = "0xmockcontract1234567890123456789012345678";

    private final String wireName;

    MockPolicy(String wireName) {
        this.wireName = wireName;
    }

    /** The name used on the command line and by auth-mock's {@code MOCK_POLICY}. */
    public String wireName() {
        return wireName;
    }

    /** Parses a policy name; unlike auth-mock, an unknown name is an error rather than allow-all. */
    public static MockPolicy of(String name) {
        for (MockPolicy p : values()) {
            if (p.wireName.equals(name)) {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown mock policy '" + name + "' ("
                + Arrays.stream(values()).map(MockPolicy::wireName).collect(Collectors.joining(", ")) + ")");
    }

    private static List<String> list(Map<String, String> env, String name) {
        List<String> out = new ArrayList<>();
        for (String s : env.getOrDefault(name, "").split(",")) {
            String t = bare(s);
            if (!t.isEmpty()) {
                out.add(t);
            }
        }
        return out;
    }

    private static String bare(String hex) {
        String t = hex.strip().toLowerCase(Locale.ROOT);
        return t.startsWith("0x") ? t.substring(2) : t;
    }

    /** The decision for one request ({@code kms}: the KMS endpoint); {@code env} holds the MOCK_* variables. */
    public BootDecision decide(boolean kms, BootInfo b, Map<String, String> env) {
        String gw = env.getOrDefault("MOCK_GATEWAY_APP_ID", DEFAULT_GATEWAY_APP_ID);
        return switch (this) {
            case ALLOW_ALL -> BootDecision.allow(kms ? "mock KMS always allowed" : "mock app always allowed", gw);
            case DENY_ALL -> BootDecision.deny("mock policy: deny-all", "");
            case DENY_KMS -> kms ? BootDecision.deny("mock policy: deny-kms", "")
                    : BootDecision.allow("mock app allowed (deny-kms policy)", gw);
            case DENY_APP -> kms ? BootDecision.allow("mock KMS allowed (deny-app policy)", gw)
                    : BootDecision.deny("mock policy: deny-app", "");
            case ALLOWLIST_DEVICE -> allowlist(list(env, "MOCK_ALLOWED_DEVICE_IDS"), b.deviceId(), "device", gw);
            case ALLOWLIST_MR -> allowlist(list(env, "MOCK_ALLOWED_MR_AGGREGATED"), b.mrAggregated(), "mrAggregated",
                    gw);
        };
    }

    /**
     * The {@code note} of {@code GET /}: that this is a mock backend, and what this policy actually answers.
     * auth-mock's own note ("all authentications will succeed") is true of {@code allow-all} only.
     */
    public String note(Map<String, String> env) {
        String head = "this is a mock backend (policy " + wireName + ") - ";
        return switch (this) {
            case ALLOW_ALL -> "this is a mock backend - all authentications will succeed";
            case DENY_ALL -> head + "every authentication is denied";
            case DENY_KMS -> head + "app boots are allowed, KMS boots are denied";
            case DENY_APP -> head + "KMS boots are allowed, app boots are denied";
            case ALLOWLIST_DEVICE -> allowlistNote(head, list(env, "MOCK_ALLOWED_DEVICE_IDS").size(), "device ids",
                    "MOCK_ALLOWED_DEVICE_IDS");
            case ALLOWLIST_MR -> allowlistNote(head, list(env, "MOCK_ALLOWED_MR_AGGREGATED").size(),
                    "aggregated MRs", "MOCK_ALLOWED_MR_AGGREGATED");
        };
    }

    private static String allowlistNote(String head, int n, String what, String variable) {
        return n == 0 ? head + variable + " is empty, so every authentication is denied"
                : head + "only the " + n + " " + what + " in " + variable + " are allowed, everything else is denied";
    }

    private BootDecision allowlist(List<String> allowed, String value, String what, String gw) {
        if (allowed.isEmpty()) {
            return BootDecision.deny("mock policy: " + wireName + " with empty list", "");
        }
        if (allowed.contains(bare(value))) {
            return BootDecision.allow("mock policy: " + what + " " + value + " allowed", gw);
        }
        return BootDecision.deny("mock policy: " + what + " " + value + " not in allowlist", "");
    }
}
