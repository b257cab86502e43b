package dev.atlas.dstack.gateway.internal;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.gateway.GatewayConfig;
import dev.atlas.dstack.ra.AppInfo;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;

import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.util.HexFormat;

/**
 * The optional app-level hook of {@code [core.auth]} (§3.3 step 2; {@code main_service/auth_client.rs}): POST the
 * caller's {@code AppInfo} as JSON to {@code url}; any 2xx allows, anything else (another status, a timeout, no
 * answer) refuses. Not the KMS webhook.
 */
public final class AuthHook {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HexFormat HEX = HexFormat.of();
    private final GatewayConfig.Auth config;
    private final HttpClient http;

    public AuthHook(GatewayConfig.Auth config) {
        this.config = config;
        this.http = config.enabled() ? HttpClient.newBuilder().connectTimeout(config.timeout())
                .followRedirects(HttpClient.Redirect.NEVER).build() : null;
    }

    /** The JSON dstack posts: {@code AppInfo} with hex byte fields. */
    static String json(AppInfo i) {
        ObjectNode o = JSON.createObjectNode();
        o.put("app_id", HEX.formatHex(i.appId()));
        o.put("compose_hash", HEX.formatHex(i.composeHash()));
        o.put("instance_id", HEX.formatHex(i.instanceId()));
        o.put("device_id", HEX.formatHex(i.deviceId()));
        o.put("mr_system", HEX.formatHex(i.mrSystem()));
        o.put("mr_aggregated", HEX.formatHex(i.mrAggregated()));
        o.put("os_image_hash", HEX.formatHex(i.osImageHash()));
        o.put("key_provider_info", HEX.formatHex(i.keyProviderInfo()));
        if (i.initScriptHashes() != null) {
            ArrayNode a = o.putArray("init_script_hashes");
            i.initScriptHashes().forEach(h -> a.add(HEX.formatHex(h)));
        }
        return o.toString();
    }

    /** @throws RaException {@code REGISTRATION_DENIED} naming the status, or {@code AUTH_UNAVAILABLE} */
    public void ensureAuthorized(AppInfo info) throws RaException {
        if (!config.enabled()) {
            return;
        }
        HttpRequest req = HttpRequest.newBuilder(config.url()).timeout(config.timeout())
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json(info)))
                .build();
        HttpResponse<Void> res;
        try {
            res = http.send(req, HttpResponse.BodyHandlers.discarding());
        } catch (HttpTimeoutException e) {
            throw new RaException(Reason.AUTH_UNAVAILABLE, "core.auth.url", "App authorization failed: Auth timeout "
                    + "(" + config.timeout().toSeconds() + "s, " + config.url() + ")");
        } catch (IOException e) {
            throw new RaException(Reason.AUTH_UNAVAILABLE, "core.auth.url", "App authorization failed: Failed to "
                    + "send request to " + config.url() + " (" + e.getClass().getSimpleName() + ")");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RaException(Reason.AUTH_UNAVAILABLE, "core.auth.url", "App authorization failed: interrupted");
        }
        if (res.statusCode() / 100 != 2) {
            throw new RaException(Reason.REGISTRATION_DENIED, "core.auth.url", "App authorization failed: Request "
                    + "failed: HTTP status " + res.statusCode() + " from " + config.url());
        }
    }
}
