package dev.atlas.dstack.kms.internal;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.AttestationReport;
import dev.atlas.dstack.ra.AppInfo;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.VersionedAttestation;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The {@code BootInfo} JSON the KMS POSTs to {@code /bootAuth/app} and {@code /bootAuth/kms}, exactly as the Rust
 * KMS serializes it: upstream {@code dstack_verifier::PolicyBootInfo} ({@code verifier/src/types.rs}: camelCase,
 * byte fields through {@code serde_human_bytes}, i.e. lowercase hex without {@code 0x}), built by
 * {@code build_boot_info} ({@code kms/src/main_service/upgrade_authority.rs}). Fields in declaration order:
 * {@code teeVariant, mrAggregated, osImageHash, mrSystem, appId, composeHash, instanceId, deviceId,
 * keyProviderInfo, tcbStatus, advisoryIds}. {@code tcbStatus} and {@code advisoryIds} come from the verified DCAP
 * report ({@code policy_tcb_fields}); {@code deviceId} is SHA-256 of the PPID of the PCK certificate.
 */
public final class BootInfos {
    /** {@code TeeVariant::DstackTdx} as serde names it; the only platform this KMS verifies. */
    public static final String TEE_VARIANT_TDX = "dstack-tdx";
    /** The text of upstream's {@code ensure_app_id_len}. */
    public static final String APP_ID_LENGTH = "app_id must be 20 bytes";
    private static final HexFormat HEX = HexFormat.of();

    private BootInfos() {
    }

    /** {@code build_boot_info(att, bootTime, vmConfig)}: decodes the app info again with these inputs. */
    public static ObjectNode of(VerifiedAttestation a, boolean bootTime, String vmConfig) throws RaException {
        AppInfo info = appInfo(a.attestation(), a.report(), bootTime, vmConfig);
        return of(new VerifiedAttestation(a.attestation(), a.report(), info, vmConfig));
    }

    /** The BootInfo of {@code a}'s app info; refuses an app id that is not 20 bytes ({@value #APP_ID_LENGTH}). */
    public static ObjectNode of(VerifiedAttestation a) throws RaException {
        AppInfo info = a.appInfo();
        requireAppIdLength(info.appId());
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("teeVariant", TEE_VARIANT_TDX);
        o.put("mrAggregated", HEX.formatHex(info.mrAggregated()));
        o.put("osImageHash", HEX.formatHex(info.osImageHash()));
        o.put("mrSystem", HEX.formatHex(info.mrSystem()));
        o.put("appId", HEX.formatHex(info.appId()));
        o.put("composeHash", HEX.formatHex(info.composeHash()));
        o.put("instanceId", HEX.formatHex(info.instanceId()));
        o.put("deviceId", HEX.formatHex(info.deviceId()));
        o.put("keyProviderInfo", HEX.formatHex(info.keyProviderInfo()));
        o.put("tcbStatus", a.report().tcbStatus().jsonName());
        ArrayNode adv = o.putArray("advisoryIds");
        for (String id : a.report().advisoryIds()) {
            adv.add(id);
        }
        return o;
    }

    /** {@code ensure_app_id_len}. */
    public static void requireAppIdLength(byte[] appId) throws RaException {
        if (appId.length != 20) {
            throw new RaException(RaException.Reason.INVALID_ARGUMENT, APP_ID_LENGTH);
        }
    }

    /**
     * {@code decode_app_info_ex(bootTime, vmConfig)} of a verified attestation: dstack-ra's {@link AppInfo} with
     * {@code device_id = SHA-256(PPID)} from the verified report (dstack-ra alone has no report and leaves
     * {@code SHA-256("")}).
     */
    public static AppInfo appInfo(VersionedAttestation att, AttestationReport report, boolean bootTime,
            String vmConfig) throws RaException {
        AppInfo i = att.appInfo(bootTime, vmConfig);
        byte[] deviceId = sha256(HEX.parseHex(report.dcapReport().ppid()));
        return new AppInfo(i.appId(), i.composeHash(), i.instanceId(), deviceId, i.mrSystem(), i.mrAggregated(),
                i.osImageHash(), i.keyProviderInfo(), i.initScriptHashes());
    }

    static byte[] sha256(byte[] b) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(b);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
