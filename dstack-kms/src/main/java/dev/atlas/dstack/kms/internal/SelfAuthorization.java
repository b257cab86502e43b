package dev.atlas.dstack.kms.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.AppInfo;
import dev.atlas.dstack.ra.VersionedAttestation;
import dev.atlas.dstack.ra.kms.AttestationInfoResponse;
import dev.atlas.tdx.AttestationException;
import java.time.Clock;
import java.util.HexFormat;
import java.util.Objects;
import java.util.Optional;

/**
 * {@code [core] enforce_self_authorization} (§2.8 step 2; upstream {@code ensure_self_allowed} in
 * {@code kms/src/main_service.rs}, {@code local_kms_boot_info} in {@code main_service/upgrade_authority.rs}): before
 * every trusted RPC the KMS asks its own webhook, {@code POST /bootAuth/kms}, whether the KMS itself may run. Its
 * BootInfo comes from its own attestation (the guest agent's {@code Attest} with 64 zero bytes of report data,
 * verified like a caller's, full RTMR3 replay) and is cached after the first success; the decision is asked live
 * every time (never cached). A deny is {@code KMS is not allowed: <reason>}.
 *
 * <p>Thread-safe.
 */
public final class SelfAuthorization {
    /** The KMS's own CVM: {@code Attest(report_data)} of its guest agent ({@code SelfAgent::attest} fits). */
    @FunctionalInterface
    public interface Attester {
        /** The VersionedAttestation bytes over {@code reportData64}; {@code AGENT_UNAVAILABLE} on failure. */
        byte[] attest(byte[] reportData64) throws RaException;
    }

    private final boolean enforce;
    private final AuthApi auth;
    private final Attester self;
    private final CallerVerifier verifier;
    private final Clock clock;
    private final SelfAgent agent; // null with the Attester constructor
    private final Object lock = new Object();
    private volatile VerifiedAttestation cachedAttestation;
    private volatile ObjectNode cachedBootInfo;

    /**
     * @param enforce {@code enforce_self_authorization}; false makes {@link #check()} a no-op (with a warning at
     *     construction, as upstream)
     */
    public SelfAuthorization(boolean enforce, AuthApi auth, Attester self, CallerVerifier verifier, Clock clock) {
        this(enforce, auth, self, null, verifier, clock);
    }

    /** With the KMS's guest agent ({@code Attest} and, for {@link #attestationInfo}, {@code Info}). */
    public SelfAuthorization(boolean enforce, AuthApi auth, SelfAgent agent, CallerVerifier verifier, Clock clock) {
        this(enforce, auth, Objects.requireNonNull(agent, "agent")::attest, agent, verifier, clock);
    }

    private SelfAuthorization(boolean enforce, AuthApi auth, Attester self, SelfAgent agent, CallerVerifier verifier,
            Clock clock) {
        this.agent = agent;
        this.enforce = enforce;
        this.auth = Objects.requireNonNull(auth, "auth");
        this.self = Objects.requireNonNull(self, "self");
        this.verifier = Objects.requireNonNull(verifier, "verifier");
        this.clock = Objects.requireNonNull(clock, "clock");
        if (!enforce) {
            System.getLogger("dev.atlas.dstack.kms").log(System.Logger.Level.WARNING, "enforce_self_authorization"
                    + " = false: trusted RPCs are not gated by the KMS's own attestation; do not use in a"
                    + " production TEE deployment");
        }
    }

    /** Whether {@link #check()} asks the webhook. */
    public boolean enforced() {
        return enforce;
    }

    /**
     * The self check: nothing when not enforced; else the cached own BootInfo to {@code /bootAuth/kms}, live.
     *
     * @throws RaException {@code KMS_NOT_ALLOWED} ({@code KMS is not allowed: <reason>}), {@code AUTH_UNAVAILABLE}
     *     ({@code Failed to call self KMS auth check: ...}), {@code AGENT_UNAVAILABLE} or another reason when the
     *     own BootInfo cannot be made ({@code Failed to load cached self boot info: ...})
     */
    public void check() throws RaException {
        checkAndGet();
    }

    /** {@link #check()}, returning the own BootInfo when enforced (for the self key-release gate). */
    public Optional<ObjectNode> checkAndGet() throws RaException {
        if (!enforce) {
            return Optional.empty();
        }
        ObjectNode info;   // a private copy (selfBootInfo copies the cached one): safe to hand out
        try {
            info = selfBootInfo();
        } catch (RaException e) {
            throw new RaException(e.raReason(), null, "Failed to load cached self boot info: " + e.detail(), e);
        }
        BootDecision d;
        try {
            d = auth.bootAuthKms(info);
        } catch (RaException e) {
            throw new RaException(e.raReason(), null, "Failed to call self KMS auth check: " + e.detail(), e);
        }
        if (!d.allowed()) {
            throw new RaException(RaException.Reason.KMS_NOT_ALLOWED, "KMS is not allowed: " + d.reason());
        }
        return Optional.of(info);
    }

    /** The KMS's own BootInfo (full replay, the embedded vm_config), made once and cached. */
    public ObjectNode selfBootInfo() throws RaException {
        ObjectNode b = cachedBootInfo;
        if (b == null) {
            synchronized (lock) {
                if (cachedBootInfo == null) {
                    VerifiedAttestation a = selfAttestation();
                    cachedBootInfo = BootInfos.of(a);
                }
                b = cachedBootInfo;
            }
        }
        return b.deepCopy();
    }

    /**
     * The KMS's own verified attestation (report data all zero, full replay, the embedded vm_config), made once
     * and cached on success; {@code Failed to get local KMS attestation: ...} / {@code Failed to verify local KMS
     * attestation: ...} otherwise.
     */
    public VerifiedAttestation selfAttestation() throws RaException {
        VerifiedAttestation a = cachedAttestation;
        if (a != null) {
            return a;
        }
        synchronized (lock) {
            if (cachedAttestation != null) {
                return cachedAttestation;
            }
            byte[] zero = new byte[64];
            byte[] raw;
            try {
                raw = self.attest(zero);
            } catch (RaException e) {
                throw new RaException(RaException.Reason.AGENT_UNAVAILABLE, null, "Failed to get local KMS attestation: "
                        + e.detail(), e);
            }
            VersionedAttestation att;
            try {
                att = VersionedAttestation.decode(raw);
            } catch (RaException e) {
                throw new RaException(RaException.Reason.AGENT_UNAVAILABLE, null, "Failed to decode local KMS attestation: "
                        + e.detail(), e);
            }
            CallerVerifier.Verified v;
            try {
                v = verifier.verifyEvidence(att, zero, clock.instant());
            } catch (AttestationException e) {
                throw new RaException(RaException.Reason.AGENT_UNAVAILABLE, null, "Failed to verify local KMS attestation: "
                        + e.detail(), e);
            }
            cachedAttestation = v.decode(false, "");
            return cachedAttestation;
        }
    }

    /**
     * {@code Onboard.GetAttestationInfo} (upstream {@code onboard_service.rs}, {@code get_attestation_info}): a
     * fresh own attestation (zero report data), verified; its app info decoded with the guest agent's
     * {@code vm_config} (full replay); {@code device_id = SHA-256(ppid)}; {@code eth_rpc_url} and the contract
     * address from the webhook's {@code GET /}, empty when that fails (logged) or for {@code dev}.
     */
    public AttestationInfoResponse attestationInfo(String siteName) throws RaException {
        Objects.requireNonNull(siteName, "siteName");
        byte[] zero = new byte[64];
        byte[] raw;
        try {
            raw = self.attest(zero);
        } catch (RaException e) {
            throw new RaException(RaException.Reason.AGENT_UNAVAILABLE, null, "Failed to get attestation: "
                    + e.detail(), e);
        }
        VersionedAttestation att;
        try {
            att = VersionedAttestation.decode(raw);
        } catch (RaException e) {
            throw new RaException(e.raReason(), null, "Failed to decode attestation: " + e.detail(), e);
        }
        CallerVerifier.Verified v;
        try {
            v = verifier.verifyEvidence(att, zero, clock.instant());
        } catch (AttestationException e) {
            throw new RaException(RaException.Reason.AGENT_UNAVAILABLE, null, "Failed to verify attestation: "
                    + e.detail(), e);
        }
        String vmConfig = "";
        if (agent != null) {
            try {
                vmConfig = agent.vmConfig();
            } catch (RaException e) {
                throw new RaException(RaException.Reason.AGENT_UNAVAILABLE, null, "Failed to get VM info: "
                        + e.detail(), e);
            }
        }
        String ethRpcUrl = "";
        String contract = "";
        if (!auth.isDev()) {
            try {
                AuthInfo info = auth.info();
                ethRpcUrl = info.ethRpcUrl();
                contract = info.kmsContractAddr();
            } catch (RaException e) {
                System.getLogger("dev.atlas.dstack.kms").log(System.Logger.Level.WARNING,
                        "failed to get auth api info: " + e.detail());
            }
        }
        AppInfo info;
        try {
            VerifiedAttestation a = v.decode(false, vmConfig);
            BootInfos.of(a);
            info = a.appInfo();
        } catch (RaException e) {
            throw new RaException(e.raReason(), null, "Failed to decode app info: " + e.detail(), e);
        }
        byte[] ppid = HexFormat.of().parseHex(v.report().dcapReport().ppid());
        return new AttestationInfoResponse(BootInfos.sha256(ppid), info.mrAggregated(), info.osImageHash(),
                BootInfos.TEE_VARIANT_TDX, siteName, ethRpcUrl, contract, ppid);
    }
}
