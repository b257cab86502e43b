package dev.atlas.dstack.kms;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import dev.atlas.dstack.kms.internal.KeyStore;
import dev.atlas.dstack.kms.internal.KmsKeys;
import dev.atlas.dstack.kms.internal.KmsState;
import dev.atlas.dstack.kms.internal.KmsWiring;
import dev.atlas.dstack.kms.internal.OnboardServer;
import dev.atlas.dstack.kms.internal.OsImageCheck;
import dev.atlas.dstack.kms.internal.SelfAgent;
import dev.atlas.dstack.ra.P256PrivateKey;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.prpc.AdminAuth;
import dev.atlas.dstack.ra.prpc.PrpcHttpHandler;
import dev.atlas.tdx.AttestationException;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * The KMS process of §2.1 (upstream {@code kms/src/main.rs}):
 * <ol>
 *   <li>when {@code core.onboard.enabled} and the key files are not all there: with
 *       {@code auto_bootstrap_domain}, bootstrap at once; otherwise run the onboard listener (plain HTTP,
 *       {@code /prpc/Onboard.*}, the page, {@code /finish}, {@code /health}) until {@code Finish}, then require the
 *       keys ("Failed to onboard");</li>
 *   <li>{@code update_certs}: CA certificates renewed only within 365 days of expiry, a new RPC certificate with a
 *       fresh attestation always (refuse to start when that fails and {@code attest_rpc_cert});</li>
 *   <li>the main TLS listener ({@code [rpc]}, the key and chain of {@code [rpc.tls]}; client certificates asked for
 *       but optional, and only chains to {@code [rpc.tls.mutual] ca_certs} accepted): {@code /prpc/KMS.*},
 *       {@code GET /health} ({@code OK}), {@code GET /metrics} when {@code [core.metrics] enabled};</li>
 *   <li>the admin listener when {@code [core.admin] enabled}, behind {@link AdminAuth#forKms()} (refuses to start
 *       with neither a token, from the file or {@code DSTACK_KMS_ADMIN_TOKEN}/{@code ADMIN_API_TOKEN}, nor an
 *       htpasswd file, unless {@code insecure_no_auth}).</li>
 * </ol>
 * {@link #start()} returns once the first listener is up: the onboard one while onboarding (the rest follows in
 * the background; see {@link #awaitMainServer}), else the main one. The onboard listener has released its port
 * before the main one binds, so both may use the same port (the shipped config does).
 */
public final class KmsServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("dev.atlas.dstack.kms");

    private final KmsConfig config;
    private final Clock clock;
    private final Map<String, String> env;
    private final PrometheusMeterRegistry registry;
    private final Optional<OsImageCheck> osImageCheck;
    private final Optional<Consumer<String>> auditSink;
    private final int shutdownGraceSeconds;
    private SelfAgent agent;

    private final CompletableFuture<Void> mainUp = new CompletableFuture<>();
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private volatile OnboardServer onboard;
    private volatile HttpsServer main;
    private volatile HttpServer admin;
    private volatile KmsState state;
    private volatile boolean closed;
    private boolean started;

    private KmsServer(Builder b) {
        this.config = b.config;
        this.clock = b.clock;
        this.env = b.env;
        this.registry = b.registry != null ? b.registry : new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        this.osImageCheck = Optional.ofNullable(b.osImageCheck);
        this.auditSink = Optional.ofNullable(b.auditSink);
        this.agent = b.selfAgent;
        this.shutdownGraceSeconds = b.shutdownGraceSeconds;
    }

    public static Builder builder(KmsConfig config) {
        return new Builder(config);
    }

    /**
     * Starts the KMS; returns once the first listener is up.
     *
     * @throws RaException a configuration problem ({@code CONFIG_*}: {@code core.cert_dir} missing, admin without
     *         authentication, a TLS file unreadable), {@code AGENT_UNAVAILABLE} (no attestation for the RPC
     *         certificate while {@code attest_rpc_cert}), {@code KEY_STATE} (keys missing with onboarding off),
     *         or the auto-bootstrap's refusal
     * @throws IOException a listener cannot bind
     */
    public synchronized KmsServer start() throws RaException, IOException {
        if (started) {
            throw new IllegalStateException("already started");
        }
        started = true;
        try {
            return doStart();
        } catch (RaException | IOException | RuntimeException e) {
            mainUp.completeExceptionally(e);
            close();
            throw e;
        }
    }

    private KmsServer doStart() throws RaException, IOException {
        Path certDir = config.certDir();
        if (!Files.isDirectory(certDir)) {
            throw new RaException(Reason.CONFIG_INVALID, "core.cert_dir", certDir + " is not a directory (in "
                    + config.source() + ")");
        }
        if (!Files.isWritable(certDir)) {
            throw new RaException(Reason.CONFIG_FILE_UNREADABLE, "core.cert_dir", certDir + " is not writable (in "
                    + config.source() + ")");
        }
        AdminAuth adminAuth = config.adminEnabled() ? adminAuth() : null; // refuse before serving anything
        if (agent == null) {
            agent = SelfAgent.connect(env);
        }
        KeyStore store = new KeyStore(certDir, clock);
        KmsWiring wiring = new KmsWiring(config, store, agent, clock, registry, osImageCheck, auditSink);
        if (config.onboardEnabled() && !store.keysComplete()) {
            if (!config.autoBootstrapDomain().isEmpty()) {
                LOG.log(System.Logger.Level.INFO, "no keys: bootstrapping for " + config.autoBootstrapDomain()
                        + " (core.onboard.auto_bootstrap_domain)");
                try {
                    wiring.autoBootstrap(config.autoBootstrapDomain());
                } catch (RaException e) {
                    throw e;
                } catch (AttestationException e) {
                    throw new RaException(Reason.KEY_STATE, null, "auto-bootstrap failed: " + e.detail(), e);
                }
            } else {
                LOG.log(System.Logger.Level.INFO, "no keys: onboarding");
                wiring.bootstrapper(); // configuration errors surface here, before the listener starts
                OnboardServer o = OnboardServer.start(config.onboardAddress(), finish -> {
                    try {
                        return wiring.onboardDispatcher(finish);
                    } catch (RaException e) {
                        throw new IllegalStateException(e);
                    }
                });
                onboard = o;
                Thread.ofVirtual().name("kms-after-onboard").start(() -> afterOnboard(o, store, wiring, adminAuth));
                return this;
            }
        }
        if (!store.keysComplete()) {
            throw new RaException(Reason.KEY_STATE, "core.cert_dir", certDir + " does not hold the KMS's keys and "
                    + "certificates (" + (store.hasKeyFiles() ? "some files are missing" : "no root keys")
                    + ") and core.onboard.enabled = false (in " + config.source() + ")");
        }
        startMain(store, wiring, adminAuth);
        return this;
    }

    private void afterOnboard(OnboardServer o, KeyStore store, KmsWiring wiring, AdminAuth adminAuth) {
        try {
            o.awaitFinish();
            if (closed) {
                mainUp.completeExceptionally(new IllegalStateException("closed before onboarding finished"));
                return;
            }
            if (!store.keysComplete()) {
                throw new RaException(Reason.KEY_STATE, "Failed to onboard");
            }
            startMain(store, wiring, adminAuth);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            mainUp.completeExceptionally(e);
        } catch (RaException | IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "KMS cannot start after onboarding: " + message(e));
            mainUp.completeExceptionally(e);
            close();
        }
    }

    private static String message(Throwable e) {
        return e instanceof AttestationException a ? a.getMessage() : e.getClass().getSimpleName() + ": "
                + e.getMessage();
    }

    private AdminAuth adminAuth() throws RaException {
        AdminAuth.Builder b = AdminAuth.forKms().insecureNoAuth(config.adminInsecureNoAuth());
        AdminAuth.kmsToken(config.adminAuthToken().orElse(""), env).ifPresent(b::token);
        if (config.adminHtpasswdFile().isPresent()) {
            Path p = config.adminHtpasswdFile().get();
            try {
                b.htpasswdFile(p);
            } catch (IOException e) {
                throw new RaException(Reason.CONFIG_FILE_UNREADABLE, "core.admin.htpasswd_file", p
                        + " cannot be read (" + e.getClass().getSimpleName() + ")");
            } catch (IllegalArgumentException e) {
                throw new RaException(Reason.CONFIG_INVALID, "core.admin.htpasswd_file", e.getMessage());
            }
        }
        try {
            return b.build();
        } catch (IllegalStateException e) {
            throw new RaException(Reason.CONFIG_INVALID, "core.admin", "the admin API is enabled without "
                    + "authentication: set core.admin.auth_token, " + AdminAuth.ENV_KMS_ADMIN_TOKEN + " or "
                    + AdminAuth.ENV_ADMIN_API_TOKEN + ", or core.admin.htpasswd_file (in " + config.source() + ")");
        }
    }

    private synchronized void startMain(KeyStore store, KmsWiring wiring, AdminAuth adminAuth)
            throws RaException, IOException {
        if (closed) {
            throw new IllegalStateException("closed");
        }
        KmsState s;
        try {
            s = store.updateCerts(agent, config.attestRpcCert(), Optional.of(config.autoBootstrapDomain()));
            LOG.log(System.Logger.Level.INFO, "reissued the KMS RPC certificate for " + s.domain());
        } catch (RaException e) {
            if (config.attestRpcCert()) {
                throw new RaException(e.raReason(), e.field(), "failed to reissue the attested KMS RPC certificate; "
                        + "refusing to start with a possibly unattested certificate: " + e.detail(), e);
            }
            LOG.log(System.Logger.Level.WARNING, "failed to update certs: " + e.getMessage());
            s = store.load().orElseThrow(() -> new RaException(Reason.KEY_STATE, "core.cert_dir",
                    "holds no keys and onboarding is disabled (core.onboard.enabled = false)"));
        }
        state = s;
        HttpsServer https = HttpsServer.create(config.rpcAddress(), 0);
        https.setHttpsConfigurator(tlsConfigurator());
        https.createContext("/prpc", wiring.kmsHandler(s));
        https.createContext("/health", text("OK"));
        if (config.metricsEnabled()) {
            https.createContext("/metrics", exchange -> {
                if (!isGet(exchange)) {
                    respond(exchange, 405, "method not allowed");
                    return;
                }
                exchange.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
                respond(exchange, 200, registry.scrape());
            });
        }
        https.createContext("/", exchange -> respond(exchange, 404, "not found"));
        https.setExecutor(executor);
        https.start();
        main = https;
        LOG.log(System.Logger.Level.INFO, "KMS RPC listening on https://" + hostPort(rpcAddress()));
        if (adminAuth != null) {
            HttpServer a = HttpServer.create(config.adminAddress(), 0);
            a.createContext("/prpc", new PrpcHttpHandler(wiring.adminDispatcher(adminAuth)));
            a.createContext("/", exchange -> respond(exchange, 404, "not found")).getFilters()
                    .add(adminAuth.httpFilter());
            a.setExecutor(executor);
            a.start();
            admin = a;
            if (config.adminInsecureNoAuth()) {
                LOG.log(System.Logger.Level.WARNING, "admin API is served WITHOUT authentication "
                        + "(core.admin.insecure_no_auth = true)");
            }
            LOG.log(System.Logger.Level.INFO, "KMS admin API listening on http://" + hostPort(a.getAddress()));
        }
        mainUp.complete(null);
    }

    private HttpsConfigurator tlsConfigurator() throws RaException {
        SSLContext ctx = tlsContext();
        boolean clientCerts = config.rpcTlsClientCaCerts().isPresent();
        boolean mandatory = config.rpcTlsClientCertMandatory();
        return new HttpsConfigurator(ctx) {
            @Override
            public void configure(HttpsParameters params) {
                SSLParameters p = getSSLContext().getDefaultSSLParameters();
                if (clientCerts) {
                    if (mandatory) {
                        p.setNeedClientAuth(true);
                    } else {
                        p.setWantClientAuth(true);
                    }
                }
                params.setSSLParameters(p);
            }
        };
    }

    /** The key and chain of {@code [rpc.tls]}; trust for client chains from {@code [rpc.tls.mutual] ca_certs}. */
    private SSLContext tlsContext() throws RaException {
        List<X509Certificate> chain = readPemCerts(config.rpcTlsCerts(), "rpc.tls.certs");
        P256PrivateKey key = readKey(config.rpcTlsKey());
        char[] pw = new char[24];
        SecureRandom r = new SecureRandom();
        for (int i = 0; i < pw.length; i++) {
            pw[i] = (char) ('a' + r.nextInt(26));
        }
        try {
            java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry("rpc", key.toPrivateKey(), pw, chain.toArray(new Certificate[0]));
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, pw);
            TrustManager[] tms;
            if (config.rpcTlsClientCaCerts().isPresent()) {
                java.security.KeyStore ts = java.security.KeyStore.getInstance("PKCS12");
                ts.load(null, null);
                int i = 0;
                for (X509Certificate c : readPemCerts(config.rpcTlsClientCaCerts().get(), "rpc.tls.mutual.ca_certs")) {
                    ts.setCertificateEntry("ca" + i++, c);
                }
                TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
                tmf.init(ts);
                tms = tmf.getTrustManagers();
            } else {
                tms = new TrustManager[] {NO_CLIENTS};
            }
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(kmf.getKeyManagers(), tms, null);
            return ctx;
        } catch (GeneralSecurityException | IOException e) {
            throw new RaException(Reason.CONFIG_INVALID, "rpc.tls", "cannot set up TLS with " + config.rpcTlsKey()
                    + " and " + config.rpcTlsCerts() + " (" + e.getClass().getSimpleName() + ")");
        } finally {
            Arrays.fill(pw, '\0');
        }
    }

    /** Trusts no client (no {@code ca_certs}: client certificates are not asked for). */
    private static final X509TrustManager NO_CLIENTS = new X509TrustManager() {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType)
                throws java.security.cert.CertificateException {
            throw new java.security.cert.CertificateException("no client certificates are accepted");
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType)
                throws java.security.cert.CertificateException {
            throw new java.security.cert.CertificateException("not a client");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    };

    private static List<X509Certificate> readPemCerts(Path p, String key) throws RaException {
        String pem;
        try (InputStream in = Files.newInputStream(p)) {
            byte[] b = in.readNBytes((16 << 20) + 1);
            if (b.length > (16 << 20)) {
                throw new RaException(Reason.CONFIG_FILE_UNREADABLE, key, p + " is larger than 16 MiB");
            }
            pem = new String(b, StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new RaException(Reason.CONFIG_FILE_UNREADABLE, key, p + " cannot be read (" + e.getClass()
                    .getSimpleName() + ")");
        }
        try {
            return KmsKeys.parseCertsPem(pem, key);
        } catch (RaException e) {
            throw new RaException(Reason.CONFIG_FILE_UNREADABLE, key, p + " holds no PEM certificate");
        }
    }

    private static P256PrivateKey readKey(Path p) throws RaException {
        byte[] b;
        try (InputStream in = Files.newInputStream(p)) {
            b = in.readNBytes(64 * 1024 + 1);
        } catch (IOException e) {
            throw new RaException(Reason.CONFIG_FILE_UNREADABLE, "rpc.tls.key", p + " cannot be read ("
                    + e.getClass().getSimpleName() + ")");
        }
        String pem = new String(b, StandardCharsets.US_ASCII);
        Arrays.fill(b, (byte) 0);
        try {
            if (b.length > 64 * 1024) {
                throw new RaException(Reason.CONFIG_FILE_UNREADABLE, "rpc.tls.key", "too large");
            }
            return P256PrivateKey.fromPem(pem.strip());
        } catch (RaException e) {
            throw new RaException(Reason.CONFIG_FILE_UNREADABLE, "rpc.tls.key", p
                    + " is not a P-256 PKCS#8 PEM private key");
        }
    }

    private static boolean isGet(HttpExchange e) {
        return e.getRequestMethod().equals("GET") || e.getRequestMethod().equals("HEAD");
    }

    private static HttpHandler text(String body) {
        return exchange -> {
            if (!isGet(exchange) || !exchange.getRequestURI().getPath().equals(exchange.getHttpContext().getPath())) {
                respond(exchange, isGet(exchange) ? 404 : 405, isGet(exchange) ? "not found" : "method not allowed");
                return;
            }
            exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
            respond(exchange, 200, body);
        };
    }

    private static void respond(HttpExchange exchange, int status, String body) throws IOException {
        try (exchange) {
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            if (!exchange.getResponseHeaders().containsKey("Content-Type")) {
                exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
            }
            boolean head = exchange.getRequestMethod().equals("HEAD");
            exchange.sendResponseHeaders(status, head || b.length == 0 ? -1 : b.length);
            if (!head && b.length > 0) {
                try (OutputStream os = exchange.getResponseBody()) {
                    os.write(b);
                }
            }
        }
    }

    private static String hostPort(InetSocketAddress a) {
        String h = a.getAddress().getHostAddress();
        return (h.contains(":") ? "[" + h + "]" : h) + ":" + a.getPort();
    }

    /**
     * The main listener's bound address (the real port when 0 was configured).
     *
     * @throws IllegalStateException while onboarding (see {@link #awaitMainServer}) or after close
     */
    public InetSocketAddress rpcAddress() {
        HttpsServer m = main;
        if (m == null) {
            throw new IllegalStateException("the main listener is not up");
        }
        return m.getAddress();
    }

    /** The onboard listener's bound address while it runs. */
    public Optional<InetSocketAddress> onboardAddress() {
        OnboardServer o = onboard;
        return o == null || o.isFinished() ? Optional.empty() : Optional.of(o.address());
    }

    /** The admin listener's bound address when enabled and up. */
    public Optional<InetSocketAddress> adminAddress() {
        HttpServer a = admin;
        return a == null ? Optional.empty() : Optional.of(a.getAddress());
    }

    /** Whether the main listener is up. */
    public boolean isMainServerUp() {
        return mainUp.isDone() && !mainUp.isCompletedExceptionally() && !closed;
    }

    /** The metrics registry ({@code GET /metrics}). */
    public PrometheusMeterRegistry meterRegistry() {
        return registry;
    }

    /**
     * Waits until the main listener is up (after onboarding).
     *
     * @throws TimeoutException when it is not up within {@code timeout}
     * @throws RaException or IOException the reason it could not start (e.g. "Failed to onboard")
     */
    public void awaitMainServer(Duration timeout) throws RaException, IOException, InterruptedException,
            TimeoutException {
        try {
            mainUp.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RaException r) {
                throw r;
            }
            if (c instanceof IOException io) {
                throw io;
            }
            if (c instanceof InterruptedException ie) {
                throw ie;
            }
            throw new IllegalStateException("the KMS did not start: " + c, c);
        }
    }

    /**
     * Closes every listener (exchanges in flight get the {@linkplain Builder#shutdownGrace grace}, one second by
     * default) and drops the keys held. Idempotent.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        OnboardServer o = onboard;
        if (o != null) {
            o.close();
        }
        HttpsServer m = main;
        if (m != null) {
            m.stop(shutdownGraceSeconds);
        }
        HttpServer a = admin;
        if (a != null) {
            a.stop(shutdownGraceSeconds);
        }
        executor.shutdown();
        // The key objects (P256PrivateKey, K256PrivateKey) offer no way to wipe their scalars; dropping the
        // references is what the JDK lets us do. The PKCS#8 and password buffers made here were zeroed after use.
        state = null;
        mainUp.completeExceptionally(new IllegalStateException("closed"));
        try {
            if (!executor.awaitTermination(shutdownGraceSeconds, TimeUnit.SECONDS)) {
                executor.shutdownNow(); // handlers still waiting on idle connections
            }
        } catch (InterruptedException e) {
            executor.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString() {
        return "KmsServer[" + config + "]";
    }

    /** Options of {@link KmsServer}. */
    public static final class Builder {
        private final KmsConfig config;
        private Clock clock = Clock.systemUTC();
        private SelfAgent selfAgent;
        private PrometheusMeterRegistry registry;
        private Map<String, String> env = System.getenv();
        private OsImageCheck osImageCheck;
        private Consumer<String> auditSink;
        private int shutdownGraceSeconds = 1;

        private Builder(KmsConfig config) {
            this.config = Objects.requireNonNull(config, "config");
        }

        /** Time for certificates and checks (default: the system UTC clock). */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** This KMS's guest agent (default: {@link SelfAgent#connect} on the {@link #environment}). */
        public Builder selfAgent(SelfAgent selfAgent) {
            this.selfAgent = Objects.requireNonNull(selfAgent, "selfAgent");
            return this;
        }

        /** The registry {@code GET /metrics} shows (default: a new one). */
        public Builder meterRegistry(PrometheusMeterRegistry registry) {
            this.registry = Objects.requireNonNull(registry, "registry");
            return this;
        }

        /**
         * The environment ({@code DSTACK_AGENT_ADDRESS}, {@code DSTACK_KMS_ADMIN_TOKEN}, {@code ADMIN_API_TOKEN});
         * default: the process's.
         */
        public Builder environment(Map<String, String> env) {
            this.env = Map.copyOf(env);
            return this;
        }

        /**
         * The OS-image check of §2.8 step 5 for {@code core.image.verify = true} (default: the lite check,
         * {@code LiteOsImageCheck}, over {@code core.image.cache_dir}; see docs/dstack-kms-osimage.md).
         */
        public Builder osImageCheck(OsImageCheck check) {
            this.osImageCheck = Objects.requireNonNull(check, "check");
            return this;
        }

        /**
         * Where the audit lines go: one JSON object per key release or refusal, never a key (default: the
         * {@code System.Logger} {@code dev.atlas.dstack.kms.audit} at INFO). {@code atlas kms} prints them on stdout.
         * The sink must not throw; it is called on request threads.
         */
        public Builder auditSink(Consumer<String> sink) {
            this.auditSink = Objects.requireNonNull(sink, "sink");
            return this;
        }

        /** How long {@link #close()} lets exchanges in flight finish: 0..60 s, whole seconds (default 1 s). */
        public Builder shutdownGrace(Duration grace) {
            long s = grace.toSeconds();
            if (grace.isNegative() || s > 60) {
                throw new IllegalArgumentException("shutdown grace must be 0..60 s");
            }
            this.shutdownGraceSeconds = (int) s;
            return this;
        }

        public KmsServer build() {
            return new KmsServer(this);
        }

        /** {@code build().start()}. */
        public KmsServer start() throws RaException, IOException {
            return build().start();
        }
    }
}
