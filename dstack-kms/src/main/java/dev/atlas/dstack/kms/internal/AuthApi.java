package dev.atlas.dstack.kms.internal;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atlas.dstack.kms.KmsConfig;
import dev.atlas.dstack.ra.RaException;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;

/**
 * {@code [core.auth_api]}: who decides whether an app or a KMS may boot (upstream
 * {@code kms/src/main_service/upgrade_authority.rs}, {@code AuthApi}). Either a webhook ({@link #webhook}: the JDK
 * {@code HttpClient}, a timeout, a bounded strict reader of the answer) or {@code dev} ({@link #dev}: allows
 * everything, and says so in a warning at start and in every audit line). No decision is cached: every call asks.
 *
 * <p>Fail closed: a webhook that is down, slow, answers a non-2xx status or a body that is not a decision makes
 * the call throw {@code AUTH_UNAVAILABLE}; the caller refuses the request. Never an allow.
 */
public interface AuthApi {
    /** {@code POST /bootAuth/app} with the caller's BootInfo JSON. */
    BootDecision bootAuthApp(JsonNode bootInfo) throws RaException;

    /** {@code POST /bootAuth/kms} with a KMS's BootInfo JSON. */
    BootDecision bootAuthKms(JsonNode bootInfo) throws RaException;

    /** {@code GET /} of the webhook (for {@code GetMeta} and {@code Onboard.GetAttestationInfo}). */
    AuthInfo info() throws RaException;

    /** True for {@code type = "dev"} ({@code is_dev} and {@code allow_any_upgrade} of {@code GetMeta}). */
    boolean isDev();

    /** The default time a webhook call may take (connect, request and the whole answer). */
    Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);

    /**
     * From {@code [core.auth_api]}: {@code "webhook"} with {@code webhook.url}, or {@code "dev"} with
     * {@code dev.gateway_app_id}.
     *
     * @throws RaException {@code CONFIG_INVALID} for another type, a webhook without URL or a URL that is not http(s)
     */
    static AuthApi from(KmsConfig c, Clock clock) throws RaException {
        java.util.Objects.requireNonNull(clock, "clock");
        switch (c.authApiType()) {
            case "dev":
                return dev(c.devGatewayAppId());
            case "webhook":
                URI u = c.webhookUrl().orElseThrow(() -> new RaException(RaException.Reason.CONFIG_INVALID,
                        "core.auth_api.webhook.url", "required when core.auth_api.type = \"webhook\""));
                try {
                    return webhook(u);
                } catch (IllegalArgumentException e) {
                    throw new RaException(RaException.Reason.CONFIG_INVALID, "core.auth_api.webhook.url",
                            e.getMessage());
                }
            default:
                throw new RaException(RaException.Reason.CONFIG_INVALID, "core.auth_api.type",
                        "must be \"webhook\" or \"dev\", got \"" + c.authApiType() + "\"");
        }
    }

    /** A webhook at {@code url} (http or https) with {@link #DEFAULT_TIMEOUT}. */
    static AuthApi webhook(URI url) {
        return WebhookAuthApi.create(url, DEFAULT_TIMEOUT);
    }

    /** A webhook at {@code url} with the given timeout for each call. */
    static AuthApi webhook(URI url, Duration timeout) {
        return WebhookAuthApi.create(url, timeout);
    }

    /** {@code type = "dev"}: allows everything; logs a warning now (and {@link DevAuthApi#WARNING} is audited). */
    static AuthApi dev(String gatewayAppId) {
        return new DevAuthApi(gatewayAppId);
    }
}
