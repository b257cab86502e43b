package dev.atlas.dstack.kms.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.atlas.dstack.ra.kms.AttestationInfoResponse;
import dev.atlas.dstack.ra.kms.BootstrapRequest;
import dev.atlas.dstack.ra.kms.BootstrapResponse;
import dev.atlas.dstack.ra.kms.OnboardRequest;
import dev.atlas.dstack.ra.kms.OnboardResponse;
import dev.atlas.dstack.ra.prpc.PrpcDispatcher;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.tdx.AttestationException;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.HexFormat;
import java.util.Objects;

/**
 * The {@code Onboard} pRPC service of the onboard listener ({@code ../shared/specs/dstack-platform.md} §2.3):
 * {@code Bootstrap}, {@code Onboard}, {@code GetAttestationInfo}, {@code Finish}; {@code /prpc/Onboard.X} and
 * {@code /prpc/X} both reach {@code X}. Errors are 400 {@code {"error": "<dstack's text>"}} (the failure's
 * {@link AttestationException#detail() detail}, never a key).
 */
public final class OnboardRpc {
    private static final System.Logger LOG = System.getLogger(OnboardRpc.class.getName());

    private OnboardRpc() {
    }

    /** What {@code GetAttestationInfo} reports about this KMS. */
    @FunctionalInterface
    public interface AttestationInfoSource {
        AttestationInfoResponse get() throws AttestationException;
    }

    /**
     * @param bootstrapper bootstrap and onboarding (one lock)
     * @param attestationInfo {@code GetAttestationInfo}; see {@link #attestationInfo}
     * @param finish stops the onboard server after the {@code Finish} response (must not block on the stop)
     */
    public record Deps(Bootstrapper bootstrapper, AttestationInfoSource attestationInfo, Runnable finish) {
        public Deps {
            Objects.requireNonNull(bootstrapper, "bootstrapper");
            Objects.requireNonNull(attestationInfo, "attestationInfo");
            Objects.requireNonNull(finish, "finish");
        }
    }

    /** The dispatcher to mount at {@code /prpc} ({@link OnboardServer} does). */
    public static PrpcDispatcher dispatcher(Deps deps) {
        Objects.requireNonNull(deps, "deps");
        return PrpcDispatcher.builder()
                .trimPrefix("Onboard")
                .onUnexpectedError((method, t) -> LOG.log(System.Logger.Level.ERROR,
                        "Onboard." + method + " failed unexpectedly", t))
                .method("Bootstrap", (req, ctx) -> {
                    BootstrapRequest r = BootstrapRequest.fromJson(req);
                    BootstrapResponse info = call(() -> deps.bootstrapper().bootstrap(r.domain()))
                            .bootstrapInfo().orElseThrow();
                    LOG.log(System.Logger.Level.INFO, "KMS bootstrapped for " + r.domain() + " (k256 public key "
                            + HexFormat.of().formatHex(info.k256Pubkey()) + ")");
                    return info.toJson();
                })
                .method("Onboard", (req, ctx) -> {
                    OnboardRequest r = OnboardRequest.fromJson(req);
                    URI source = sourceUrl(r.sourceUrl());
                    KmsState s = call(() -> deps.bootstrapper().onboard(source, r.domain()));
                    byte[] k256 = s.keys().rootK256Key().publicKey();
                    LOG.log(System.Logger.Level.INFO, "KMS onboarded from " + source + " for " + r.domain()
                            + " (k256 public key " + HexFormat.of().formatHex(k256) + ")");
                    return new OnboardResponse(k256).toJson();
                })
                .method("GetAttestationInfo", (req, ctx) -> call(deps.attestationInfo()::get).toJson())
                .method("Finish", (req, ctx) -> {
                    deps.finish().run();
                    return JsonNodeFactory.instance.objectNode();
                })
                .build();
    }

    /**
     * {@code GetAttestationInfo} as upstream ({@code kms/src/onboard_service.rs}, {@code get_attestation_info}),
     * through {@link SelfAuthorization#attestationInfo(String)}: a fresh attestation of this KMS (report data zero,
     * verified, full RTMR3 replay), its app info decoded with the guest agent's {@code Info.vm_config};
     * {@code device_id = SHA-256(ppid)}; {@code eth_rpc_url} and {@code kms_contract_address} from the webhook's
     * {@code GET /}, empty when that fails. {@code self} must be built with the {@link SelfAgent} (for
     * {@code Info}).
     */
    public static AttestationInfoSource attestationInfo(SelfAuthorization self, String siteName) {
        Objects.requireNonNull(self, "self");
        Objects.requireNonNull(siteName, "siteName");
        return () -> self.attestationInfo(siteName);
    }

    /**
     * {@link #attestationInfo(SelfAuthorization, String)}; {@code agent} and {@code auth} are the ones {@code self}
     * was built with (kept for the wiring that passes them).
     */
    public static AttestationInfoSource attestationInfo(SelfAuthorization self, SelfAgent agent, AuthApi auth,
            String siteName) {
        Objects.requireNonNull(agent, "agent");
        Objects.requireNonNull(auth, "auth");
        return attestationInfo(self, siteName);
    }

    private static URI sourceUrl(String s) throws PrpcException {
        try {
            URI u = new URI(s.trim());
            if (u.getScheme() == null || u.getHost() == null) {
                throw new PrpcException("invalid source_url: expected https://host:port[/prpc], got " + s);
            }
            return u;
        } catch (URISyntaxException e) {
            throw new PrpcException("invalid source_url: " + e.getMessage());
        }
    }

    @FunctionalInterface
    private interface Call<T> {
        T run() throws AttestationException;
    }

    private static <T> T call(Call<T> c) throws PrpcException {
        try {
            return c.run();
        } catch (AttestationException e) {
            throw new PrpcException(e.detail(), e);
        }
    }
}
