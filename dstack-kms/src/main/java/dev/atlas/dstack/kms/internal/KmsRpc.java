package dev.atlas.dstack.kms.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.kms.KmsConfig;
import dev.atlas.dstack.ra.AppInfo;
import dev.atlas.dstack.ra.CertSigningRequest;
import dev.atlas.dstack.ra.EnvCrypt;
import dev.atlas.dstack.ra.K256PrivateKey;
import dev.atlas.dstack.ra.KeyDerivation;
import dev.atlas.dstack.ra.KmsSignatures;
import dev.atlas.dstack.ra.P256PrivateKey;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaTlsCertificate;
import dev.atlas.dstack.ra.SecretBytes;
import dev.atlas.dstack.ra.kms.AppIdRequest;
import dev.atlas.dstack.ra.kms.AppKeyResponse;
import dev.atlas.dstack.ra.kms.GetAppKeyRequest;
import dev.atlas.dstack.ra.kms.GetKmsKeyRequest;
import dev.atlas.dstack.ra.kms.GetMetaResponse;
import dev.atlas.dstack.ra.kms.KmsKeyResponse;
import dev.atlas.dstack.ra.kms.KmsKeys;
import dev.atlas.dstack.ra.kms.PublicKeyResponse;
import dev.atlas.dstack.ra.kms.SignCertRequest;
import dev.atlas.dstack.ra.kms.SignCertResponse;
import dev.atlas.dstack.ra.kms.TempCaCertResponse;
import dev.atlas.dstack.ra.prpc.PrpcContext;
import dev.atlas.dstack.ra.prpc.PrpcDispatcher;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.tdx.AttestationException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * The {@code KMS} service of the main TLS listener (§2.3, §2.8; upstream {@code kms/src/main_service.rs} and
 * {@code ra-rpc/src/rocket_helper.rs}). Every route checks attestation itself (Q14: the temp CA key is public, so a
 * temp-CA-signed certificate proves nothing; only its attestation counts).
 *
 * <p>Order of the checks, as upstream: (transport) the client certificate, when one is presented to
 * {@code GetAppKey}/{@code GetKmsKey}, is checked against the temp CA and its attestation verified and bound to its
 * key ({@code invalid quote: ...}); then in the route: {@code api_version} → self-authorization → attestation present
 * ({@value CallerVerifier#NO_ATTESTATION}) → BootInfo (app id of 20 bytes) → webhook → OS image → key-release gate →
 * derivation. Errors are dstack's texts with upstream's context chain (anyhow {@code {:#}}), for example
 * {@code App not allowed: Boot denied: <reason>}; each release and refusal is one {@link AuditLog} line.
 *
 * <p>Keys come from {@link KeyDerivation}, {@link KmsSignatures} and {@link EnvCrypt}; nothing is re-implemented here.
 */
public final class KmsRpc {
    private static final System.Logger LOG = System.getLogger("dev.atlas.dstack.kms");
    /** Chain failures of the transport step (upstream refuses these in the TLS handshake). */
    private static final Set<RaException.Reason> CHAIN_REASONS = EnumSet.of(RaException.Reason.CERT_CHAIN_INVALID,
            RaException.Reason.CERT_UNTRUSTED_ISSUER, RaException.Reason.CERT_NOT_A_CA, RaException.Reason.CERT_EXPIRED,
            RaException.Reason.CERT_NOT_YET_VALID, RaException.Reason.CERT_MALFORMED);

    /**
     * What the service needs.
     *
     * @param state the keys and certificates
     * @param verifier caller attestation checks
     * @param auth the webhook (or dev)
     * @param self self-authorization
     * @param osImage the OS-image check ({@link OsImageCheck#DISABLED} for {@code image.verify = false})
     * @param audit the audit log
     * @param clock time for checks, certificates and signature timestamps
     * @param sevSnpKeyRelease {@code core.sev_snp_key_release}
     * @param awsNitroTpmKeyRelease {@code core.aws_nitro_tpm_key_release}
     */
    public record Deps(KmsState state, CallerVerifier verifier, AuthApi auth, SelfAuthorization self,
            OsImageCheck osImage, AuditLog audit, Clock clock, boolean sevSnpKeyRelease,
            boolean awsNitroTpmKeyRelease) {
        public Deps {
            Objects.requireNonNull(state, "state");
            Objects.requireNonNull(verifier, "verifier");
            Objects.requireNonNull(auth, "auth");
            Objects.requireNonNull(self, "self");
            Objects.requireNonNull(osImage, "osImage");
            Objects.requireNonNull(audit, "audit");
            Objects.requireNonNull(clock, "clock");
        }

        /**
         * Everything from {@code kms.toml}: the auth API, the caller verifier ({@link CallerVerifier#verifierFrom}),
         * self-authorization through {@code agent}, the audit log to {@link System.Logger}, and {@code osImage}
         * when {@code image.verify} (else {@link OsImageCheck#DISABLED}, with the warning of
         * {@link #osImageCheck}).
         */
        public static Deps from(KmsConfig c, KmsState state, SelfAgent agent, OsImageCheck osImage, Clock clock)
                throws RaException {
            AuthApi auth = AuthApi.from(c, clock);
            CallerVerifier verifier = new CallerVerifier(CallerVerifier.verifierFrom(c, clock));
            SelfAuthorization self = new SelfAuthorization(c.enforceSelfAuthorization(), auth, agent, verifier,
                    clock);
            return new Deps(state, verifier, auth, self, osImageCheck(c.imageVerify(), osImage),
                    AuditLog.toLogger(clock, auth.isDev()), clock, c.sevSnpKeyRelease(), c.awsNitroTpmKeyRelease());
        }
    }

    /** The warning logged when {@code image.verify = false}. */
    public static final String IMAGE_VERIFY_OFF = "core.image.verify = false: the OS image a caller claims in its"
            + " vm_config is not checked against its quote, so the webhook's OS-image allowlist can be bypassed by a"
            + " caller that lies about vm_config (open question Q13); development only";

    /** {@code check} when {@code verify}, else {@link OsImageCheck#DISABLED} with {@link #IMAGE_VERIFY_OFF}. */
    public static OsImageCheck osImageCheck(boolean verify, OsImageCheck check) {
        if (verify) {
            return Objects.requireNonNull(check, "check");
        }
        LOG.log(System.Logger.Level.WARNING, IMAGE_VERIFY_OFF);
        return OsImageCheck.DISABLED;
    }

    private final Deps d;

    private KmsRpc(Deps deps) {
        this.d = Objects.requireNonNull(deps, "deps");
    }

    /** The {@code KMS} service: methods with or without the {@code KMS.} prefix. */
    public static PrpcDispatcher dispatcher(Deps deps) {
        KmsRpc k = new KmsRpc(deps);
        return PrpcDispatcher.builder().trimPrefix("KMS.")
                .method("GetAppKey", k::getAppKey)
                .method("GetKmsKey", k::getKmsKey)
                .method("GetAppEnvEncryptPubKey", k::getAppEnvEncryptPubKey)
                .method("GetMeta", k::getMeta)
                .method("GetTempCaCert", k::getTempCaCert)
                .method("SignCert", k::signCert)
                .onUnexpectedError((m, e) -> LOG.log(System.Logger.Level.ERROR, "KMS." + m + " failed unexpectedly", e))
                .build();
    }

    /** A refusal: the text for the caller, already with upstream's context chain. */
    private static final class Refused extends Exception {
        private static final long serialVersionUID = 1L;

        Refused(String text, Throwable cause) {
            super(text, cause, false, false);
        }
    }

    /** One call: what is known about the caller so far, for the audit line. */
    private final class Call {
        final String method;
        Optional<AppInfo> who = Optional.empty();

        Call(String method) {
            this.method = method;
        }

        PrpcException refuse(Refused r) {
            d.audit().refuse(method, who, r.getMessage());
            return new PrpcException(r.getMessage());
        }

        void release() {
            d.audit().release(method, who);
        }
    }

    private static Refused refused(String context, AttestationException e) {
        String text = context == null ? e.detail() : context + ": " + e.detail();
        return new Refused(text, e);
    }

    // ---- the steps ------------------------------------------------------------------------------------------

    /** Transport: the presented client chain (if any), as ra-rpc does before the route runs. */
    private Optional<CallerVerifier.Verified> transport(PrpcContext ctx) throws Refused {
        try {
            return d.verifier().verifyTransport(ctx.peerCertificates(), d.state().tempCaCert(), d.clock().instant());
        } catch (RaException e) {
            if (CHAIN_REASONS.contains(e.raReason())) {
                throw refused("invalid client certificate", e);
            }
            nonTdxGate(e);
            throw refused("invalid quote", e);
        } catch (AttestationException e) {
            throw refused("invalid quote", e);
        }
    }

    private Optional<ObjectNode> selfAllowed() throws Refused {
        try {
            return d.self().checkAndGet();
        } catch (RaException e) {
            throw refused("KMS self authorization failed", e);
        }
    }

    /** Boot info, webhook, OS image ({@code ensure_app_attestation_allowed}); texts without context. */
    private BootConfig attestationAllowed(Call call, CallerVerifier.Verified v, boolean isKms, boolean bootTime,
            String vmConfig) throws Refused {
        VerifiedAttestation a;
        ObjectNode bootInfo;
        try {
            a = v.decode(bootTime, vmConfig);
        } catch (RaException e) {
            throw refused("decode app info", e);
        }
        call.who = Optional.of(a.appInfo());
        try {
            bootInfo = BootInfos.of(a);
        } catch (RaException e) {
            throw refused(null, e);
        }
        BootDecision decision;
        try {
            decision = isKms ? d.auth().bootAuthKms(bootInfo) : d.auth().bootAuthApp(bootInfo);
        } catch (RaException e) {
            throw refused(null, e);
        }
        if (!decision.allowed()) {
            throw new Refused("Boot denied: " + decision.reason(),
                    new RaException(RaException.Reason.BOOT_DENIED, "Boot denied: " + decision.reason()));
        }
        // SEV-SNP has its own path upstream; every caller here is TDX.
        try {
            d.osImage().verify(a);
        } catch (RaException e) {
            throw refused("Failed to verify os image hash: Failed to verify os image hash", e);
        }
        return new BootConfig(a, bootInfo, decision.gatewayAppIdOrEmpty());
    }

    private record BootConfig(VerifiedAttestation attestation, ObjectNode bootInfo, String gatewayAppId) {
    }

    /**
     * {@code ensure_key_release_allowed}: SEV-SNP and AWS NitroTPM only when opted in; any other platform than TDX
     * is refused here ({@code KEY_RELEASE_GATE}).
     */
    private void keyReleaseGate(ObjectNode bootInfo) throws Refused {
        String variant = bootInfo.path("teeVariant").asText("");
        String refusal = switch (variant) {
            case "dstack-tdx", "dstack-gcp-tdx" -> null;
            case "dstack-amd-sev-snp" -> d.sevSnpKeyRelease() ? null : "amd sev-snp key release is not enabled";
            case "dstack-aws-nitro-tpm" -> d.awsNitroTpmKeyRelease() ? null
                    : "aws nitro-tpm key release is not enabled";
            default -> "key release for tee variant '" + variant + "' is not supported";
        };
        if (refusal != null) {
            throw new Refused(refusal, new RaException(RaException.Reason.KEY_RELEASE_GATE, refusal));
        }
    }

    /**
     * Evidence of another platform than TDX (SEV-SNP, Nitro, GCP, NitroTPM) is refused as the key-release gate's
     * decision ({@code KEY_RELEASE_GATE}): this KMS verifies TDX only, and so releases keys to TDX only.
     */
    private static void nonTdxGate(RaException e) throws Refused {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof RaException r && r.raReason() == RaException.Reason.UNSUPPORTED_PLATFORM) {
                String text = "key release is refused: only TDX evidence is supported (" + r.detail() + ")";
                throw new Refused(text, new RaException(RaException.Reason.KEY_RELEASE_GATE, text));
            }
        }
    }

    // ---- the methods ----------------------------------------------------------------------------------------

    private Object getAppKey(JsonNode msg, PrpcContext ctx) throws PrpcException {
        Call call = new Call("GetAppKey");
        GetAppKeyRequest req = GetAppKeyRequest.fromJson(msg);
        try {
            Optional<CallerVerifier.Verified> caller = transport(ctx);
            if (req.apiVersion() > 1) {
                throw new Refused("Unsupported API version: " + req.apiVersion(), null);
            }
            selfAllowed();
            if (caller.isEmpty()) {
                throw new Refused("App not allowed: " + CallerVerifier.NO_ATTESTATION, null);
            }
            BootConfig boot;
            try {
                boot = attestationAllowed(call, caller.get(), false, false, req.vmConfig());
            } catch (Refused r) {
                throw new Refused("App not allowed: " + r.getMessage(), r.getCause());
            }
            keyReleaseGate(boot.bootInfo());
            AppInfo info = boot.attestation().appInfo();
            byte[] appId = info.appId();
            RootKeys keys = d.state().keys();
            SecretBytes disk = null;
            SecretBytes env = null;
            try {
                disk = KeyDerivation.appDiskKey(keys.rootCaKey(), appId, info.instanceId());
                env = KeyDerivation.appEnvKey(keys.rootCaKey(), appId);
                K256PrivateKey app = KeyDerivation.appK256Key(keys.rootK256Key(), appId);
                byte[] sig = KmsSignatures.k256Signature(keys.rootK256Key(), appId, app.publicKey()).bytes();
                AppKeyResponse resp = new AppKeyResponse(RaTlsCertificate.pem(d.state().rootCaCert()), disk.bytes(),
                        env.bytes(), app.scalar(), sig, boot.gatewayAppId(), boot.gatewayAppId(), info.osImageHash());
                call.release();
                return resp.toJson();
            } catch (RaException e) {
                throw refused("Failed to derive app keys", e);
            } catch (IllegalArgumentException e) {
                // the only caller-chosen length in the response: os_image_hash from the caller's vm_config
                throw new Refused("App not allowed: os_image_hash of vm_config must be empty or 32 bytes, got "
                        + info.osImageHash().length, e);
            } finally {
                destroy(disk);
                destroy(env);
            }
        } catch (Refused r) {
            throw call.refuse(r);
        }
    }

    private Object getKmsKey(JsonNode msg, PrpcContext ctx) throws PrpcException {
        Call call = new Call("GetKmsKey");
        GetKmsKeyRequest req = GetKmsKeyRequest.fromJson(msg);
        try {
            Optional<CallerVerifier.Verified> caller = transport(ctx);
            selfAllowed();
            if (caller.isEmpty()) {
                throw new Refused(CallerVerifier.NO_ATTESTATION, null);
            }
            BootConfig boot = attestationAllowed(call, caller.get(), true, false, req.vmConfig());
            keyReleaseGate(boot.bootInfo());
            RootKeys keys = d.state().keys();
            KmsKeyResponse resp = new KmsKeyResponse(keys.tempCaKey().toPem(),
                    List.of(new KmsKeys(keys.rootCaKey().toPem(), keys.rootK256Key().scalar())));
            call.release();
            return resp.toJson();
        } catch (Refused r) {
            throw call.refuse(r);
        }
    }

    private Object getAppEnvEncryptPubKey(JsonNode msg, PrpcContext ctx) throws PrpcException {
        Call call = new Call("GetAppEnvEncryptPubKey");
        AppIdRequest req = AppIdRequest.fromJson(msg);
        try {
            selfAllowed();
            byte[] appId = req.appId();
            try {
                BootInfos.requireAppIdLength(appId);
            } catch (RaException e) {
                throw refused(null, e);
            }
            RootKeys keys = d.state().keys();
            SecretBytes env = null;
            try {
                env = KeyDerivation.appEnvKey(keys.rootCaKey(), appId);
                byte[] pub = EnvCrypt.publicKey(env);
                long timestamp = d.clock().instant().getEpochSecond();
                byte[] legacy = KmsSignatures.signEnvPublicKey(keys.rootK256Key(), appId, pub).bytes();
                byte[] v1 = KmsSignatures.signEnvPublicKeyV1(keys.rootK256Key(), appId, timestamp, pub).bytes();
                return new PublicKeyResponse(pub, legacy, timestamp, v1).toJson();
            } catch (RaException e) {
                throw refused("Failed to derive env encrypt key", e);
            } finally {
                destroy(env);
            }
        } catch (Refused r) {
            throw call.refuse(r);
        }
    }

    private Object getMeta(JsonNode msg, PrpcContext ctx) throws PrpcException {
        AuthInfo info;
        try {
            info = d.auth().info();
        } catch (RaException e) {
            throw new PrpcException(e.detail());
        }
        boolean dev = d.auth().isDev();
        RootKeys keys = d.state().keys();
        GetMetaResponse resp = new GetMetaResponse(RaTlsCertificate.pem(d.state().rootCaCert()), dev,
                keys.rootK256Key().publicKey(),
                d.state().bootstrapInfo(), dev, Optional.of(info.gatewayAppId()),
                dev ? Optional.empty() : Optional.of(info.kmsContractAddr()), info.chainId(),
                dev ? Optional.empty() : Optional.of(info.appAuthImplementation()));
        return resp.toJson();
    }

    private Object getTempCaCert(JsonNode msg, PrpcContext ctx) throws PrpcException {
        Call call = new Call("GetTempCaCert");
        try {
            Optional<ObjectNode> self = selfAllowed();
            if (self.isPresent()) {
                keyReleaseGate(self.get());
            }
            return new TempCaCertResponse(RaTlsCertificate.pem(d.state().tempCaCert()),
                    d.state().keys().tempCaKey().toPem(),
                    RaTlsCertificate.pem(d.state().rootCaCert())).toJson();
        } catch (Refused r) {
            throw call.refuse(r);
        }
    }

    private Object signCert(JsonNode msg, PrpcContext ctx) throws PrpcException {
        Call call = new Call("SignCert");
        SignCertRequest req = SignCertRequest.fromJson(msg);
        try {
            selfAllowed();
            if (req.apiVersion() != 1 && req.apiVersion() != 2) {
                throw new Refused("Unsupported API version: " + req.apiVersion(), null);
            }
            CertSigningRequest csr;
            try {
                csr = CertSigningRequest.decode(req.csr(), req.apiVersion());
            } catch (RaException e) {
                nonTdxGate(e);
                if (e.raReason() == RaException.Reason.CSR_CONFIRM_MISMATCH) {
                    throw new Refused("Failed to verify csr signature: Invalid confirm word", e);
                }
                throw refused("Failed to parse csr", e);
            }
            try {
                csr.verifySignature(req.signature());
            } catch (RaException e) {
                throw new Refused("Failed to verify csr signature: Invalid signature", e);
            }
            CallerVerifier.Verified v;
            try {
                byte[] expected = RaTlsCertificate.reportData(RaTlsCertificate.RATLS_CERT_TAG, csr.spki());
                v = d.verifier().verifyEvidence(csr.versionedAttestation(), expected, d.clock().instant());
            } catch (AttestationException e) {
                throw refused("Quote verification failed", e);
            }
            BootConfig boot = attestationAllowed(call, v, false, true, req.vmConfig());
            keyReleaseGate(boot.bootInfo());
            byte[] appId = boot.attestation().appInfo().appId();
            List<String> chain;
            try {
                P256PrivateKey appCaKey = KeyDerivation.appCaKey(d.state().keys().rootCaKey(), appId);
                X509Certificate appCa = RaTlsCertificate.builder().organization("Dstack").subject("Dstack App CA")
                        .caLevel(0).appId(appId).usage(RaTlsCertificate.USAGE_APP_CA).clock(d.clock())
                        .publicKey(appCaKey.toPublicKey())
                        .signedBy(d.state().rootCaCert(), d.state().keys().rootCaKey().toPrivateKey());
                X509Certificate leaf = RaTlsCertificate.builder().fromCsr(csr).appId(appId)
                        .usage(RaTlsCertificate.USAGE_APP_CUSTOM).clock(d.clock())
                        .signedBy(appCa, appCaKey.toPrivateKey());
                chain = List.of(RaTlsCertificate.pem(leaf), RaTlsCertificate.pem(appCa),
                        RaTlsCertificate.pem(d.state().rootCaCert()));
            } catch (RaException e) {
                throw refused("Failed to sign certificate", e);
            }
            call.release();
            return new SignCertResponse(chain).toJson();
        } catch (Refused r) {
            throw call.refuse(r);
        }
    }

    // ---- helpers --------------------------------------------------------------------------------------------

    private static void destroy(SecretBytes s) {
        if (s != null) {
            s.destroy();
        }
    }
}
