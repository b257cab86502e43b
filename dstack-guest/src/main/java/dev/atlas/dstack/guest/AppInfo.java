package dev.atlas.dstack.guest;

/**
 * {@code Info}: the agent's {@code AppInfo} (§5.2), field for field. Hex fields are lowercase hex without
 * {@code 0x}; {@code tcbInfo} is the agent's JSON text, unparsed.
 */
public record AppInfo(String appId, String instanceId, String appCert, String tcbInfo, String appName,
        String deviceId, String mrAggregated, String osImageHash, String keyProviderInfo, String composeHash,
        String vmConfig, String cloudVendor, String cloudProduct) {}
