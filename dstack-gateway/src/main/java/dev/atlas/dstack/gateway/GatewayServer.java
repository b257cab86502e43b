package dev.atlas.dstack.gateway;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.gateway.internal.AdminRpc;
import dev.atlas.dstack.gateway.internal.AuthHook;
import dev.atlas.dstack.gateway.internal.CertStore;
import dev.atlas.dstack.gateway.internal.ClientAuth;
import dev.atlas.dstack.gateway.internal.GatewayAgent;
import dev.atlas.dstack.gateway.internal.GatewayNode;
import dev.atlas.dstack.gateway.internal.GatewayRouter;
import dev.atlas.dstack.gateway.internal.GatewayRpc;
import dev.atlas.dstack.gateway.internal.InstanceRegistry;
import dev.atlas.dstack.gateway.internal.ProxyServer;
import dev.atlas.dstack.gateway.internal.RouteSettings;
import dev.atlas.dstack.gateway.internal.WgControl;
import dev.atlas.dstack.gateway.internal.ZtCertbot;
import dev.atlas.dstack.gateway.internal.ZtDomains;
import dev.atlas.dstack.gateway.internal.ZtStore;
import dev.atlas.dstack.guest.TlsKey;
import dev.atlas.dstack.ra.P256PrivateKey;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.prpc.AdminAuth;
import dev.atlas.dstack.ra.prpc.PrpcHttpHandler;
import dev.atlas.tdx.CollateralSource;
import dev.atlas.tdx.QuoteVerifier;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * The gateway's listeners (§3.1): the proxy, the main RPC listener (TLS with optional client certificates,
 * {@code Gateway} service at {@code /prpc}), the admin listener ({@code Admin} service at {@code /<Method>} and
 * {@code /prpc/<Method>}, dashboard at {@code GET /}, §0.3 authentication) and, only with
 * {@code insecure_enable_debug_rpc}, the debug listener. Build with {@link #builder(GatewayConfig)}.
 *
 * <p>Start order (fail closed, nothing served before every check passed): admin authentication, the guest agent
 * (RPC certificate when {@code core.rpc_domain} is set; this gateway's app id unless
 * {@code insecure_skip_attestation}), registrations ({@code data_dir/instances.json}), WireGuard, router,
 * certificates (the static one, then the ZT-domain certbot's from {@code data_dir/zt-state.json}), proxy, RPC, admin,
 * debug.
 */
public final class GatewayServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("dev.atlas.dstack.gateway");

    private final Builder b;
    private final GatewayConfig config;
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final CompletableFuture<Void> closedFuture = new CompletableFuture<>();
    private ExecutorService executor;
    private ProxyServer proxy;
    private HttpsServer rpc;
    private HttpServer admin;
    private HttpServer debug;
    private InstanceRegistry registry;
    private volatile boolean closed;

    private GatewayServer(Builder b) {
        this.b = b;
        this.config = b.config;
    }

    public static Builder builder(GatewayConfig config) {
        return new Builder(config);
    }

    /** The proxy listeners' bound addresses. */
    public List<InetSocketAddress> proxyAddresses() {
        return proxy == null ? List.of() : proxy.proxyAddresses();
    }

    /** The main RPC listener's bound address. */
    public InetSocketAddress rpcAddress() {
        if (rpc == null) {
            throw new IllegalStateException("the RPC listener is not running");
        }
        return rpc.getAddress();
    }

    /** The admin listener's bound address, when {@code [core.admin] enabled}. */
    public Optional<InetSocketAddress> adminAddress() {
        return Optional.ofNullable(admin).map(HttpServer::getAddress);
    }

    /** The debug listener's bound address, when {@code insecure_enable_debug_rpc}. */
    public Optional<InetSocketAddress> debugAddress() {
        return Optional.ofNullable(debug).map(HttpServer::getAddress);
    }

    /** Completes when the server is closed (also by {@code Admin.Exit}). */
    public CompletableFuture<Void> closed() {
        return closedFuture;
    }

    private GatewayServer doStart() throws RaException, IOException {
        for (String w : config.warnings()) {
            LOG.log(w.contains("INSECURE") ? System.Logger.Level.WARNING : System.Logger.Level.INFO,
                    config.source() + ": " + w);
        }
        AdminAuth adminAuth = config.admin().enabled() ? adminAuth() : null;
        Optional<GatewayAgent> agent = Optional.empty();
        boolean skip = config.debug().insecureSkipAttestation();
        if (!skip || !config.rpcDomain().isEmpty()
                || !b.env.getOrDefault("DSTACK_AGENT_ADDRESS", "").isEmpty()) {
            agent = Optional.of(GatewayAgent.connect(b.env));
        }
        if (!config.rpcDomain().isEmpty()) {
            writeRpcCertificate(agent.orElseThrow());
        }
        Optional<byte[]> myAppId = Optional.empty();
        if (!skip) {
            String hex = agent.orElseThrow().info().appId();
            try {
                myAppId = Optional.of(HexFormat.of().parseHex(hex));
            } catch (IllegalArgumentException e) {
                throw new RaException(Reason.AGENT_UNAVAILABLE, "Info.app_id", "the guest agent's app id is not hex");
            }
            LOG.log(System.Logger.Level.INFO, "this gateway's app id: " + hex);
        }

        executor = Executors.newVirtualThreadPerTaskExecutor();
        registry = new InstanceRegistry(config.wg(), Optional.of(InstanceRegistry.stateFileIn(config.sync()
                .dataDir())), b.clock);
        WgControl wg = WgControl.fromConfig(config, b.clock);
        closeables.add(wg);
        registry.addListener(app -> applyPeers(wg));
        applyPeers(wg);
        GatewayRouter router = GatewayRouter.builder(RouteSettings.from(config)).registry(registry).wg(wg)
                .clock(b.clock).build();
        closeables.add(router);
        CertStore certs = CertStore.create(config.proxy().tlsVersions(), config.proxy().certChain().map(chain ->
                new CertStore.StaticCert(chain, config.proxy().certKey().orElseThrow(),
                        config.proxy().baseDomain().orElseThrow())), b.clock);
        // issue19-zt: the ZT-domain certbot (state in data_dir/zt-state.json); its stored certificates serve from
        // the first connection, missing or due ones are requested in the background
        ZtCertbot certbot = ZtCertbot.fromConfig(config, ZtStore.open(config.sync().dataDir()), certs, agent,
                b.clock);
        closeables.add(certbot);
        certbot.start();
        // the static (0.5.x) certificate's key is quoted by GatewayNode; the certbot's keys were quoted when issued
        GatewayNode node = new GatewayNode(agent, () -> certs.ztDomains().stream().flatMap(d -> certs.entry(d)
                .stream()).filter(e -> !"put".equals(e.source())).map(CertStore.Entry::leaf).toList(),
                Optional.of(certbot));
        java.util.function.Supplier<Optional<String>> bestDomain = () -> ZtDomains.best(certbot.store().state()
                .domains().values(), config.sync().nodeId()).map(ZtStore.Domain::domain)
                .or(() -> certs.ztDomains().stream().findFirst()).or(() -> config.proxy().baseDomain());
        proxy = ProxyServer.start(config, router, certs, node, b.clock, b.meters);
        closeables.add(proxy);

        Optional<X509Certificate> kmsCa = config.rpc().mutualCaCerts().isPresent()
                ? Optional.of(last(readCerts(config.rpc().mutualCaCerts().get(), "tls.mutual.ca_certs")))
                : Optional.empty();
        Optional<ClientAuth> clientAuth = kmsCa.isPresent()
                ? Optional.of(new ClientAuth(kmsCa.get(), attestationVerifier(), b.clock)) : Optional.empty();
        GatewayRpc gateway = new GatewayRpc(config, registry, clientAuth, new AuthHook(config.auth()), node, myAppId,
                bestDomain, b.clock);

        // main RPC listener
        if (config.rpc().tlsKey().isEmpty() || config.rpc().tlsCerts().isEmpty()) {
            throw new RaException(Reason.CONFIG_INVALID, "tls", "missing: the RPC listener serves TLS only; set "
                    + "[tls] key, certs and [tls.mutual] ca_certs (in " + config.source() + ")");
        }
        HttpsServer https = HttpsServer.create(config.rpc().address(), 0);
        https.setHttpsConfigurator(tls(kmsCa));
        https.createContext("/prpc", new PrpcHttpHandler(gateway.gatewayDispatcher()));
        https.createContext("/health", e -> respond(e, 200, "text/plain", "OK"));
        https.createContext("/", e -> respond(e, 404, "text/plain", "not found"));
        https.setExecutor(executor);
        https.start();
        rpc = https;
        LOG.log(System.Logger.Level.INFO, "gateway RPC listening on https://" + hostPort(rpc.getAddress()));

        if (adminAuth != null) {
            AdminRpc adminRpc = new AdminRpc(config, registry, gateway, Optional.of(router), Optional.of(certs),
                    proxy::connections, this::close, b.clock, Optional.of(certbot));
            PrpcHttpHandler prpc = new PrpcHttpHandler(adminRpc.dispatcher(adminAuth));
            HttpServer a = HttpServer.create(config.admin().address(), 0);
            a.createContext("/prpc", prpc);
            a.createContext("/", e -> {
                String path = e.getRequestURI().getRawPath();
                if (!"/".equals(path)) {
                    prpc.handle(e); // Admin RPCs at /<Method> too (upstream mounts them at / and /prpc)
                    return;
                }
                try (e) {
                    Map<String, String> headers = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
                    e.getRequestHeaders().forEach((k, v) -> {
                        if (k != null && !v.isEmpty()) {
                            headers.putIfAbsent(k, v.get(0));
                        }
                    });
                    AdminAuth.Result r = adminAuth.check(e.getRequestMethod(), headers,
                            e.getRequestURI().getRawQuery());
                    if (!r.allowed()) {
                        LOG.log(System.Logger.Level.WARNING, "admin dashboard refused: no valid credentials from "
                                + e.getRemoteAddress());
                        PrpcHttpHandler.write(e, r.rejection(), false);
                        return;
                    }
                    if (!"GET".equals(e.getRequestMethod()) && !"HEAD".equals(e.getRequestMethod())) {
                        respond(e, 405, "text/plain", "method not allowed");
                        return;
                    }
                    respond(e, 200, "text/html; charset=utf-8", adminRpc.dashboard());
                }
            });
            a.setExecutor(executor);
            a.start();
            admin = a;
            if (config.admin().insecureNoAuth()) {
                LOG.log(System.Logger.Level.WARNING, "admin API is served WITHOUT authentication "
                        + "(core.admin.insecure_no_auth = true)");
            }
            LOG.log(System.Logger.Level.INFO, "gateway admin listening on http://" + hostPort(a.getAddress()));
        }
        if (config.debug().insecureEnableDebugRpc()) {
            HttpServer d = HttpServer.create(config.debug().address(), 0);
            d.createContext("/prpc", new PrpcHttpHandler(gateway.debugDispatcher()));
            d.createContext("/health", e -> respond(e, 200, "text/plain", "OK"));
            d.createContext("/", e -> respond(e, 404, "text/plain", "not found"));
            d.setExecutor(executor);
            d.start();
            debug = d;
            LOG.log(System.Logger.Level.WARNING, "INSECURE debug RPC (Debug.RegisterCvm without attestation) "
                    + "listening on http://" + hostPort(d.getAddress()));
        }
        return this;
    }

    private void applyPeers(WgControl wg) {
        try {
            wg.apply(registry.all());
        } catch (RaException e) {
            LOG.log(System.Logger.Level.ERROR, "failed to set wg config: " + e.getMessage());
        }
    }

    private AdminAuth adminAuth() throws RaException {
        AdminAuth.Builder ab = AdminAuth.forGateway().insecureNoAuth(config.admin().insecureNoAuth());
        AdminAuth.gatewayToken(config.admin().authToken().orElse(""), b.env).ifPresent(ab::token);
        if (config.admin().htpasswdFile().isPresent()) {
            Path p = config.admin().htpasswdFile().get();
            try {
                ab.htpasswdFile(p);
            } catch (IOException e) {
                throw new RaException(Reason.CONFIG_FILE_UNREADABLE, "core.admin.htpasswd_file", p
                        + " cannot be read (" + e.getClass().getSimpleName() + ")");
            } catch (IllegalArgumentException e) {
                throw new RaException(Reason.CONFIG_INVALID, "core.admin.htpasswd_file", e.getMessage());
            }
        }
        try {
            return ab.build();
        } catch (IllegalStateException e) {
            throw new RaException(Reason.CONFIG_INVALID, "core.admin.auth_token", e.getMessage() + " (in "
                    + config.source() + ")");
        }
    }

    /** The verifier of a {@code .8} fallback: Intel's root unless the insecure external anchor is configured. */
    private DstackTdxVerifier attestationVerifier() throws RaException {
        GatewayConfig.Attestation a = config.attestation();
        QuoteVerifier.Builder qv = QuoteVerifier.builder().clock(b.clock);
        if (a.tdxRootCa().isPresent()) {
            X509Certificate root = last(readCerts(a.tdxRootCa().get(), "core.attestation.root_ca.tdx"));
            LOG.log(System.Logger.Level.WARNING, "core.attestation.insecure_allow_external_trust_anchors = true: the "
                    + "TDX root CA is " + a.tdxRootCa().get() + ", not Intel's; development and tests only");
            qv.insecureTrustAnchorForTesting(root);
        }
        CollateralSource collateral;
        try {
            collateral = CollateralSource.forUrl(a.pccsUrl(), true, b.clock);
        } catch (IllegalArgumentException e) {
            throw new RaException(Reason.CONFIG_INVALID, "core.attestation.urls.pccs", e.getMessage());
        }
        return DstackTdxVerifier.builder().clock(b.clock).quoteVerifier(qv.build()).collateralSource(collateral)
                .build();
    }

    /** {@code gen_certs}: the RPC certificate from the guest agent, written to {@code [tls]} (mode 0600). */
    private void writeRpcCertificate(GatewayAgent agent) throws RaException {
        List<String> alt = new ArrayList<>(List.of(config.rpcDomain()));
        try {
            String host = URI.create(config.sync().myUrl()).getHost();
            if (host != null && !host.equals(config.rpcDomain())) {
                alt.add(host);
            }
        } catch (IllegalArgumentException e) {
            // my_url is not a URL: only rpc_domain
        }
        TlsKey k = agent.rpcCertificate(alt);
        List<String> chain = k.certificateChainPem();
        if (chain.isEmpty()) {
            throw new RaException(Reason.AGENT_UNAVAILABLE, "GetTlsKey", "Empty certificate chain");
        }
        write(config.rpc().mutualCaCerts().orElseThrow(), chain.get(chain.size() - 1));
        write(config.rpc().tlsCerts().orElseThrow(), String.join("\n", chain));
        write(config.rpc().tlsKey().orElseThrow(), k.keyPem());
        LOG.log(System.Logger.Level.INFO, "RPC certificate for " + alt + " from the guest agent written to "
                + config.rpc().tlsCerts().get());
    }

    private static void write(Path p, String text) throws RaException {
        try {
            Path dir = p.toAbsolutePath().getParent();
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, ".gateway", ".tmp",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(tmp, text, StandardCharsets.UTF_8);
            Files.move(tmp, p, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | UnsupportedOperationException e) {
            throw new RaException(Reason.CONFIG_FILE_UNREADABLE, "tls", "cannot write " + p + " ("
                    + e.getClass().getSimpleName() + ")");
        }
    }

    private HttpsConfigurator tls(Optional<X509Certificate> kmsCa) throws RaException {
        List<X509Certificate> chain = readCerts(config.rpc().tlsCerts().get(), "tls.certs");
        P256PrivateKey key;
        Path kp = config.rpc().tlsKey().get();
        try {
            key = P256PrivateKey.fromPem(Files.readString(kp, StandardCharsets.US_ASCII));
        } catch (IOException e) {
            throw new RaException(Reason.CONFIG_FILE_UNREADABLE, "tls.key", kp + " cannot be read ("
                    + e.getClass().getSimpleName() + ")");
        } catch (RaException e) {
            throw new RaException(Reason.CONFIG_INVALID, "tls.key", kp + " is not a P-256 private key PEM");
        }
        char[] pw = new char[24];
        SecureRandom r = new SecureRandom();
        for (int i = 0; i < pw.length; i++) {
            pw[i] = (char) ('a' + r.nextInt(26));
        }
        SSLContext ctx;
        try {
            java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry("rpc", key.toPrivateKey(), pw, chain.toArray(new Certificate[0]));
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, pw);
            ctx = SSLContext.getInstance("TLS");
            ctx.init(kmf.getKeyManagers(), new TrustManager[] {new ClientChains(kmsCa)}, null);
        } catch (GeneralSecurityException | IOException e) {
            throw new RaException(Reason.CONFIG_INVALID, "tls", "cannot set up TLS with " + kp + " and "
                    + config.rpc().tlsCerts().get() + " (" + e.getClass().getSimpleName() + ")");
        } finally {
            Arrays.fill(pw, '\0');
        }
        boolean want = kmsCa.isPresent();
        boolean need = config.rpc().mutualMandatory();
        return new HttpsConfigurator(ctx) {
            @Override
            public void configure(HttpsParameters params) {
                SSLParameters p = getSSLContext().getDefaultSSLParameters();
                if (need) {
                    p.setNeedClientAuth(true);
                } else if (want) {
                    p.setWantClientAuth(true);
                }
                params.setSSLParameters(p);
            }
        };
    }

    /**
     * Client chains are taken at the TLS layer (the handshake still proves possession of the leaf key) and verified
     * by {@link ClientAuth} in the call, so that a refusal is a logged pRPC error naming the reason rather than a
     * bare handshake failure. The KMS root CA is the issuer the server asks for.
     */
    private record ClientChains(Optional<X509Certificate> ca) implements X509TrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            if (chain == null || chain.length == 0 || chain.length > 8) {
                throw new CertificateException("a client chain has 1..8 certificates");
            }
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("this trust manager checks clients only");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return ca.map(c -> new X509Certificate[] {c}).orElse(new X509Certificate[0]);
        }
    }

    private static X509Certificate last(List<X509Certificate> l) {
        return l.get(l.size() - 1);
    }

    private static List<X509Certificate> readCerts(Path p, String key) throws RaException {
        byte[] bytes;
        try (InputStream in = Files.newInputStream(p)) {
            bytes = in.readNBytes(1 << 20);
        } catch (IOException e) {
            throw new RaException(Reason.CONFIG_FILE_UNREADABLE, key, p + " cannot be read ("
                    + e.getClass().getSimpleName() + ")");
        }
        try {
            List<X509Certificate> out = new ArrayList<>();
            for (Certificate c : CertificateFactory.getInstance("X.509")
                    .generateCertificates(new ByteArrayInputStream(bytes))) {
                out.add((X509Certificate) c);
            }
            if (out.isEmpty()) {
                throw new CertificateException("no certificate");
            }
            return out;
        } catch (CertificateException | ClassCastException e) {
            throw new RaException(Reason.CONFIG_INVALID, key, p + " holds no PEM or DER certificate");
        }
    }

    private static void respond(HttpExchange e, int status, String type, String body) throws IOException {
        try (e) {
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            e.getResponseHeaders().set("Content-Type", type);
            e.getResponseHeaders().set("X-App-Version", GatewayRpc.VERSION);
            boolean head = "HEAD".equals(e.getRequestMethod());
            e.sendResponseHeaders(status, head ? -1 : b.length);
            if (!head) {
                e.getResponseBody().write(b);
            }
        }
    }

    private static String hostPort(InetSocketAddress a) {
        String h = a.getAddress().getHostAddress();
        return (h.indexOf(':') >= 0 ? "[" + h + "]" : h) + ":" + a.getPort();
    }

    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        for (HttpServer s : new HttpServer[] {debug, admin, rpc}) {
            if (s != null) {
                s.stop(0);
            }
        }
        for (int i = closeables.size() - 1; i >= 0; i--) {
            try {
                closeables.get(i).close();
            } catch (Exception e) {
                LOG.log(System.Logger.Level.WARNING, "closing " + closeables.get(i) + ": " + e);
            }
        }
        if (executor != null) {
            executor.shutdownNow();
        }
        closedFuture.complete(null);
    }

    @Override
    public String toString() {
        return "GatewayServer[" + config + "]";
    }

    /** Builder: configuration, clock, environment, metrics. */
    public static final class Builder {
        private final GatewayConfig config;
        private Clock clock = Clock.systemUTC();
        private Map<String, String> env = System.getenv();
        private MeterRegistry meters = new SimpleMeterRegistry();

        private Builder(GatewayConfig config) {
            this.config = Objects.requireNonNull(config, "config");
        }

        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * The environment: {@code DSTACK_AGENT_ADDRESS}, {@code DSTACK_GATEWAY_ADMIN_TOKEN}, {@code ADMIN_API_TOKEN}.
         */
        public Builder environment(Map<String, String> env) {
            this.env = Map.copyOf(env);
            return this;
        }

        public Builder meterRegistry(MeterRegistry registry) {
            this.meters = Objects.requireNonNull(registry, "registry");
            return this;
        }

        /** Starts every listener; on a failure, closes what was started and throws. */
        public GatewayServer start() throws RaException, IOException {
            GatewayServer s = new GatewayServer(this);
            try {
                return s.doStart();
            } catch (RaException | IOException | RuntimeException e) {
                s.close();
                throw e;
            }
        }
    }
}
