package dev.atlas.dstack.kms.internal;

import java.util.Objects;
import java.util.OptionalLong;

/**
 * The auth webhook's {@code GET /} (upstream {@code AuthApiInfoResponse}: {@code status}, {@code kmsContractAddr},
 * {@code gatewayAppId}, {@code chainId}, {@code appImplementation} required; {@code ethRpcUrl} optional). For the
 * {@code dev} auth API: status {@code "ok"}, the configured gateway app id, everything else empty.
 *
 * @param status {@code status}
 * @param kmsContractAddr {@code kmsContractAddr}
 * @param gatewayAppId {@code gatewayAppId}
 * @param chainId {@code chainId} (an unsigned 64-bit number; empty for {@code dev})
 * @param appAuthImplementation {@code appImplementation}
 * @param ethRpcUrl {@code ethRpcUrl}, {@code ""} when absent
 */
public record AuthInfo(String status, String kmsContractAddr, String gatewayAppId, OptionalLong chainId,
        String appAuthImplementation, String ethRpcUrl) {
    public AuthInfo {
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(kmsContractAddr, "kmsContractAddr");
        Objects.requireNonNull(gatewayAppId, "gatewayAppId");
        Objects.requireNonNull(chainId, "chainId");
        Objects.requireNonNull(appAuthImplementation, "appAuthImplementation");
        Objects.requireNonNull(ethRpcUrl, "ethRpcUrl");
    }
}
