package dev.atlas.dstack.gateway.internal;

import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.ra.AppInfo;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.RaTlsVerifier;
import dev.atlas.tdx.AttestationException;

import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.List;
import java.util.Optional;

/**
 * Who calls the mTLS RPC listener (§3.3 gateway side, step 1; {@code ra-rpc}'s {@code CallContext}): the client
 * chain must lead to the KMS root CA ({@code [tls.mutual] ca_certs}); its leaf's {@code .9} app info is used (an
 * issuer claim, authenticated by the chain); without it, the leaf's {@code .8} attestation is verified (quote,
 * collateral, RTMR3 replay, binding to the key) and the app info decoded from it ({@code decode_app_info(false)}).
 */
public final class ClientAuth {
    private final RaTlsVerifier verifier;
    private final Clock clock;

    public ClientAuth(X509Certificate kmsRootCa, DstackTdxVerifier attestationVerifier, Clock clock) {
        this.verifier = RaTlsVerifier.builder().trustedCa(kmsRootCa).dstackVerifier(attestationVerifier).anyUsage()
                .attestationRequired(false).build();
        this.clock = clock;
    }

    /** What the chain proves: the app info, and the leaf's app id extension if any. */
    public record Caller(AppInfo appInfo, Optional<byte[]> appIdExtension, String source) {
    }

    /**
     * @throws AttestationException {@code REGISTRATION_DENIED} without a client certificate, the verifier's reason
     *         for a chain that does not verify, {@code ATTESTATION_MISSING} when the leaf has neither {@code .9}
     *         nor {@code .8} ({@code neither app-info nor attestation provided})
     */
    public Caller verify(Optional<List<X509Certificate>> chain) throws AttestationException {
        if (chain.isEmpty() || chain.get().isEmpty()) {
            throw new RaException(Reason.REGISTRATION_DENIED, "client certificate", "Client authentication is "
                    + "required (no client certificate)");
        }
        RaTlsVerifier.Result r = verifier.verify(chain.get(), clock.instant());
        if (r.appInfo().isPresent()) {
            return new Caller(r.appInfo().get(), r.appId(), "app-info");
        }
        if (r.report().isPresent() && r.leaf().versionedAttestation().isPresent()) {
            try {
                return new Caller(r.leaf().versionedAttestation().get().appInfo(false), r.appId(), "attestation");
            } catch (RaException e) {
                throw new RaException(e.raReason(), e.field(), "failed to decode app-info from attestation: "
                        + e.detail(), e);
            }
        }
        throw new RaException(Reason.ATTESTATION_MISSING, "client certificate", "neither app-info nor attestation "
                + "provided");
    }

    /** Only the chain and the app id extension (GetPeers). */
    public Optional<byte[]> appId(Optional<List<X509Certificate>> chain) throws AttestationException {
        if (chain.isEmpty() || chain.get().isEmpty()) {
            return Optional.empty();
        }
        RaTlsVerifier.Result r = verifier.verify(chain.get(), clock.instant());
        return r.appId().or(() -> r.appInfo().map(AppInfo::appId));
    }
}
