package dev.atlas.dstack.kms.internal;

import com.sun.net.httpserver.HttpHandler;
import dev.atlas.dstack.kms.KmsConfig;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.kms.KmsClient;
import dev.atlas.dstack.ra.prpc.AdminAuth;
import dev.atlas.dstack.ra.prpc.PrpcDispatcher;
import dev.atlas.tdx.AttestationException;
import io.micrometer.core.instrument.MeterRegistry;

import java.security.SecureRandom;
import java.time.Clock;
import java.util.Objects;
import java.util.Optional;

/**
 * The one place where {@code KmsServer} meets the services: what each listener mounts, built from
 * {@code kms.toml}. The server calls, in order: {@link #autoBootstrap} or {@link #onboardDispatcher} (only while
 * keys are missing), then {@link #kmsHandler} and {@link #adminDispatcher}. The shared parts (auth API, caller
 * verifier, self-authorization) are built once, on first use.
 */
public final class KmsWiring {
    private final KmsConfig config;
    private final KeyStore store;
    private final SelfAgent agent;
    private final Clock clock;
    private final MeterRegistry registry;
    private final Optional<OsImageCheck> osImage;
    private final Optional<java.util.function.Consumer<String>> auditSink;

    private AuthApi auth;
    private CallerVerifier verifier;
    private SelfAuthorization self;
    private Bootstrapper bootstrapper;

    /**
     * @param osImage the §2.8 step 5 check when {@code core.image.verify}; empty: the lite check of
     *        {@link LiteOsImageCheck#from(KmsConfig)}
     * @param auditSink where the audit lines go; empty: the {@link AuditLog#LOGGER} logger
     */
    public KmsWiring(KmsConfig config, KeyStore store, SelfAgent agent, Clock clock, MeterRegistry registry,
            Optional<OsImageCheck> osImage, Optional<java.util.function.Consumer<String>> auditSink) {
        this.config = Objects.requireNonNull(config, "config");
        this.store = Objects.requireNonNull(store, "store");
        this.agent = Objects.requireNonNull(agent, "agent");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.registry = Objects.requireNonNull(registry, "registry");
        this.osImage = Objects.requireNonNull(osImage, "osImage");
        this.auditSink = Objects.requireNonNull(auditSink, "auditSink");
    }

    private synchronized AuthApi auth() throws RaException {
        if (auth == null) {
            auth = AuthApi.from(config, clock);
        }
        return auth;
    }

    private synchronized CallerVerifier verifier() throws RaException {
        if (verifier == null) {
            verifier = new CallerVerifier(CallerVerifier.verifierFrom(config, clock));
        }
        return verifier;
    }

    private synchronized SelfAuthorization self() throws RaException {
        if (self == null) {
            self = new SelfAuthorization(config.enforceSelfAuthorization(), auth(), agent, verifier(), clock);
        }
        return self;
    }

    /** Bootstrap and onboarding (issue17-onboard's {@link Bootstrapper}), one instance. */
    public synchronized Bootstrapper bootstrapper() throws RaException {
        if (bootstrapper == null) {
            CallerVerifier v = verifier();
            Bootstrapper.SourceKms source = Bootstrapper.sourceVia(KmsClient.DEFAULT_TIMEOUT,
                    url -> KmsClient.builder(url).attester(agent::attest).verifier(v.dstackVerifier()).clock(clock)
                            .build());
            bootstrapper = new Bootstrapper(store, agent, config.attestRpcCert(),
                    new WebhookOnboardAuthority(self(), auth(), v, clock), source, new SecureRandom());
        }
        return bootstrapper;
    }

    /** {@code core.onboard.auto_bootstrap_domain}: keys without the onboard listener (no bootstrap-info.json). */
    public KmsState autoBootstrap(String domain) throws AttestationException {
        return bootstrapper().autoBootstrap(domain);
    }

    /**
     * The {@code Onboard} service of the onboard listener.
     *
     * @param finish stops the onboard listener ({@code Onboard.Finish})
     */
    public PrpcDispatcher onboardDispatcher(Runnable finish) throws RaException {
        return OnboardRpc.dispatcher(new OnboardRpc.Deps(bootstrapper(),
                OnboardRpc.attestationInfo(self(), agent, auth(), config.siteName()), finish));
    }

    /** The {@code KMS} service of the main listener, counted by {@link KmsMetrics}. */
    public HttpHandler kmsHandler(KmsState state) throws RaException {
        KmsRpc.Deps deps = new KmsRpc.Deps(state, verifier(), auth(), self(),
                KmsRpc.osImageCheck(config.imageVerify(), osImage.orElseGet(() -> LiteOsImageCheck.from(config))),
                auditSink.isPresent() ? AuditLog.toSink(auditSink.get(), clock, auth().isDev())
                        : AuditLog.toLogger(clock, auth().isDev()), clock, config.sevSnpKeyRelease(),
                config.awsNitroTpmKeyRelease());
        return new KmsMetrics(registry).handler(KmsRpc.dispatcher(deps));
    }

    /** The {@code Admin} service behind {@code auth}. */
    public PrpcDispatcher adminDispatcher(AdminAuth adminAuth) {
        return AdminRpc.dispatcher(config.imageCacheDir(), adminAuth);
    }
}
