package dev.atlas.dstack.simulator.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.ClientIdentity;
import dev.atlas.dstack.ra.KeyDerivation;
import dev.atlas.dstack.ra.P256PrivateKey;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaTlsCertificate;
import dev.atlas.dstack.ra.RaTlsVerifier;
import dev.atlas.dstack.ra.prpc.PrpcClient;
import dev.atlas.dstack.ra.prpc.PrpcRemoteException;
import dev.atlas.dstack.simulator.GatewayRegistration;
import dev.atlas.tdx.AttestationException;
import java.io.ByteArrayInputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.interfaces.XECPrivateKey;
import java.security.interfaces.XECPublicKey;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The guest side of gateway registration ({@code ../shared/specs/dstack-platform.md} §3.3 "Guest side" and
 * "Guest finishes"; upstream {@code dstack-util/src/system_setup.rs} {@code GatewayContext}), run by a simulated
 * CVM in KMS mode after it has its keys:
 * <ol>
 *   <li>WireGuard keys with {@code wg genkey} / {@code wg pubkey} (in the insecure loopback transport, where
 *       {@code wg} may be missing, the JDK's X25519 instead);</li>
 *   <li>a client certificate from the KMS through {@code SignCert} ({@code ext_app_info = true},
 *       {@code ext_quote = false}, client auth, subject {@code dstack-guest-agent}, valid 10 days);</li>
 *   <li>{@code POST <gw>/prpc/RegisterCvm?json {client_public_key, port_policy}} over mTLS, trying the
 *       {@code gateway_urls} in order until one accepts (as dstack-util): the server certificate must chain to the
 *       KMS root CA of the app keys and carry an {@code app_id} extension whose hex is, case-insensitively, a
 *       substring of the KMS's {@code gateway_app_id} ({@code any} disables the app id check only: the chain is
 *       always checked). The attestation of the server certificate is not verified (dstack-util:
 *       {@code verify_server_attestation(false)}) and neither is its host name (its SANs are whatever the app that
 *       requested it asked for; the KMS chain and the app id are what identify a gateway);</li>
 *   <li>{@code dstack-wg0.conf} written 0600 ({@code ListenPort = 9182}, {@code Address = <client_ip>/32}, one
 *       {@code [Peer]} per gateway server sorted by key, {@code AllowedIPs = <gw ip>/32}, its endpoint,
 *       {@code PersistentKeepalive = 25}) and the interface brought up with {@code ip} + {@code wg setconf} (the
 *       steps {@code wg-quick up} takes, without touching DNS or the firewall), inside the configured network
 *       namespace; in the insecure loopback transport nothing is brought up and the app address is
 *       {@code 127.b.c.d}.</li>
 * </ol>
 * Not done: the iptables rules dstack-util adds (WireGuard UDP only from the gateway endpoints): a simulated CVM
 * has no firewall of its own.
 */
public final class GatewayBoot implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(GatewayBoot.class.getName());
    private static final HexFormat HEX = HexFormat.of();
    /** dstack-util's {@code ListenPort} of {@code dstack-wg0}. */
    public static final int GUEST_LISTEN_PORT = 9182;
    /** dstack-util's interface name ({@code /etc/wireguard/dstack-wg0.conf}). */
    public static final String DEFAULT_INTERFACE = "dstack-wg0";
    /** dstack-util's client certificate validity ({@code CERT_VALIDITY_SECS}). */
    static final Duration CERT_VALIDITY = Duration.ofDays(10);
    private static final Pattern ENDPOINT = Pattern.compile("[A-Za-z0-9.\\-]{1,253}:[0-9]{1,5}"
            + "|\\[[0-9A-Fa-f:.]{2,45}\\]:[0-9]{1,5}");
    private static final Pattern IFACE = Pattern.compile("[A-Za-z0-9_.=+-]{1,15}");
    private static final Pattern NETNS = Pattern.compile("[A-Za-z0-9_.-]{1,64}");

    /**
     * @param urls       {@code gateway_urls}, tried in order
     * @param loopback   insecure loopback transport: no WireGuard, app address {@code 127.b.c.d}
     * @param netns      run {@code wg} and {@code ip} inside this network namespace
     * @param iface      the guest interface ({@code dstack-wg0})
     * @param configDir  where {@code <iface>.conf} is written (default: a fresh temporary directory)
     * @param timeout    connect and request timeout of {@code RegisterCvm}, and of each tool
     */
    public record Config(List<URI> urls, boolean loopback, Optional<String> netns, String iface,
            Optional<Path> configDir, Clock clock, Duration timeout) {
        public Config {
            urls = List.copyOf(urls);
            Objects.requireNonNull(netns, "netns");
            Objects.requireNonNull(iface, "iface");
            Objects.requireNonNull(configDir, "configDir");
            Objects.requireNonNull(clock, "clock");
            Objects.requireNonNull(timeout, "timeout");
        }
    }

    private final Config config;
    private final InetAddress vmAddress;
    private final List<GatewayRegistration> registrations;
    private final Path configFile;
    private final Path createdDir;
    private boolean up;

    private GatewayBoot(Config config, InetAddress vmAddress, List<GatewayRegistration> registrations,
            Path configFile, Path createdDir, boolean up) {
        this.config = config;
        this.vmAddress = vmAddress;
        this.registrations = registrations;
        this.configFile = configFile;
        this.createdDir = createdDir;
        this.up = up;
    }

    /**
     * Whether the compose asks for the gateway: {@code gateway_enabled}, legacy {@code tproxy_enabled}, or feature
     * {@code tproxy-net} (dstack-types {@code AppCompose::gateway_enabled}).
     */
    public static boolean gatewayEnabled(JsonNode compose) {
        if (compose.path("gateway_enabled").asBoolean(false) || compose.path("tproxy_enabled").asBoolean(false)) {
            return true;
        }
        for (JsonNode f : compose.path("features")) {
            if ("tproxy-net".equals(f.asText())) {
                return true;
            }
        }
        return false;
    }

    /**
     * Registers with the first gateway that accepts and brings the tunnel up.
     *
     * @param issuer        {@code GetTlsKey}'s issuer (the KMS's {@code SignCert})
     * @param kmsRootCaPem  the app keys' {@code ca_cert}: the KMS root CA, trust anchor of the gateway's certificate
     * @param gatewayAppId  the KMS's {@code gateway_app_id}
     * @param compose       app-compose.json (its {@code port_policy} is reported)
     * @throws RaException  {@code GATEWAY_UNAVAILABLE} when no gateway accepts (every gateway's error named),
     *                      {@code WG_TOOL_FAILED} when a tool fails, {@code CONFIG_INVALID} for a bad compose or setup
     */
    public static GatewayBoot boot(Config c, CertIssuer issuer, String kmsRootCaPem, String gatewayAppId,
            JsonNode compose) throws RaException, IOException {
        if (c.urls().isEmpty()) {
            throw new RaException(RaException.Reason.CONFIG_INVALID, "gateway_urls", "Missing gateway urls");
        }
        if (gatewayAppId.isEmpty()) {
            throw new RaException(RaException.Reason.CONFIG_INVALID, "gateway_app_id",
                    "Missing allowed dstack-gateway app id (the KMS returned none)");
        }
        if (!IFACE.matcher(c.iface()).matches()) {
            throw new RaException(RaException.Reason.CONFIG_INVALID, "wireGuardInterface", "`" + c.iface()
                    + "` is not an interface name");
        }
        if (c.netns().isPresent() && !NETNS.matcher(c.netns().get()).matches()) {
            throw new RaException(RaException.Reason.CONFIG_INVALID, "wireGuardNetns", "`" + c.netns().get()
                    + "` is not a namespace name");
        }
        if (c.loopback()) {
            LOG.log(System.Logger.Level.WARNING, "insecureGatewayLoopbackTransport: registering with " + c.urls()
                    + " but bringing up NO WireGuard; the app is reached on 127.b.c.d over plain loopback TCP (for"
                    + " a gateway with insecure_loopback_transport on this host only)");
        }
        ObjectNode portPolicy = portPolicy(compose);
        Tools tools = new Tools(c.netns(), c.timeout());
        String[] wg = wgKeys(tools, c.loopback());
        String wgSk = wg[0];
        String wgPk = wg[1];
        // the client certificate: a fresh P-256 key, signed by the KMS with the app info extension, no quote
        byte[] seed = new byte[32];
        new SecureRandom().nextBytes(seed);
        P256PrivateKey key = KeyDerivation.deriveP256FromBytes(seed);
        Arrays.fill(seed, (byte) 0);
        long notAfter = c.clock().instant().plus(CERT_VALIDITY).getEpochSecond();
        List<String> chainPem = issuer.issue(key, new CertIssuer.Request("dstack-guest-agent", List.of(), false, true,
                false, true, OptionalLong.empty(), OptionalLong.of(notAfter)));
        X509Certificate root = certificates(kmsRootCaPem, "ca_cert").get(0);
        List<X509Certificate> chain = new ArrayList<>();
        for (String pem : chainPem) {
            chain.addAll(certificates(pem, "SignCert certificate_chain"));
        }
        ObjectNode req = JsonNodeFactory.instance.objectNode();
        req.put("client_public_key", wgPk);
        req.set("port_policy", portPolicy);

        List<String> errors = new ArrayList<>();
        JsonNode response = null;
        URI accepted = null;
        for (URI url : c.urls()) {
            try {
                response = register(url, key.toPrivateKey(), chain, root, gatewayAppId, req, c);
                accepted = url;
                break;
            } catch (RaException e) {
                errors.add(url + ": " + e.getMessage());
                LOG.log(System.Logger.Level.WARNING, "Failed to register CVM with " + url + ": " + e.getMessage()
                        + "; trying the next dstack-gateway");
            }
        }
        if (response == null) {
            throw new RaException(RaException.Reason.GATEWAY_UNAVAILABLE, "gateway_urls",
                    "Failed to register CVM, all dstack-gateway urls are down: " + String.join("; ", errors));
        }
        GatewayRegistration reg = parseResponse(accepted, response);
        InetAddress vm;
        Path file = null;
        Path created = null;
        boolean up = false;
        if (c.loopback()) {
            byte[] b = reg.clientIp().getAddress();
            b[0] = 127;
            vm = InetAddress.getByAddress(b);
        } else {
            Path dir;
            if (c.configDir().isPresent()) {
                dir = c.configDir().get();
                Files.createDirectories(dir);
            } else {
                dir = Files.createTempDirectory("dstack-wg", PosixFilePermissions.asFileAttribute(
                        PosixFilePermissions.fromString("rwx------")));
                created = dir;
            }
            file = dir.resolve(c.iface() + ".conf");
            String conf = renderGuestConfig(wgSk, reg);
            writePrivate(file, conf);
            GatewayBoot g = new GatewayBoot(c, reg.clientIp(), List.of(reg), file, created, true);
            try {
                bringUp(tools, c.iface(), wgSk, reg);
            } catch (RaException | RuntimeException e) {
                g.close();
                throw e;
            }
            LOG.log(System.Logger.Level.INFO, "registered with " + accepted + ": " + c.iface() + " up with "
                    + reg.clientIp().getHostAddress() + "/32, " + reg.servers().size() + " gateway peer(s)"
                    + c.netns().map(n -> " in netns " + n).orElse(""));
            return g;
        }
        LOG.log(System.Logger.Level.INFO, "registered with " + accepted + " (loopback transport): client IP "
                + reg.clientIp().getHostAddress() + ", app address " + vm.getHostAddress());
        return new GatewayBoot(c, vm, List.of(reg), file, created, up);
    }

    /** The address the app binds: the WireGuard client IP, or {@code 127.b.c.d} in the loopback transport. */
    public InetAddress vmAddress() {
        return vmAddress;
    }

    public List<GatewayRegistration> registrations() {
        return registrations;
    }

    /** {@code <iface>.conf}, when WireGuard was brought up. */
    public Optional<Path> configFile() {
        return Optional.ofNullable(configFile);
    }

    /** Takes the interface down ({@code ip link del}) and removes a temporary config directory. Idempotent. */
    @Override
    public synchronized void close() {
        if (up) {
            up = false;
            try {
                Tools t = new Tools(config.netns(), config.timeout());
                if (t.run(List.of("ip", "link", "show", config.iface()), null).status() == 0) {
                    t.check(List.of("ip", "link", "del", config.iface()), null);
                }
            } catch (RaException e) {
                LOG.log(System.Logger.Level.WARNING, "cannot remove " + config.iface() + ": " + e.getMessage());
            }
        }
        if (createdDir != null) {
            try {
                if (configFile != null) {
                    Files.deleteIfExists(configFile);
                }
                Files.deleteIfExists(createdDir);
            } catch (IOException e) {
                LOG.log(System.Logger.Level.WARNING, "cannot remove " + createdDir + ": " + e.getMessage());
            }
        }
    }

    // ---- steps --------------------------------------------------------------------------------------------

    /** {@code port_policy} of app-compose, as dstack-util sends it (absent: empty, not restricted). */
    static ObjectNode portPolicy(JsonNode compose) throws RaException {
        ObjectNode pp = JsonNodeFactory.instance.objectNode();
        ArrayNode ports = pp.putArray("ports");
        JsonNode p = compose.get("port_policy");
        boolean restrict = false;
        if (p != null && !p.isNull()) {
            if (!p.isObject()) {
                throw new RaException(RaException.Reason.CONFIG_INVALID, "app-compose.port_policy",
                        "must be an object");
            }
            JsonNode list = p.get("ports");
            if (list != null && !list.isNull()) {
                if (!list.isArray()) {
                    throw new RaException(RaException.Reason.CONFIG_INVALID, "app-compose.port_policy.ports",
                            "must be an array");
                }
                for (int i = 0; i < list.size(); i++) {
                    JsonNode e = list.get(i);
                    JsonNode port = e.get("port");
                    if (port == null || !port.canConvertToInt() || !port.isIntegralNumber() || port.intValue() < 0
                            || port.intValue() > 65535) {
                        throw new RaException(RaException.Reason.CONFIG_INVALID, "app-compose.port_policy.ports[" + i
                                + "].port", "must be an integer 0..65535");
                    }
                    JsonNode ppv = e.get("pp");
                    if (ppv != null && !ppv.isNull() && !ppv.isBoolean()) {
                        throw new RaException(RaException.Reason.CONFIG_INVALID, "app-compose.port_policy.ports[" + i
                                + "].pp", "must be a boolean");
                    }
                    ObjectNode o = ports.addObject();
                    o.put("port", port.intValue());
                    o.put("pp", ppv != null && ppv.booleanValue());
                }
            }
            JsonNode r = p.get("restrict_mode");
            if (r != null && !r.isNull()) {
                if (!r.isBoolean()) {
                    throw new RaException(RaException.Reason.CONFIG_INVALID, "app-compose.port_policy.restrict_mode",
                            "must be a boolean");
                }
                restrict = r.booleanValue();
            }
        }
        pp.put("restrict_mode", restrict);
        return pp;
    }

    /** {@code wg genkey} / {@code wg pubkey}; in the loopback transport without {@code wg}, JDK X25519. */
    static String[] wgKeys(Tools tools, boolean loopback) throws RaException {
        try {
            String sk = tools.checkHere(List.of("wg", "genkey"), null).strip();
            String pk = tools.checkHere(List.of("wg", "pubkey"), (sk + "\n").getBytes(StandardCharsets.US_ASCII))
                    .strip();
            checkKey(pk, "wg pubkey output");
            return new String[] {sk, pk};
        } catch (RaException e) {
            if (!loopback) {
                throw e;
            }
            LOG.log(System.Logger.Level.INFO, "wg is not usable (" + e.getMessage() + "); WireGuard keys from the"
                    + " JDK's X25519 (loopback transport)");
            return x25519Keys();
        }
    }

    /** A WireGuard key pair from the JDK: the clamped scalar and {@code X25519(scalar, 9)}, both base64. */
    static String[] x25519Keys() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("X25519");
            var kp = g.generateKeyPair();
            byte[] scalar = ((XECPrivateKey) kp.getPrivate()).getScalar().orElseThrow();
            byte[] clamped = scalar.clone();
            clamped[0] &= (byte) 248;
            clamped[31] &= 127;
            clamped[31] |= 64;
            BigInteger u = ((XECPublicKey) kp.getPublic()).getU();
            byte[] be = u.toByteArray();
            byte[] le = new byte[32];
            for (int i = 0; i < 32 && i < be.length; i++) {
                le[i] = be[be.length - 1 - i];
            }
            String sk = Base64.getEncoder().encodeToString(clamped);
            Arrays.fill(scalar, (byte) 0);
            Arrays.fill(clamped, (byte) 0);
            return new String[] {sk, Base64.getEncoder().encodeToString(le)};
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("X25519 is not available", e);
        }
    }

    private static void checkKey(String key, String field) throws RaException {
        boolean ok = key.length() == 44;
        if (ok) {
            try {
                ok = Base64.getDecoder().decode(key).length == 32;
            } catch (IllegalArgumentException e) {
                ok = false;
            }
        }
        if (!ok) {
            throw new RaException(RaException.Reason.WG_INVALID, field, "is not a WireGuard key (base64 of 32 bytes)");
        }
    }

    /** {@code gateway_rpc_url}: {@code <base>/prpc} unless it already ends with {@code /prpc} (trailing / ignored). */
    static URI rpcUrl(URI gateway) {
        String s = gateway.toString();
        while (s.endsWith("/")) {
            s = s.substring(0, s.length() - 1);
        }
        return URI.create(s.endsWith("/prpc") ? s : s + "/prpc");
    }

    private static JsonNode register(URI url, PrivateKey key, List<X509Certificate> chain, X509Certificate root,
            String gatewayAppId, ObjectNode req, Config c) throws RaException {
        URI base = rpcUrl(url);
        if (!"https".equalsIgnoreCase(base.getScheme())) {
            throw new RaException(RaException.Reason.CONFIG_INVALID, "gateway_urls", base
                    + " is not https: RegisterCvm needs mutual TLS");
        }
        ServerCheck check = new ServerCheck(root, gatewayAppId, c.clock(), base);
        SSLContext ctx;
        try {
            ctx = SSLContext.getInstance("TLS");
            ctx.init(new KeyManager[] {ClientIdentity.of(key, chain.toArray(new X509Certificate[0]))},
                    new TrustManager[] {check}, null);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("TLS is not available", e);
        }
        try (PrpcClient client = PrpcClient.builder(base).sslContext(ctx).connectTimeout(c.timeout())
                .requestTimeout(c.timeout()).build()) {
            return client.call("RegisterCvm", req);
        } catch (PrpcRemoteException e) {
            throw new RaException(RaException.Reason.GATEWAY_UNAVAILABLE, "RegisterCvm", "the gateway at " + base
                    + " refused: " + e.remoteError());
        } catch (IOException e) {
            AttestationException failed = check.failure.get();
            if (failed instanceof RaException r) {
                throw r;
            }
            if (failed != null) {
                throw new RaException(RaException.Reason.CERT_CHAIN_INVALID, "gateway server certificate",
                        failed.getMessage() + " [" + base + "]");
            }
            throw new RaException(RaException.Reason.GATEWAY_UNAVAILABLE, "RegisterCvm", "the gateway at " + base
                    + " is unreachable: " + e.getMessage());
        }
    }

    /** {@code RegisterCvmResponse}: checked before any of it reaches a config file. */
    static GatewayRegistration parseResponse(URI url, JsonNode r) throws RaException {
        String where = "RegisterCvmResponse from " + url;
        if (r == null || !r.isObject()) {
            throw new RaException(RaException.Reason.GATEWAY_UNAVAILABLE, where, "is not a JSON object");
        }
        JsonNode wg = r.get("wg");
        if (wg == null || !wg.isObject()) {
            throw new RaException(RaException.Reason.GATEWAY_UNAVAILABLE, where + " wg", "Missing wg info");
        }
        Inet4Address clientIp = ipv4(text(wg, "client_ip", where + " wg.client_ip"), where + " wg.client_ip");
        List<GatewayRegistration.Server> servers = new ArrayList<>();
        JsonNode list = wg.get("servers");
        if (list != null && !list.isNull()) {
            if (!list.isArray()) {
                throw new RaException(RaException.Reason.GATEWAY_UNAVAILABLE, where + " wg.servers",
                        "must be an array");
            }
            for (int i = 0; i < list.size(); i++) {
                JsonNode s = list.get(i);
                String f = where + " wg.servers[" + i + "]";
                if (!s.isObject()) {
                    throw new RaException(RaException.Reason.GATEWAY_UNAVAILABLE, f, "must be an object");
                }
                String pk = text(s, "pk", f + ".pk");
                checkKey(pk, f + ".pk");
                String ip = text(s, "ip", f + ".ip");
                String host = ip.contains("/") ? ip.substring(0, ip.indexOf('/')) : ip;
                ipv4(host, f + ".ip");
                if (ip.contains("/") && !ip.substring(ip.indexOf('/') + 1).matches("[0-9]{1,2}")) {
                    throw new RaException(RaException.Reason.GATEWAY_UNAVAILABLE, f + ".ip", "bad prefix in `" + ip
                            + "`");
                }
                String endpoint = text(s, "endpoint", f + ".endpoint");
                if (!ENDPOINT.matcher(endpoint).matches()) {
                    throw new RaException(RaException.Reason.GATEWAY_UNAVAILABLE, f + ".endpoint", "`"
                            + printable(endpoint) + "` is not host:port");
                }
                servers.add(new GatewayRegistration.Server(pk, ip, endpoint));
            }
        }
        if (servers.isEmpty()) {
            throw new RaException(RaException.Reason.GATEWAY_UNAVAILABLE, where + " wg.servers",
                    "lists no gateway node to peer with");
        }
        JsonNode agent = r.path("agent");
        return new GatewayRegistration(url, clientIp, servers, agent.path("external_port").asInt(0),
                agent.path("internal_port").asInt(0), agent.path("domain").asText(""),
                agent.path("app_address_ns_prefix").asText(""));
    }

    private static String text(JsonNode o, String field, String where) throws RaException {
        JsonNode v = o.get(field);
        if (v == null || !v.isTextual()) {
            throw new RaException(RaException.Reason.GATEWAY_UNAVAILABLE, where, "missing or not a string");
        }
        return v.textValue();
    }

    private static Inet4Address ipv4(String s, String where) throws RaException {
        if (!s.matches("[0-9]{1,3}(\\.[0-9]{1,3}){3}")) {
            throw new RaException(RaException.Reason.GATEWAY_UNAVAILABLE, where, "`" + printable(s)
                    + "` is not an IPv4 address");
        }
        try {
            return (Inet4Address) InetAddress.getByName(s);
        } catch (IOException | ClassCastException e) {
            throw new RaException(RaException.Reason.GATEWAY_UNAVAILABLE, where, "`" + s + "` is not an IPv4 address");
        }
    }

    private static String printable(String s) {
        String t = s.length() > 80 ? s.substring(0, 80) + "…" : s;
        return t.replaceAll("[^\\x20-\\x7e]", "?");
    }

    /** dstack-util's {@code dstack-wg0.conf} (peers sorted by public key, the gateway prefix dropped). */
    static String renderGuestConfig(String privateKey, GatewayRegistration reg) {
        StringBuilder sb = new StringBuilder();
        sb.append("[Interface]\nPrivateKey = ").append(privateKey).append("\nListenPort = ").append(GUEST_LISTEN_PORT)
                .append("\nAddress = ").append(reg.clientIp().getHostAddress()).append("/32\n\n");
        List<GatewayRegistration.Server> servers = new ArrayList<>(reg.servers());
        servers.sort(Comparator.comparing(GatewayRegistration.Server::publicKey));
        for (GatewayRegistration.Server s : servers) {
            sb.append("[Peer]\nPublicKey = ").append(s.publicKey()).append("\nAllowedIPs = ").append(gwIp(s))
                    .append("/32\nEndpoint = ").append(s.endpoint()).append("\nPersistentKeepalive = 25\n");
        }
        return sb.toString();
    }

    private static String gwIp(GatewayRegistration.Server s) {
        String ip = s.ip();
        return ip.contains("/") ? ip.substring(0, ip.indexOf('/')) : ip;
    }

    /** {@code <iface>.conf} without the wg-quick keys ({@code Address}): what {@code wg setconf} reads. */
    static String stripForSetconf(String conf) {
        StringBuilder sb = new StringBuilder();
        for (String line : conf.split("\n")) {
            if (!line.startsWith("Address = ")) {
                sb.append(line).append('\n');
            }
        }
        return sb.toString();
    }

    /** What {@code wg-quick up} does for this config, minus DNS and firewall: link, peers, address, up, routes. */
    private static void bringUp(Tools t, String iface, String sk, GatewayRegistration reg) throws RaException {
        if (t.run(List.of("ip", "link", "show", iface), null).status() == 0) {
            t.check(List.of("ip", "link", "del", iface), null); // wg-quick down (dstack-util ignores its errors)
        }
        Tools.Result kernel = t.run(List.of("ip", "link", "add", iface, "type", "wireguard"), null);
        if (kernel.status() != 0) {
            Tools.Result go = t.run(List.of("wireguard-go", iface), null);
            if (go.status() != 0) {
                throw new RaException(RaException.Reason.WG_TOOL_FAILED, iface, "cannot create " + iface
                        + ": `ip link add " + iface + " type wireguard` " + kernel.brief() + ", and `wireguard-go "
                        + iface + "` " + go.brief());
            }
        }
        // the private key goes through stdin, never on a command line
        t.check(List.of("wg", "setconf", iface, "/dev/stdin"), stripForSetconf(renderGuestConfig(sk, reg))
                .getBytes(StandardCharsets.US_ASCII));
        t.check(List.of("ip", "address", "add", reg.clientIp().getHostAddress() + "/32", "dev", iface), null);
        t.check(List.of("ip", "link", "set", iface, "up"), null);
        for (GatewayRegistration.Server s : reg.servers()) {
            t.check(List.of("ip", "route", "replace", gwIp(s) + "/32", "dev", iface), null);
        }
    }

    private static void writePrivate(Path path, String text) throws IOException {
        Path abs = path.toAbsolutePath();
        Path tmp = Files.createTempFile(abs.getParent(), "." + abs.getFileName() + ".", ".tmp",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try {
            Files.writeString(tmp, text, StandardCharsets.US_ASCII);
            Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static List<X509Certificate> certificates(String pem, String field) throws RaException {
        try {
            List<X509Certificate> out = new ArrayList<>();
            for (Certificate cert : CertificateFactory.getInstance("X.509")
                    .generateCertificates(new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)))) {
                out.add((X509Certificate) cert);
            }
            if (out.isEmpty()) {
                throw new RaException(RaException.Reason.CERT_MALFORMED, field, "holds no PEM certificate");
            }
            return out;
        } catch (CertificateException | ClassCastException e) {
            throw new RaException(RaException.Reason.CERT_MALFORMED, field, "not PEM X.509 certificates");
        }
    }

    // ---- TLS ----------------------------------------------------------------------------------------------

    /**
     * The gateway's server certificate, judged during the handshake (nothing is sent to a refused server): the
     * chain to the KMS root CA, then dstack-util's {@code AppIdValidator}.
     */
    static final class ServerCheck extends X509ExtendedTrustManager {
        final AtomicReference<AttestationException> failure = new AtomicReference<>();
        private final RaTlsVerifier verifier;
        private final String gatewayAppId;
        private final Clock clock;
        private final URI url;

        ServerCheck(X509Certificate kmsRoot, String gatewayAppId, Clock clock, URI url) {
            // dstack-util: verify_server_attestation(false); the KMS chain and the app id identify the gateway
            this.verifier = RaTlsVerifier.builder().trustedCa(kmsRoot).anyUsage().insecureSkipAttestation().build();
            this.gatewayAppId = gatewayAppId;
            this.clock = clock;
            this.url = url;
        }

        void check(X509Certificate[] chain) throws CertificateException {
            try {
                if (chain == null || chain.length == 0) {
                    throw new RaException(RaException.Reason.CERT_CHAIN_INVALID, "gateway server certificate",
                            "the gateway at " + url + " presented none");
                }
                RaTlsVerifier.Result r = verifier.verify(Arrays.asList(chain), clock.instant());
                checkAppId(r.appId(), gatewayAppId, url);
            } catch (AttestationException e) {
                failure.compareAndSet(null, e);
                CertificateException ce = new CertificateException(e.getMessage());
                ce.initCause(e);
                throw ce;
            }
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            check(chain);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            check(chain);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            check(chain);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            throw new CertificateException("client side only");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            throw new CertificateException("client side only");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("client side only");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }

    /**
     * dstack-util's {@code AppIdValidator}: {@code any} accepts; otherwise the certificate's app id (hex) must be a
     * case-insensitive substring of {@code gateway_app_id}.
     */
    static void checkAppId(Optional<byte[]> certAppId, String gatewayAppId, URI url) throws RaException {
        if (gatewayAppId.equals("any")) {
            return;
        }
        if (certAppId.isEmpty()) {
            throw new RaException(RaException.Reason.GATEWAY_APP_ID_MISMATCH, "extension "
                    + RaTlsCertificate.OID_APP_ID + " (app_id)", "Missing app id in the server certificate of " + url);
        }
        String hex = HEX.formatHex(certAppId.get());
        if (!gatewayAppId.toLowerCase(Locale.ROOT).contains(hex)) {
            throw new RaException(RaException.Reason.GATEWAY_APP_ID_MISMATCH, "extension "
                    + RaTlsCertificate.OID_APP_ID + " (app_id)", "Invalid dstack-gateway app id: " + hex
                    + " (the KMS allows " + gatewayAppId + ") [" + url + "]");
        }
    }

    // ---- tools --------------------------------------------------------------------------------------------

    /** Runs {@code wg}/{@code ip}, inside the namespace when configured; stdin carries secrets, never argv. */
    static final class Tools {
        private static final int MAX_OUTPUT = 1 << 20;
        private final Optional<String> netns;
        private final Duration timeout;

        Tools(Optional<String> netns, Duration timeout) {
            this.netns = netns;
            this.timeout = timeout;
        }

        record Result(List<String> command, int status, String stdout, String stderr) {
            String brief() {
                String err = stderr.strip();
                if (err.length() > 400) {
                    err = err.substring(0, 400) + "…";
                }
                return "exited with status " + status + (err.isEmpty() ? "" : ": " + err);
            }
        }

        Result run(List<String> cmd, byte[] stdin) throws RaException {
            List<String> full = new ArrayList<>();
            netns.ifPresent(n -> full.addAll(List.of("ip", "netns", "exec", n)));
            full.addAll(cmd);
            return exec(full, cmd.get(0), stdin);
        }

        /** Runs in this process's own namespace (key generation needs no namespace). */
        String checkHere(List<String> cmd, byte[] stdin) throws RaException {
            Result r = exec(cmd, cmd.get(0), stdin);
            if (r.status() != 0) {
                throw new RaException(RaException.Reason.WG_TOOL_FAILED, cmd.get(0), "`" + String.join(" ", cmd)
                        + "` " + r.brief());
            }
            return r.stdout();
        }

        String check(List<String> cmd, byte[] stdin) throws RaException {
            Result r = run(cmd, stdin);
            if (r.status() != 0) {
                throw new RaException(RaException.Reason.WG_TOOL_FAILED, cmd.get(0), "`" + String.join(" ",
                        r.command()) + "` " + r.brief());
            }
            return r.stdout();
        }

        private Result exec(List<String> full, String tool, byte[] stdin) throws RaException {
            Process p;
            try {
                ProcessBuilder pb = new ProcessBuilder(full);
                if (stdin == null) {
                    pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
                }
                p = pb.start();
            } catch (IOException e) {
                throw new RaException(RaException.Reason.WG_TOOL_FAILED, tool, "cannot run `" + String.join(" ", full)
                        + "`: " + e.getMessage() + " (is " + tool + " installed?)");
            }
            try {
                if (stdin != null) {
                    try (var in = p.getOutputStream()) {
                        in.write(stdin);
                    }
                }
                CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()),
                        Thread::startVirtualThread);
                String out = readAll(p.getInputStream());
                if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                    p.destroyForcibly();
                    throw new RaException(RaException.Reason.WG_TOOL_FAILED, tool, "`" + String.join(" ", full)
                            + "` did not finish within " + timeout.toSeconds() + " s");
                }
                return new Result(full, p.exitValue(), out, err.join());
            } catch (IOException e) {
                p.destroyForcibly();
                throw new RaException(RaException.Reason.WG_TOOL_FAILED, tool, "`" + String.join(" ", full) + "`: "
                        + e.getMessage());
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new RaException(RaException.Reason.WG_TOOL_FAILED, tool, "`" + String.join(" ", full)
                        + "` interrupted");
            }
        }

        private static String readAll(InputStream in) {
            try (in) {
                byte[] b = in.readNBytes(MAX_OUTPUT);
                in.transferTo(java.io.OutputStream.nullOutputStream());
                return new String(b, StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "";
            }
        }
    }
}
