package dev.atlas.dstack.kms.internal;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * {@code [core.auth_api] type = "dev"}: every boot is allowed with the configured {@code gateway_app_id}, and
 * {@code GetMeta} reports {@code is_dev = allow_any_upgrade = true} (upstream {@code AuthApi::Dev}). It says so at
 * construction (a WARNING) and {@link AuditLog} adds {@link #WARNING} to every line.
 */
public final class DevAuthApi implements AuthApi {
    /** What the warning and every audit line say. */
    public static final String WARNING = "auth_api type \"dev\" allows every app and every KMS to get keys:"
            + " development only, never in production";
    private static final System.Logger LOG = System.getLogger("dev.atlas.dstack.kms.auth");

    private final String gatewayAppId;

    DevAuthApi(String gatewayAppId) {
        this.gatewayAppId = Objects.requireNonNull(gatewayAppId, "gatewayAppId");
        LOG.log(System.Logger.Level.WARNING, WARNING);
    }

    @Override
    public BootDecision bootAuthApp(JsonNode bootInfo) {
        return new BootDecision(true, "", Optional.of(gatewayAppId));
    }

    @Override
    public BootDecision bootAuthKms(JsonNode bootInfo) {
        return new BootDecision(true, "", Optional.of(gatewayAppId));
    }

    @Override
    public AuthInfo info() {
        return new AuthInfo("ok", "", gatewayAppId, OptionalLong.empty(), "", "");
    }

    @Override
    public boolean isDev() {
        return true;
    }

    @Override
    public String toString() {
        return "AuthApi[dev, gateway_app_id=" + gatewayAppId + "]";
    }
}
