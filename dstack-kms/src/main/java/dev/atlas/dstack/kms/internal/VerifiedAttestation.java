package dev.atlas.dstack.kms.internal;

import dev.atlas.dstack.AttestationReport;
import dev.atlas.dstack.ra.AppInfo;
import dev.atlas.dstack.ra.VersionedAttestation;
import java.util.Objects;

/**
 * A caller's (or the KMS's own) attestation after {@link CallerVerifier}: the evidence, the verified DCAP report
 * (TCB status, advisories, PPID), and the {@link AppInfo} decoded with the {@code vm_config} of the request
 * ({@code decode_app_info_ex}; {@code device_id = SHA-256(PPID)}).
 *
 * @param attestation the attestation as presented
 * @param report the verified report (quote, collateral, RTMR3 replay, report-data binding)
 * @param appInfo what the KMS derives keys for and sends to the webhook
 * @param vmConfig the {@code vm_config} string the app info was decoded with ({@code ""}: the embedded one)
 */
public record VerifiedAttestation(VersionedAttestation attestation, AttestationReport report, AppInfo appInfo,
        String vmConfig) {
    public VerifiedAttestation {
        Objects.requireNonNull(attestation, "attestation");
        Objects.requireNonNull(report, "report");
        Objects.requireNonNull(appInfo, "appInfo");
        Objects.requireNonNull(vmConfig, "vmConfig");
    }

    @Override
    public String toString() {
        return "VerifiedAttestation[" + appInfo + ", tcb=" + report.tcbStatus() + "]";
    }
}
