package dev.atlas.dstack.simulator;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.atlas.dstack.ra.K256PrivateKey;
import dev.atlas.dstack.ra.KeyDerivation;
import dev.atlas.dstack.ra.KmsSignatures;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RecoverableSignature;
import dev.atlas.dstack.ra.VersionedAttestation;
import dev.atlas.dstack.simulator.internal.CertIssuer;
import dev.atlas.dstack.simulator.internal.CvmPlatform;
import dev.atlas.dstack.simulator.internal.FixturePlatform;
import dev.atlas.dstack.simulator.internal.GatewayBoot;
import dev.atlas.dstack.simulator.internal.GuestService;
import dev.atlas.dstack.simulator.internal.HttpListener;
import dev.atlas.dstack.simulator.internal.KmsBoot;
import dev.atlas.dstack.simulator.internal.Platform;
import dev.atlas.dstack.simulator.internal.Tls;
import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.ra.kms.KmsClient;
import dev.atlas.tdx.CollateralClient;
import dev.atlas.tdx.CollateralSource;
import dev.atlas.tdx.QuoteVerifier;
import dev.atlas.testing.MockIntelPki;
import dev.atlas.testing.SimulatedCvm;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * A dstack guest agent for development and tests ({@code ../shared/specs/dstack-platform.md} §5.1–§5.3): the
 * whole {@code DstackGuest} API on the internal listener (at {@code /}, bare method names), the legacy
 * {@code Tappd} service (at {@code /prpc}, {@code Tappd.} trimmed) and the external {@code Worker} service (at
 * {@code /prpc}, {@code Worker.} trimmed, {@code Info} redacted unless {@code public_tcbinfo}), each on a Unix
 * socket and/or loopback TCP, HTTP/1.1 with pRPC JSON.
 *
 * <p>State comes from dstack's own simulator files, loaded unchanged ({@link Builder#keys},
 * {@link Builder#compose}, {@link Builder#sysConfig}, {@link Builder#attestation}), or is generated from a
 * 32-byte {@link Builder#seed}. Evidence comes from one of two platforms:
 * <ul>
 *   <li>by default a {@link SimulatedCvm} built from the compose (its hash measured, its app id, the sys-config's
 *       OS image hash, its key provider), whose quotes the mock Intel PKI signs and whose event log replays:
 *       evidence verifies against {@link #mockRootCaPem()} with collateral from {@link #collateralJson()} (serve
 *       it with {@code MockPccs}) under {@link #policyJson(String)};</li>
 *   <li>with {@link Builder#attestation(Path)}, upstream's simulator: the fixture replayed, the requested report
 *       data patched into its quote — <b>the Intel signature then no longer verifies</b> — or, with
 *       {@link Builder#resignWithMockPki()}, re-signed by the mock PKI keeping the fixture's MRTD and RTMRs.</li>
 * </ul>
 * Not for production: the keys are the files' or the seed's and the quotes are forged by design.
 */
public final class GuestAgentSimulator implements AutoCloseable {
    /** Version reported by {@code Version} (dstack's workspace version the API follows). */
    public static final String DEFAULT_VERSION = "0.6.0";
    /** Default per-request body limit: pRPC's 10 MiB. */
    public static final int DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
    /** Largest {@code app-compose.json} accepted. */
    public static final int MAX_COMPOSE_BYTES = 1 << 20;
    /** Largest {@code sys-config.json} accepted. */
    public static final int MAX_SYS_CONFIG_BYTES = 256 * 1024;

    private static final HexFormat HEX = HexFormat.of();
    /** One mock Intel PKI per pki seed, shared by every simulated CVM of this JVM that names the seed. */
    private static final ConcurrentHashMap<Long, MockIntelPki> SHARED_PKI = new ConcurrentHashMap<>();
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();

    private final AppKeys keys;
    private final byte[] appId;
    private final byte[] compose;
    private final Platform platform;
    private final Optional<byte[]> kmsPublicKey;
    private final EventLoopGroup group;
    private final ExecutorService executor;
    private final List<HttpListener> listeners = new ArrayList<>();
    private HttpListener internalSock;
    private HttpListener internalTcp;
    private HttpListener tappdSock;
    private HttpListener externalSock;
    private HttpListener externalTcp;
    private GatewayBoot gateway;

    private GuestAgentSimulator(Builder b) throws IOException {
        byte[] seed = b.seed != null ? b.seed.clone() : randomSeed();
        long cvmSeed = ByteBuffer.wrap(sha256(seed)).getLong();
        this.compose = b.compose != null ? readBounded(b.compose, MAX_COMPOSE_BYTES, "app-compose.json")
                : SimulatedCvm.DEFAULT_APP_COMPOSE.getBytes(StandardCharsets.UTF_8);
        JsonNode composeJson = parseObject(compose, "app-compose.json");
        String vmConfig = b.sysConfig != null ? vmConfig(readBounded(b.sysConfig, MAX_SYS_CONFIG_BYTES,
                "sys-config.json")) : null;
        VersionedAttestation fixture = null;
        if (b.attestation != null) {
            try {
                fixture = VersionedAttestation.decode(readBounded(b.attestation, VersionedAttestation.MAX_BYTES,
                        "attestation file"));
            } catch (RaException e) {
                throw new IOException("attestation file: " + e.getMessage(), e);
            }
        }
        // the app id: given, else the fixture's app-id event, else dstack's default (compose hash prefix)
        if (b.appId != null) {
            this.appId = b.appId.clone();
        } else if (fixture != null && fixture.findEventPayload("app-id") != null) {
            this.appId = fixture.findEventPayload("app-id");
        } else {
            this.appId = Arrays.copyOf(sha256(compose), 20);
        }
        // keys: the file, else the KMS's (KMS mode, after boot-mr-done), else derived from the seed with a
        // simulated KMS signing the app key
        K256PrivateKey simulatedKms = null;
        AppKeys loaded = null;
        MockIntelPki sharedPki = b.pkiSeed == null ? null
                : SHARED_PKI.computeIfAbsent(b.pkiSeed, s -> MockIntelPki.builder().seed(s).build());
        if (b.kmsUrl != null) {
            // keys come from the KMS below
        } else if (b.keys != null) {
            try {
                loaded = AppKeys.parse(readBounded(b.keys, AppKeys.MAX_BYTES, "appkeys.json"));
            } catch (RaException e) {
                throw new IOException("appkeys.json: " + e.getMessage(), e);
            }
        } else {
            try {
                simulatedKms = K256PrivateKey.fromScalar(KeyDerivation.hkdf(seed, 32,
                        "atlas-simulated-kms-k256".getBytes(StandardCharsets.US_ASCII)));
            } catch (RaException e) {
                throw new IOException("cannot derive keys from the seed: " + e.getMessage(), e);
            }
        }
        // the platform
        if (fixture != null) {
            MockIntelPki pki = !b.resign ? null : sharedPki != null ? sharedPki
                    : MockIntelPki.builder().seed(cvmSeed).build();
            this.platform = new FixturePlatform(fixture, b.patchReportData, pki, cvmSeed, b.clock,
                    new String(compose, StandardCharsets.UTF_8));
            if (vmConfig == null) {
                vmConfig = fixtureVmConfig(fixture.config());
            }
        } else {
            SimulatedCvm.Builder cb = SimulatedCvm.builder().seed(cvmSeed).clock(b.clock).appCompose(compose)
                    .appId(HEX.formatHex(appId)).keyProvider(b.kmsUrl != null ? SimulatedCvm.KeyProvider.KMS
                            : keyProvider(composeJson, loaded));
            if (sharedPki != null) {
                cb.pki(sharedPki);
            }
            if (b.kmsUrl != null) {
                cb.stopAtBootMrDone();
            }
            if (b.instanceId != null) {
                cb.instanceId(b.instanceId);
            }
            if (b.emptyRuntimeDigests) {
                cb.stripRuntimeDigests();
            }
            String os = vmConfig == null ? null : osImageHash(vmConfig);
            if (os != null) {
                cb.osImageHash(os);
            }
            SimulatedCvm cvm = cb.build();
            if (vmConfig == null) {
                vmConfig = cvm.vmConfig();
            }
            this.platform = new CvmPlatform(cvm, vmConfig);
        }
        try {
            CertSigner kmsSigner = null;
            if (b.kmsUrl != null) {
                KmsBoot.Result r = KmsBoot.boot(kmsClient(b, platform), platform, appId, vmConfig);
                loaded = r.keys();
                this.kmsPublicKey = Optional.of(r.kmsK256PublicKey());
                kmsSigner = r.signer();
            } else if (loaded == null) {
                KeyDerivation.SeedKeys sk = KeyDerivation.fromSeed(seed);
                RecoverableSignature sig = KmsSignatures.k256Signature(simulatedKms, appId, sk.k256Key().publicKey());
                String caPem = Tls.selfSignedAppCa(sk.caKey(), platform, b.clock);
                loaded = new AppKeys(sk.diskKey().bytes(), new byte[0], sk.k256Key().scalar(), sig.bytes(), "", caPem,
                        new AppKeys.None(sk.caKey().toPem()));
                this.kmsPublicKey = Optional.of(simulatedKms.publicKey());
            } else {
                this.kmsPublicKey = recoverKms(loaded, appId);
            }
            this.keys = loaded;
            CertSigner signer = b.certSigner != null ? b.certSigner
                    : kmsSigner != null ? kmsSigner : Tls.localCa(loaded, platform, b.clock);
            CertIssuer issuer = signer == null ? null : Tls.issuer(platform, signer);
            if (!b.gatewayUrls.isEmpty()) {
                this.gateway = bootGateway(b, issuer, loaded, composeJson);
            }
            GuestService service = new GuestService(new GuestService.Config(K256PrivateKey.fromScalar(loaded.k256Key()),
                    loaded.k256Signature(), compose, text(composeJson, "name", ""),
                    b.publicTcbinfo != null ? b.publicTcbinfo : bool(composeJson, "public_tcbinfo", true),
                    vmConfig, platform, issuer, b.emitEvent, b.version, "atlas-dstack-simulator", b.maxBodyBytes));
            this.group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
            this.executor = Executors.newVirtualThreadPerTaskExecutor();
            try {
                start(b, service);
            } catch (IOException | RuntimeException e) {
                close();
                throw e;
            }
        } catch (RaException e) {
            throw new IOException("cannot set up the simulated guest agent: " + e.getMessage(), e);
        }
    }

    /** §3.3 guest side, when the compose enables the gateway (dstack-util skips it otherwise). */
    private static GatewayBoot bootGateway(Builder b, CertIssuer issuer, AppKeys keys, JsonNode compose)
            throws IOException, RaException {
        if (!GatewayBoot.gatewayEnabled(compose)) {
            System.getLogger(GuestAgentSimulator.class.getName()).log(System.Logger.Level.INFO, "gateway_urls are set"
                    + " but app-compose does not enable the gateway (gateway_enabled): not registering, as"
                    + " dstack-util");
            return null;
        }
        return GatewayBoot.boot(new GatewayBoot.Config(b.gatewayUrls, b.insecureGatewayLoopbackTransport,
                Optional.ofNullable(b.wireGuardNetns), b.wireGuardInterface, Optional.ofNullable(b.wireGuardConfigDir),
                b.clock, b.kmsTimeout), issuer, keys.caCert(), keys.gatewayAppId(), compose);
    }

    private void start(Builder b, GuestService s) throws IOException {
        if (b.internalSocket != null) {
            internalSock = listen(UnixDomainSocketAddress.of(b.internalSocket), "", s.dstackGuest(), b);
        }
        if (b.internalTcp != null) {
            internalTcp = listen(b.internalTcp, "", s.dstackGuest(), b);
        }
        if (b.tappdSocket != null) {
            tappdSock = listen(UnixDomainSocketAddress.of(b.tappdSocket), "/prpc", s.tappd(), b);
        }
        if (b.externalSocket != null) {
            externalSock = listen(UnixDomainSocketAddress.of(b.externalSocket), "/prpc", s.worker(), b);
        }
        if (b.externalTcp != null) {
            externalTcp = listen(b.externalTcp, "/prpc", s.worker(), b);
        }
    }

    private HttpListener listen(java.net.SocketAddress a, String prefix, dev.atlas.dstack.ra.prpc.PrpcDispatcher d,
            Builder b) throws IOException {
        HttpListener l = HttpListener.bind(group, executor, a, List.of(new HttpListener.Mount(prefix, d)),
                b.maxBodyBytes);
        listeners.add(l);
        return l;
    }

    /** KMS mode: dstack-util's client, attesting through this CVM, checking the KMS as configured. */
    private static KmsClient kmsClient(Builder b, Platform platform) {
        KmsClient.Builder kb = KmsClient.builder(b.kmsUrl).attester(platform::attest).clock(b.clock)
                .timeout(b.kmsTimeout);
        if (b.kmsVerifier != null) {
            kb.verifier(b.kmsVerifier);
        } else if (b.kmsPccsUrl != null) {
            X509Certificate root;
            try {
                root = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(
                        new java.io.ByteArrayInputStream(platform.mockRootPem().orElseThrow()
                                .getBytes(StandardCharsets.US_ASCII)));
            } catch (CertificateException e) {
                throw new IllegalStateException("the mock Intel root does not parse", e);
            }
            kb.verifier(DstackTdxVerifier.builder()
                    .quoteVerifier(QuoteVerifier.builder().insecureTrustAnchorForTesting(root).clock(b.clock).build())
                    .collateralSource(CollateralSource.fetching(CollateralClient.builder().baseUrl(b.kmsPccsUrl)
                            .build()))
                    .clock(b.clock).build());
        } else {
            kb.insecureSkipServerAttestation();
        }
        return kb.build();
    }

    private static byte[] randomSeed() {
        byte[] s = new byte[32];
        new SecureRandom().nextBytes(s);
        return s;
    }

    static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Reads at most {@code max} bytes of a file, refusing a larger one before reading it. */
    static byte[] readBounded(Path p, int max, String what) throws IOException {
        try (InputStream in = Files.newInputStream(p)) {
            byte[] data = in.readNBytes(max + 1);
            if (data.length > max) {
                throw new IOException(what + " " + p + " is larger than " + max + " bytes");
            }
            return data;
        }
    }

    private static JsonNode parseObject(byte[] bytes, String what) throws IOException {
        JsonNode n;
        try {
            n = JSON.readTree(bytes);
        } catch (IOException e) {
            throw new IOException(what + " is not JSON", e);
        }
        if (n == null || !n.isObject()) {
            throw new IOException(what + " is not a JSON object");
        }
        return n;
    }

    /** {@code SysConfig.vm_config}: required, a string (holding JSON). */
    static String vmConfig(byte[] sysConfig) throws IOException {
        JsonNode n = parseObject(sysConfig, "sys-config.json");
        JsonNode v = n.get("vm_config");
        if (v == null) {
            throw new IOException("sys-config.json: vm_config: missing field");
        }
        if (!v.isTextual()) {
            throw new IOException("sys-config.json: vm_config: must be a string");
        }
        return v.textValue();
    }

    /** A fixture's config is a vm_config JSON or a sys-config that holds one. */
    private static String fixtureVmConfig(String config) {
        try {
            JsonNode n = JSON.readTree(config);
            if (n != null && n.path("vm_config").isTextual()) {
                return n.get("vm_config").textValue();
            }
        } catch (IOException e) {
            // not JSON: report it as is
        }
        return config;
    }

    private static String osImageHash(String vmConfig) throws IOException {
        JsonNode n = parseObject(vmConfig.getBytes(StandardCharsets.UTF_8), "vm_config");
        JsonNode h = n.get("os_image_hash");
        if (h == null || h.isNull()) {
            return null;
        }
        if (!h.isTextual() || !h.textValue().matches("[0-9a-f]{64}")) {
            throw new IOException("vm_config.os_image_hash: must be 64 lowercase hex characters");
        }
        return h.textValue();
    }

    /** The key provider the simulated CVM measures: the compose's choice, else the keys' variant. */
    private static SimulatedCvm.KeyProvider keyProvider(JsonNode compose, AppKeys keys) {
        String kp = text(compose, "key_provider", "");
        switch (kp) {
            case "kms":
                return SimulatedCvm.KeyProvider.KMS;
            case "local":
                return SimulatedCvm.KeyProvider.LOCAL_SGX;
            case "none":
            case "tpm": // the simulated CVM has no TPM provider; it measures no os-image-hash either way
                return SimulatedCvm.KeyProvider.NONE;
            default:
                break;
        }
        if (bool(compose, "kms_enabled", false)) {
            return SimulatedCvm.KeyProvider.KMS;
        }
        if (bool(compose, "local_key_provider_enabled", false)) {
            return SimulatedCvm.KeyProvider.LOCAL_SGX;
        }
        if (keys != null) {
            return switch (keys.keyProvider()) {
                case AppKeys.Kms k -> SimulatedCvm.KeyProvider.KMS;
                case AppKeys.Local l -> SimulatedCvm.KeyProvider.LOCAL_SGX;
                default -> SimulatedCvm.KeyProvider.NONE;
            };
        }
        return SimulatedCvm.KeyProvider.NONE;
    }

    private static String text(JsonNode o, String field, String dflt) {
        JsonNode v = o.get(field);
        return v != null && v.isTextual() ? v.textValue() : dflt;
    }

    private static boolean bool(JsonNode o, String field, boolean dflt) {
        JsonNode v = o.get(field);
        return v != null && v.isBoolean() ? v.booleanValue() : dflt;
    }

    /** The KMS root key the files imply: the signer of {@code k256_signature} over this app id and app key. */
    private static Optional<byte[]> recoverKms(AppKeys keys, byte[] appId) {
        if (keys.k256Signature().length == 0) {
            return Optional.empty();
        }
        try {
            K256PrivateKey app = K256PrivateKey.fromScalar(keys.k256Key());
            return Optional.of(KmsSignatures.recoverK256Signer(RecoverableSignature.of(keys.k256Signature()), appId,
                    app.publicKey()));
        } catch (RaException e) {
            return Optional.empty();
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    // ---- accessors -----------------------------------------------------------------------------------------

    /** The internal ({@code DstackGuest}) Unix socket. */
    public Optional<Path> internalSocket() {
        return internalSock == null ? Optional.empty() : internalSock.socket();
    }

    /** The internal ({@code DstackGuest}) TCP endpoint, {@code http://127.0.0.1:port}. */
    public Optional<URI> internalUrl() {
        return url(internalTcp);
    }

    /** The legacy {@code Tappd} Unix socket. */
    public Optional<Path> tappdSocket() {
        return tappdSock == null ? Optional.empty() : tappdSock.socket();
    }

    /** The external ({@code Worker}) Unix socket. */
    public Optional<Path> externalSocket() {
        return externalSock == null ? Optional.empty() : externalSock.socket();
    }

    /** The external ({@code Worker}) TCP endpoint, {@code http://host:port}. */
    public Optional<URI> externalUrl() {
        return url(externalTcp);
    }

    private static Optional<URI> url(HttpListener l) {
        if (l == null) {
            return Optional.empty();
        }
        return l.tcpAddress().map(a -> URI.create("http://" + host(a) + ":" + a.getPort()));
    }

    private static String host(InetSocketAddress a) {
        String h = a.getAddress().getHostAddress();
        return h.contains(":") ? "[" + h + "]" : h;
    }

    /**
     * The mock Intel root CA (PEM) that signs this agent's quotes.
     *
     * @throws IllegalStateException with a fixture attestation that is not re-signed (its quotes carry Intel's
     *                               signature over other report data, which nothing verifies)
     */
    public String mockRootCaPem() {
        return platform.mockRootPem().orElseThrow(() -> new IllegalStateException(
                "the quotes are the fixture's, patched: no mock root signs them (use resignWithMockPki())"));
    }

    /** The collateral (dcap-qvl JSON) for this agent's quotes, for {@code MockPccs.start(sim::collateralJson, 0)}. */
    public String collateralJson() {
        return platform.collateralJson().orElseThrow(() -> new IllegalStateException(
                "the quotes are the fixture's, patched: there is no collateral for them (use resignWithMockPki())"));
    }

    /** An Atlas {@code dstack_tdx} policy that accepts this simulated CVM, with collateral from {@code pccsUrl}. */
    public String policyJson(String pccsUrl) {
        Objects.requireNonNull(pccsUrl, "pccsUrl");
        return platform.policyJson(pccsUrl).orElseThrow(() -> new IllegalStateException(
                "the quotes are the fixture's, patched: no policy accepts them (use resignWithMockPki())"));
    }

    /** The app id (20 bytes) the agent reports and its KMS link signs over. */
    public byte[] appId() {
        return appId.clone();
    }

    /** The app keys in use (loaded, or generated from the seed). */
    public AppKeys appKeys() {
        return keys;
    }

    /** The app compose bytes (its SHA-256 is the compose hash). */
    public byte[] appCompose() {
        return compose.clone();
    }

    /**
     * The KMS root public key (compressed, 33 bytes) that {@code GetKey}'s chain verifies to: in KMS mode the key
     * the released {@code k256_signature} recovers to (the KMS's k256 root key), else the simulated KMS of a seed,
     * or the signer the loaded {@code k256_signature} recovers to over {@link #appId()}; empty when the keys carry
     * no signature.
     */
    public Optional<byte[]> kmsPublicKey() {
        return kmsPublicKey.map(byte[]::clone);
    }

    /**
     * The address the app should bind for the gateway to reach it: {@code 127.0.0.1} without gateways; with
     * {@link Builder#gatewayUrls} the WireGuard client IP the gateway allocated, or {@code 127.b.c.d} for client IP
     * {@code a.b.c.d} with {@link Builder#insecureGatewayLoopbackTransport()}.
     */
    public java.net.InetAddress vmAddress() {
        return gateway != null ? gateway.vmAddress() : java.net.InetAddress.getLoopbackAddress();
    }

    /**
     * The gateway answers this CVM registered with at start: one, from the first of {@link Builder#gatewayUrls} that
     * accepted (dstack-util stops at the first; its {@code servers} list every gateway node); empty without
     * gateways.
     */
    public List<GatewayRegistration> gatewayRegistrations() {
        return gateway != null ? gateway.registrations() : List.of();
    }

    /**
     * Stops every listener and removes the socket files. Idempotent and safe to call from several threads (a
     * shutdown hook and the owner's try-with-resources may race).
     */
    @Override
    public synchronized void close() {
        for (HttpListener l : listeners) {
            l.close();
        }
        listeners.clear();
        if (group != null) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
        if (executor != null) {
            executor.shutdownNow();
        }
        if (gateway != null) {
            gateway.close();
        }
    }

    @Override
    public String toString() {
        return "GuestAgentSimulator[app_id=" + HEX.formatHex(appId) + ", " + keys + "]";
    }

    /** Builder; at least one listener must be configured. */
    public static final class Builder {
        private Path keys;
        private Path compose;
        private Path sysConfig;
        private Path attestation;
        private byte[] seed;
        private byte[] appId;
        private byte[] instanceId;
        private Path internalSocket;
        private Path tappdSocket;
        private Path externalSocket;
        private InetSocketAddress internalTcp;
        private InetSocketAddress externalTcp;
        private Clock clock = Clock.systemUTC();
        private Boolean publicTcbinfo;
        private boolean emitEvent = true;
        private boolean patchReportData = true;
        private boolean resign;
        private boolean emptyRuntimeDigests;
        private CertSigner certSigner;
        private String version = DEFAULT_VERSION;
        private int maxBodyBytes = DEFAULT_MAX_BODY_BYTES;
        private Long pkiSeed;
        private URI kmsUrl;
        private DstackTdxVerifier kmsVerifier;
        private String kmsPccsUrl;
        private boolean insecureKms;
        private java.time.Duration kmsTimeout = KmsClient.DEFAULT_TIMEOUT;
        private List<URI> gatewayUrls = List.of();
        private boolean insecureGatewayLoopbackTransport;
        private String wireGuardNetns;
        private String wireGuardInterface = GatewayBoot.DEFAULT_INTERFACE;
        private Path wireGuardConfigDir;

        private Builder() {
        }

        /**
         * KMS mode: after the keys, register with each gateway as dstack-util does (§3.3 guest side): WireGuard keys,
         * a client certificate from the KMS ({@code SignCert}, app info extension), {@code RegisterCvm} over mTLS
         * (the KMS root CA as trust anchor, the server's app id checked against the KMS's {@code gateway_app_id}),
         * then {@code dstack-wg0} brought up (see {@link #wireGuardNetns}); the app binds {@link #vmAddress()}.
         * The URLs are tried in order until one accepts (as dstack-util); {@link #start()} fails (IOException naming
         * every gateway's error) when none does. Only when the compose enables the gateway ({@code gateway_enabled},
         * legacy {@code tproxy_enabled} or feature {@code tproxy-net}); otherwise skipped as dstack-util does. Needs
         * {@link #kms(URI)}: the trust anchor and {@code gateway_app_id} come from the KMS.
         */
        public Builder gatewayUrls(List<URI> urls) {
            this.gatewayUrls = List.copyOf(urls);
            return this;
        }

        /**
         * <b>Insecure</b>, development only: register with the gateways but bring up no WireGuard; the app is reached
         * on {@code 127.b.c.d} for client IP {@code a.b.c.d} ({@link #vmAddress()}), matching a gateway with
         * {@code insecure_loopback_transport}. Logged as a WARNING at start.
         */
        public Builder insecureGatewayLoopbackTransport() {
            this.insecureGatewayLoopbackTransport = true;
            return this;
        }

        /** Run the WireGuard tools ({@code wg}, {@code ip}) inside this network namespace (tests). */
        public Builder wireGuardNetns(String netns) {
            this.wireGuardNetns = Objects.requireNonNull(netns, "netns");
            return this;
        }

        /**
         * The guest's WireGuard interface (default {@code dstack-wg0}). Two simulated CVMs with real WireGuard on one
         * host need different names even in different namespaces: wireguard-go's control socket
         * {@code /var/run/wireguard/<iface>.sock} is per host.
         */
        public Builder wireGuardInterface(String iface) {
            this.wireGuardInterface = Objects.requireNonNull(iface, "iface");
            return this;
        }

        /** Where {@code <iface>.conf} is written, mode 0600 (default: a temporary directory removed at close). */
        public Builder wireGuardConfigDir(Path dir) {
            this.wireGuardConfigDir = Objects.requireNonNull(dir, "dir");
            return this;
        }

        /**
         * The mock Intel PKI (root, PCK chain, collateral signer) by seed: every simulated CVM of this JVM with the
         * same pki seed shares one {@link MockIntelPki}, so one trust anchor ({@link #mockRootCaPem()}) and one
         * {@code MockPccs} serve all of them, for example a KMS CVM and the app CVMs that ask it for keys. Without
         * it each CVM has its own PKI, seeded from {@link #seed}. Applies to the simulated CVM and to
         * {@link #resignWithMockPki()}.
         */
        public Builder pkiSeed(long seed) {
            this.pkiSeed = seed;
            return this;
        }

        /**
         * KMS mode (design: "One boot, end to end", steps 2–3): at start, after {@code boot-mr-done}, the CVM asks
         * this KMS for its keys exactly as dstack-util does ({@link KmsClient#getAppKey} with the CVM's vm_config,
         * attested by this CVM), checks {@code k256_signature} by recovering the KMS key, records
         * {@code os-image-hash}, {@code key-provider} ({@code {"name":"kms","id":"<hex SPKI of the KMS root CA
         * key>"}}) and {@code system-ready}, and then serves {@code GetKey}/{@code Sign} from the released keys and
         * {@code GetTlsKey} through the KMS's {@code SignCert} (chain [leaf, app CA, KMS root]). The KMS server
         * certificate is checked with {@link #kmsVerifier}, or against this CVM's mock root and {@link #kmsPccsUrl},
         * or not at all with {@link #insecureSkipKmsServerAttestation()} (one of the three is required). Not with
         * {@link #keys} or {@link #attestation}. {@link #start()} fails (IOException naming the KMS and the check or
         * its error text) when the KMS refuses.
         *
         * <p>Example, a KMS CVM and an app CVM sharing one mock PKI (the e2e test's shape):
         * <pre>{@code
         * var kmsCvm = GuestAgentSimulator.builder().pkiSeed(7).internalSocket(dir.resolve("kms.sock")).start();
         * try (MockPccs pccs = MockPccs.start(kmsCvm::collateralJson, 0)) {
         *     // ... start the KMS (root_ca.tdx = kmsCvm.mockRootCaPem(), urls.pccs = pccs.baseUrl()) ...
         *     var app = GuestAgentSimulator.builder().pkiSeed(7).compose(composePath)
         *             .kms(URI.create("https://127.0.0.1:" + kmsPort)).kmsPccsUrl(pccs.baseUrl())
         *             .internalSocket(dir.resolve("app.sock")).start();
         *     byte[] kmsK256 = app.kmsPublicKey().orElseThrow();
         * }
         * }</pre>
         */
        public Builder kms(URI kmsUrl) {
            this.kmsUrl = Objects.requireNonNull(kmsUrl, "kmsUrl");
            return this;
        }

        /** KMS mode: verifies the attestation in the KMS server certificate. */
        public Builder kmsVerifier(DstackTdxVerifier verifier) {
            this.kmsVerifier = Objects.requireNonNull(verifier, "verifier");
            return this;
        }

        /**
         * KMS mode: verify the KMS server certificate's attestation against this CVM's mock Intel root (the KMS CVM
         * must share it: {@link #pkiSeed}) with collateral from this PCCS (a {@code MockPccs} base URL).
         */
        public Builder kmsPccsUrl(String pccsBaseUrl) {
            this.kmsPccsUrl = Objects.requireNonNull(pccsBaseUrl, "pccsBaseUrl");
            return this;
        }

        /**
         * KMS mode, <b>insecure</b>: do not verify the attestation in the KMS server certificate (its chain to the
         * KMS CA and usage {@code kms:rpc} still are); for a KMS with {@code attest_rpc_cert = false}. Logged.
         */
        public Builder insecureSkipKmsServerAttestation() {
            this.insecureKms = true;
            return this;
        }

        /**
         * KMS mode: connect and request timeout of the KMS calls, of {@code RegisterCvm} and of each WireGuard tool
         * (default 60 s).
         */
        public Builder kmsTimeout(java.time.Duration timeout) {
            this.kmsTimeout = Objects.requireNonNull(timeout, "timeout");
            return this;
        }

        /** dstack's {@code appkeys.json}, unchanged format (see {@link AppKeys}). */
        public Builder keys(Path appkeysJson) {
            this.keys = Objects.requireNonNull(appkeysJson);
            return this;
        }

        /** dstack's {@code app-compose.json}: the raw bytes are kept; the compose hash is their SHA-256. */
        public Builder compose(Path appComposeJson) {
            this.compose = Objects.requireNonNull(appComposeJson);
            return this;
        }

        /** dstack's {@code sys-config.json}: its {@code vm_config} is reported and gives the OS image hash. */
        public Builder sysConfig(Path sysConfigJson) {
            this.sysConfig = Objects.requireNonNull(sysConfigJson);
            return this;
        }

        /** A fixture {@code VersionedAttestation} (V0 SCALE or V1 msgpack): upstream's simulator mode. */
        public Builder attestation(Path attestationBin) {
            this.attestation = Objects.requireNonNull(attestationBin);
            return this;
        }

        /** Seed (32 bytes) for fresh keys and the mock PKI when no files are given (default: random). */
        public Builder seed(byte[] seed32) {
            if (seed32.length != 32) {
                throw new IllegalArgumentException("seed must be 32 bytes, got " + seed32.length);
            }
            this.seed = seed32.clone();
            return this;
        }

        /**
         * The app id (20 bytes). Default: the fixture's {@code app-id} event, else the first 20 bytes of the
         * compose hash (dstack's default). dstack's simulator files need {@code 5bb4ff9a…6c56} (their
         * {@code attestation.bin}'s) for the {@code GetKey} chain to verify to the KMS key they were made with.
         */
        public Builder appId(byte[] appId20) {
            if (appId20.length != 20) {
                throw new IllegalArgumentException("app id must be 20 bytes, got " + appId20.length);
            }
            this.appId = appId20.clone();
            return this;
        }

        /**
         * The instance id the simulated CVM measures ({@code instance-id} event) and {@code Info} reports: 20 bytes,
         * or empty for a compose with {@code no_instance_id}. Default: derived from the app id and the seed. The
         * simulated guest OS passes dstack's {@code SHA-256(instance_id_seed ‖ app_id)[0..20]}
         * ({@code dstack-util/src/system_setup.rs} {@code measure_app_info}). Not with {@link #attestation}.
         */
        public Builder instanceId(byte[] id) {
            if (id.length != 0 && id.length != 20) {
                throw new IllegalArgumentException("instance id must be 0 or 20 bytes, got " + id.length);
            }
            this.instanceId = id.clone();
            return this;
        }

        /** {@code DstackGuest} at {@code /} on this Unix socket ({@code dstack.sock}); an existing file is replaced. */
        public Builder internalSocket(Path p) {
            this.internalSocket = Objects.requireNonNull(p);
            return this;
        }

        /** {@code Tappd} at {@code /prpc}, {@code Tappd.} trimmed, on this Unix socket ({@code tappd.sock}). */
        public Builder tappdSocket(Path p) {
            this.tappdSocket = Objects.requireNonNull(p);
            return this;
        }

        /** {@code Worker} at {@code /prpc}, {@code Worker.} trimmed, redacted, on this Unix socket. */
        public Builder externalSocket(Path p) {
            this.externalSocket = Objects.requireNonNull(p);
            return this;
        }

        /** {@code DstackGuest} on TCP (port 0 picks one; see {@link #internalUrl()}). */
        public Builder internalTcp(InetSocketAddress a) {
            this.internalTcp = Objects.requireNonNull(a);
            return this;
        }

        /** {@code Worker} on TCP (port 0 picks one; see {@link #externalUrl()}). */
        public Builder externalTcp(InetSocketAddress a) {
            this.externalTcp = Objects.requireNonNull(a);
            return this;
        }

        /** Clock for collateral and certificate validity (default system UTC). */
        public Builder clock(Clock c) {
            this.clock = Objects.requireNonNull(c);
            return this;
        }

        /**
         * Whether the external {@code Info} shows {@code tcb_info} and {@code vm_config}; default: the compose's
         * {@code public_tcbinfo} (true when absent, as dstack).
         */
        public Builder publicTcbinfo(boolean show) {
            this.publicTcbinfo = show;
            return this;
        }

        /**
         * Answer {@code EmitEvent} as current dstack does (it removed the method: pRPC's unknown-method error).
         * By default the agent serves it as dstack ≤ 0.5.x did, which the aTLS server's
         * {@code GuestAgentQuoteProvider} uses to measure its certificate.
         */
        public Builder withoutEmitEvent() {
            this.emitEvent = false;
            return this;
        }

        /** Fixture mode: keep the fixture's report data instead of patching the requested one in (default patch). */
        public Builder keepFixtureReportData() {
            this.patchReportData = false;
            return this;
        }

        /**
         * Fixture mode: re-make every quote signed by the mock Intel PKI (seeded), keeping the fixture's MRTD and
         * RTMRs, so it verifies against {@link #mockRootCaPem()} (upstream's {@code mock_attestation_seed}).
         */
        public Builder resignWithMockPki() {
            this.resign = true;
            return this;
        }

        /**
         * Simulated CVM: send the RTMR3 entries of {@code event_log} with an empty digest, as dstack 0.5.6 and later
         * do (verifiers recompute it from name and payload). Default: digests included, as older agents.
         */
        public Builder emptyRuntimeDigests() {
            this.emptyRuntimeDigests = true;
            return this;
        }

        /** Who signs {@code GetTlsKey} certificates (default: the local CA of the keys; none for a KMS provider). */
        public Builder certSigner(CertSigner signer) {
            this.certSigner = Objects.requireNonNull(signer);
            return this;
        }

        /** {@code Version.version} and the external {@code X-App-Version} (default {@link #DEFAULT_VERSION}). */
        public Builder version(String v) {
            this.version = Objects.requireNonNull(v);
            return this;
        }

        /** Request body limit (default 10 MiB). */
        public Builder maxBodyBytes(int bytes) {
            if (bytes < 1024) {
                throw new IllegalArgumentException("maxBodyBytes must be at least 1024");
            }
            this.maxBodyBytes = bytes;
            return this;
        }

        /** Loads the files, builds the platform and binds every listener. */
        public GuestAgentSimulator start() throws IOException {
            if (internalSocket == null && tappdSocket == null && externalSocket == null && internalTcp == null
                    && externalTcp == null) {
                throw new IllegalStateException("no listener: set a socket or a TCP address");
            }
            if (resign && attestation == null) {
                throw new IllegalStateException("resignWithMockPki() needs attestation(Path)");
            }
            if (kmsUrl != null) {
                if (keys != null || attestation != null) {
                    throw new IllegalStateException("kms(URI) takes the keys from the KMS and boots the simulated CVM:"
                            + " not with keys(Path) or attestation(Path)");
                }
                int checks = (kmsVerifier != null ? 1 : 0) + (kmsPccsUrl != null ? 1 : 0) + (insecureKms ? 1 : 0);
                if (checks != 1) {
                    throw new IllegalStateException("kms(URI) needs exactly one of kmsVerifier, kmsPccsUrl or"
                            + " insecureSkipKmsServerAttestation()");
                }
            } else if (!gatewayUrls.isEmpty()) {
                throw new IllegalStateException("gatewayUrls needs kms(URI): the client certificate, the trust anchor"
                        + " and gateway_app_id come from the KMS");
            } else if (kmsVerifier != null || kmsPccsUrl != null || insecureKms) {
                throw new IllegalStateException("kmsVerifier, kmsPccsUrl and insecureSkipKmsServerAttestation() need"
                        + " kms(URI)");
            }
            return new GuestAgentSimulator(this);
        }
    }
}
