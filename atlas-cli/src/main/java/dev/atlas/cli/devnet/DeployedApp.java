package dev.atlas.cli.devnet;

import java.util.List;
import java.util.Objects;

/**
 * An app deployed on the devnet through the VMM.
 *
 * @param name the VM name (instances of one app: {@code name}, {@code name-2}, ... in the VMM)
 * @param appId 40 hex digits (the compose hash's first 20 bytes)
 * @param instanceIds one per instance, 40 hex digits each
 * @param url the attested URL through the gateway, {@code https://<app_id>-443s.<base>:<proxy port>/}
 * @param attestCommand the exact {@code atlas get} command line that attests it through the gateway
 * @param composeHash 64 hex digits
 * @param vmIds the VMM's VM ids, one per instance
 * @param allowed whether the auth server allows its compose hash
 */
public record DeployedApp(String name, String appId, List<String> instanceIds, String url, String attestCommand,
        String composeHash, List<String> vmIds, boolean allowed) {
    public DeployedApp {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(appId, "appId");
        instanceIds = List.copyOf(instanceIds);
        Objects.requireNonNull(url, "url");
        Objects.requireNonNull(attestCommand, "attestCommand");
        Objects.requireNonNull(composeHash, "composeHash");
        vmIds = List.copyOf(vmIds);
    }

    /** The URL of {@code port} in the guide's grammar: suffix "" (terminated), "s" (passthrough) or "g" (h2); port 80 unsuffixed is the bare id. */
    public String url(String baseDomain, int proxyPort, int port, String suffix) {
        return "https://" + appId + (port == 80 && suffix.isEmpty() ? "" : "-" + port + suffix) + "." + baseDomain
                + ":" + proxyPort + "/";
    }
}
