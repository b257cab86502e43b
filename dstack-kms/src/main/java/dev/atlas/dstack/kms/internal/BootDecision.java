package dev.atlas.dstack.kms.internal;

import java.util.Objects;
import java.util.Optional;

/**
 * The auth webhook's answer to {@code POST /bootAuth/app} or {@code /bootAuth/kms} (upstream
 * {@code kms/src/main_service/upgrade_authority.rs}, {@code BootResponse}: {@code isAllowed}, {@code reason},
 * {@code gatewayAppId}, all three required).
 *
 * @param allowed {@code isAllowed}
 * @param reason {@code reason} (empty on allow)
 * @param gatewayAppId {@code gatewayAppId} as the webhook wrote it; empty only for a decision that carries none
 */
public record BootDecision(boolean allowed, String reason, Optional<String> gatewayAppId) {
    public BootDecision {
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(gatewayAppId, "gatewayAppId");
    }

    /** The gateway app id, or {@code ""} (what the KMS hands the app as {@code gateway_app_id}). */
    public String gatewayAppIdOrEmpty() {
        return gatewayAppId.orElse("");
    }
}
