package dev.atlas.dstack.auth;

/**
 * The answer to a boot request, in auth-simple's wire form {@code {"isAllowed", "reason", "gatewayAppId"}}. An
 * allow has reason {@code ""}.
 */
public record BootDecision(boolean isAllowed, String reason, String gatewayAppId) {
    static BootDecision allow(String reason, String gatewayAppId) {
        return new BootDecision(true, reason, gatewayAppId);
    }

    static BootDecision deny(String reason, String gatewayAppId) {
        return new BootDecision(false, reason, gatewayAppId);
    }
}
