package dev.atlas.dstack.kms.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.RaTlsCertificate;
import dev.atlas.dstack.ra.VersionedAttestation;
import dev.atlas.tdx.AttestationException;
import java.time.Clock;
import java.util.Objects;

/**
 * {@link Bootstrapper.Authority} over the KMS's auth webhook, as upstream's {@code ensure_self_kms_allowed} and
 * {@code ensure_kms_allowed} ({@code kms/src/main_service/upgrade_authority.rs}):
 * <ul>
 *   <li>self: this KMS's own BootInfo (full replay; {@link SelfAuthorization#selfBootInfo()}) to
 *   {@code POST /bootAuth/kms}, skipped when {@code enforce_self_authorization = false};</li>
 *   <li>source: the source KMS's RPC-certificate attestation verified ({@link CallerVerifier#verifyEvidence}: quote,
 *   collateral, RTMR3 replay, report data {@code SHA-512("ratls-cert:" ‖ certificate SPKI)}), its BootInfo (full
 *   replay, the attestation's own vm_config) to OUR {@code POST /bootAuth/kms}. A legacy certificate without
 *   vm_config has no {@code osImageHash}: it is taken from this KMS's own BootInfo (upstream's workaround;
 *   {@code mrAggregated} covers the image through RTMR0-2 anyway). Always checked, whatever
 *   {@code enforce_self_authorization} says.</li>
 * </ul>
 * A deny is {@code boot denied: <reason>} ({@code BOOT_DENIED} for self, {@code KMS_NOT_ALLOWED} for the source);
 * an unreachable webhook is {@code failed to call KMS auth check: ...} ({@code AUTH_UNAVAILABLE}).
 */
public final class WebhookOnboardAuthority implements Bootstrapper.Authority {
    private final SelfAuthorization self;
    private final AuthApi auth;
    private final CallerVerifier verifier;
    private final Clock clock;

    public WebhookOnboardAuthority(SelfAuthorization self, AuthApi auth, CallerVerifier verifier, Clock clock) {
        this.self = Objects.requireNonNull(self, "self");
        this.auth = Objects.requireNonNull(auth, "auth");
        this.verifier = Objects.requireNonNull(verifier, "verifier");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    @Override
    public void checkSelf() throws AttestationException {
        if (!self.enforced()) {
            return;
        }
        ObjectNode info;
        try {
            info = self.selfBootInfo();
        } catch (RaException e) {
            throw new RaException(e.raReason(), null, "failed to build local KMS boot info: " + e.detail(), e);
        }
        decide(info, Reason.BOOT_DENIED);
    }

    @Override
    public void checkSource(RaTlsCertificate sourceRpcCert) throws AttestationException {
        VersionedAttestation att = sourceRpcCert.versionedAttestation().orElseThrow(() -> new RaException(
                Reason.ATTESTATION_MISSING, Bootstrapper.NO_SOURCE_ATTESTATION));
        byte[] binding = RaTlsCertificate.reportData(RaTlsCertificate.RATLS_CERT_TAG, sourceRpcCert.spki());
        CallerVerifier.Verified v;
        try {
            v = verifier.verifyEvidence(att, binding, clock.instant());
        } catch (AttestationException e) {
            throw rewrap(e, "source KMS attestation did not verify: " + e.detail());
        }
        ObjectNode info;
        try {
            info = BootInfos.of(v.decode(false, ""));
        } catch (RaException e) {
            throw new RaException(e.raReason(), null, "failed to build KMS boot info from attestation: "
                    + e.detail(), e);
        }
        JsonNode image = info.get("osImageHash");
        if (image == null || image.asText().isEmpty()) {
            ObjectNode local;
            try {
                local = self.selfBootInfo();
            } catch (RaException e) {
                throw new RaException(e.raReason(), null,
                        "failed to get local KMS boot info for os_image_hash fallback: " + e.detail(), e);
            }
            info.put("osImageHash", local.path("osImageHash").asText(""));
        }
        decide(info, Reason.KMS_NOT_ALLOWED);
    }

    private void decide(ObjectNode bootInfo, Reason denied) throws RaException {
        BootDecision d;
        try {
            d = auth.bootAuthKms(bootInfo);
        } catch (RaException e) {
            throw new RaException(e.raReason(), null, "failed to call KMS auth check: " + e.detail(), e);
        }
        if (!d.allowed()) {
            throw new RaException(denied, "boot denied: " + d.reason());
        }
    }

    private static AttestationException rewrap(AttestationException e, String detail) {
        if (e instanceof RaException ra) {
            return new RaException(ra.raReason(), null, detail, e);
        }
        return new AttestationException(e.reason(), detail, e);
    }
}
