package dev.atlas.dstack.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.gateway.GatewayConfig;
import dev.atlas.dstack.ra.AppInfo;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.prpc.PrpcContext;
import dev.atlas.dstack.ra.prpc.PrpcDispatcher;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcJson;
import dev.atlas.tdx.AttestationException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * The {@code Gateway} pRPC service of the mTLS RPC listener ({@code gateway_rpc.proto}; {@code main_service.rs}
 * {@code RpcHandler}): {@code RegisterCvm} (§3.3 gateway side), {@code AcmeInfo}, {@code Info}, {@code GetPeers};
 * and the {@code Debug} service ({@code debug_service.rs}) behind {@code insecure_enable_debug_rpc}. Every refusal
 * is logged with its reason and answered as a pRPC error.
 */
public final class GatewayRpc {
    private static final System.Logger LOG = System.getLogger("dev.atlas.dstack.gateway");
    private static final ObjectMapper JSON = PrpcJson.newMapper();
    private static final HexFormat HEX = HexFormat.of();
    /** What {@code Info.version} reports: the dstack gateway protocol this implementation speaks. */
    public static final String VERSION = "0.5.6";

    private final GatewayConfig config;
    private final InstanceRegistry registry;
    private final ClientAuth clientAuth;
    private final AuthHook authHook;
    private final GatewayNode node;
    private final Optional<byte[]> myAppId;
    private final Supplier<Optional<String>> bestZtDomain;
    private final Clock clock;
    private final AtomicBoolean up = new AtomicBoolean(true);
    private final byte[] uuid;

    /**
     * @param clientAuth verifies callers; empty when the listener has no client CA (RegisterCvm then refuses all)
     * @param myAppId this gateway's app id from its guest agent; empty with {@code insecure_skip_attestation}
     * @param bestZtDomain the ZT-domain given to CVMs ({@code get_best_zt_domain})
     */
    public GatewayRpc(GatewayConfig config, InstanceRegistry registry, Optional<ClientAuth> clientAuth,
            AuthHook authHook, GatewayNode node, Optional<byte[]> myAppId, Supplier<Optional<String>> bestZtDomain,
            Clock clock) {
        this.config = config;
        this.registry = registry;
        this.clientAuth = clientAuth.orElse(null);
        this.authHook = authHook;
        this.node = node;
        this.myAppId = myAppId;
        this.bestZtDomain = bestZtDomain;
        this.clock = clock;
        this.uuid = nodeUuid(config.sync().dataDir());
    }

    /** {@code node_uuid} in {@code data_dir}: read, else generated and saved ({@code Config::uuid}). */
    static byte[] nodeUuid(Path dataDir) {
        Path p = dataDir.resolve("node_uuid");
        try {
            if (Files.isRegularFile(p) && Files.size(p) < 128) {
                UUID u = UUID.fromString(Files.readString(p, StandardCharsets.UTF_8).trim());
                return bytes(u);
            }
        } catch (IOException | IllegalArgumentException e) {
            LOG.log(System.Logger.Level.WARNING, "ignoring unreadable " + p + ": a new node uuid is generated");
        }
        UUID u = UUID.randomUUID();
        try {
            Files.createDirectories(dataDir);
            Files.writeString(p, u.toString(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "failed to save node UUID to " + p + ": " + e);
        }
        return bytes(u);
    }

    private static byte[] bytes(UUID u) {
        return java.nio.ByteBuffer.allocate(16).putLong(u.getMostSignificantBits())
                .putLong(u.getLeastSignificantBits()).array();
    }

    /** Whether the node is up ({@code Admin.SetNodeStatus}); a down node refuses registrations. */
    public boolean isUp() {
        return up.get();
    }

    public void setUp(boolean value) {
        up.set(value);
    }

    public byte[] uuid() {
        return uuid.clone();
    }

    /** The {@code Gateway} dispatcher ({@code Tproxy.} and {@code Gateway.} prefixes trimmed). */
    public PrpcDispatcher gatewayDispatcher() {
        return PrpcDispatcher.builder().trimPrefix("Tproxy.").trimPrefix("Gateway.").appVersion(VERSION)
                .objectMapper(JSON)
                .method("RegisterCvm", this::registerCvm)
                .method("AcmeInfo", (req, ctx) -> node.acmeInfo())
                .method("Info", (req, ctx) -> info())
                .method("GetPeers", this::getPeers)
                .onUnexpectedError((m, e) -> LOG.log(System.Logger.Level.ERROR, m + " failed", e))
                .build();
    }

    /** The {@code Debug} dispatcher (only served with {@code insecure_enable_debug_rpc}). */
    public PrpcDispatcher debugDispatcher() {
        return PrpcDispatcher.builder().trimPrefix("Debug.").appVersion(VERSION).objectMapper(JSON)
                .method("RegisterCvm", this::debugRegisterCvm)
                .method("Info", (req, ctx) -> info())
                .method("GetProxyState", (req, ctx) -> proxyState())
                .onUnexpectedError((m, e) -> LOG.log(System.Logger.Level.ERROR, m + " failed", e))
                .build();
    }

    private Object registerCvm(JsonNode req, PrpcContext ctx) throws PrpcException {
        String pk = optionalString(req, "client_public_key");
        AppInfo app;
        String source;
        try {
            if (clientAuth == null) {
                throw new RaException(RaException.Reason.REGISTRATION_DENIED, "[tls.mutual] ca_certs",
                        "Client authentication is required (this listener has no client CA)");
            }
            ClientAuth.Caller c = clientAuth.verify(ctx.peerCertificates());
            app = c.appInfo();
            source = c.source();
        } catch (AttestationException e) {
            throw refuse("unknown instance", "client certificate", e);
        }
        String instanceId = HEX.formatHex(app.instanceId());
        try {
            authHook.ensureAuthorized(app);
        } catch (RaException e) {
            throw refuse(instanceId, "auth hook", e);
        }
        Optional<PortPolicy> policy;
        try {
            JsonNode p = req.get("port_policy");
            policy = p == null || p.isNull() ? Optional.empty() : Optional.of(reportedPolicy(p));
        } catch (RaException e) {
            throw refuse(instanceId, "port_policy", e);
        }
        return register(HEX.formatHex(app.appId()), instanceId, HEX.formatHex(app.composeHash()), pk, policy,
                "app info from " + source);
    }

    /** {@code RegisterCvm}'s port policy: ports 1..65535 ({@code port must be between 1 and 65535}). */
    private static PortPolicy reportedPolicy(JsonNode p) throws RaException {
        PortPolicy policy = PortPolicy.fromJson(p, "port_policy");
        for (PortPolicy.Port port : policy.ports()) {
            if (port.port() == 0) {
                throw new RaException(RaException.Reason.INVALID_ARGUMENT, "port_policy.ports",
                        "port must be between 1 and 65535");
            }
        }
        return policy;
    }

    private Object debugRegisterCvm(JsonNode req, PrpcContext ctx) throws PrpcException {
        String pk = optionalString(req, "client_public_key");
        String appId = hexId(req, "app_id");
        String instanceId = hexId(req, "instance_id");
        LOG.log(System.Logger.Level.WARNING, "Debug.RegisterCvm without attestation: app " + appId + ", instance "
                + instanceId + " (insecure_enable_debug_rpc)");
        return register(appId, instanceId, "", pk, Optional.empty(), "Debug.RegisterCvm");
    }

    private static String hexId(JsonNode req, String field) throws PrpcException {
        String s = optionalString(req, field).toLowerCase(Locale.ROOT);
        if (s.startsWith("0x")) {
            s = s.substring(2);
        }
        if (!s.isEmpty() && (s.length() > 128 || !s.chars().allMatch(c -> Character.digit(c, 16) >= 0))) {
            throw new PrpcException(field + ": expected hex");
        }
        return s;
    }

    private static String optionalString(JsonNode req, String field) throws PrpcException {
        return PrpcJson.optionalString(req, field).orElse("");
    }

    /** §3.3 steps 3-7 (the app id, instance id and compose hash already lowercase hex). */
    private ObjectNode register(String appId, String instanceId, String composeHash, String publicKey,
            Optional<PortPolicy> policy, String via) throws PrpcException {
        if (!up.get()) {
            throw refuse(instanceId, "node status", new RaException(RaException.Reason.REGISTRATION_DENIED,
                    "node", "this gateway node is marked as down and cannot accept new registrations"));
        }
        Instance i;
        try {
            i = registry.register(instanceId, appId, composeHash, publicKey, policy);
        } catch (RaException e) {
            throw refuse(instanceId, e.raReason() == RaException.Reason.REGISTRATION_CONFLICT
                    ? "failed to allocate IP address for client" : "registration", e);
        }
        LOG.log(System.Logger.Level.INFO, "RegisterCvm: instance " + instanceId + " of app " + appId + " at "
                + i.clientIp().getHostAddress() + " (" + via + ")");
        ObjectNode out = JSON.createObjectNode();
        ObjectNode wg = out.putObject("wg");
        wg.put("client_ip", i.clientIp().getHostAddress());
        ArrayNode servers = wg.putArray("servers");
        servers.addObject().put("pk", config.wg().publicKey()).put("ip", config.wg().ip().address().getHostAddress())
                .put("endpoint", config.wg().endpoint());
        ObjectNode agent = out.putObject("agent");
        agent.put("external_port", config.proxy().externalPort());
        agent.put("internal_port", config.proxy().agentPort());
        agent.put("domain", bestZtDomain.get().orElse(""));
        agent.put("app_address_ns_prefix", config.proxy().appAddressNsPrefix());
        out.putArray("gateways").add(nodeInfo());
        return out;
    }

    /** {@code GatewayNodeInfo} of this node. */
    public ObjectNode nodeInfo() {
        ObjectNode n = JSON.createObjectNode();
        n.put("id", config.sync().nodeId());
        n.put("uuid", HEX.formatHex(uuid));
        n.put("url", config.sync().myUrl());
        n.put("last_seen", clock.instant().getEpochSecond());
        n.put("wg_public_key", config.wg().publicKey());
        n.put("wg_ip", config.wg().ip().address().getHostAddress());
        n.put("wg_endpoint", config.wg().endpoint());
        return n;
    }

    private PrpcException refuse(String instanceId, String stage, AttestationException e) {
        String why = e instanceof RaException r && (r.raReason() == RaException.Reason.REGISTRATION_CONFLICT
                || r.raReason() == RaException.Reason.REGISTRATION_DENIED
                || r.raReason() == RaException.Reason.INVALID_ARGUMENT
                || r.raReason() == RaException.Reason.AUTH_UNAVAILABLE) ? words(r) : e.detail();
        LOG.log(System.Logger.Level.WARNING, "RegisterCvm refused [" + instanceId + "] (" + stage + "): " + why);
        return new PrpcException(stage.equals("failed to allocate IP address for client") ? stage + ": " + why : why);
    }

    /** The message without the field prefix (dstack's words where it has them). */
    static String words(RaException e) {
        String d = e.detail();
        return e.field() != null && d.startsWith(e.field() + ": ") ? d.substring(e.field().length() + 2) : d;
    }

    private ObjectNode info() {
        ObjectNode o = JSON.createObjectNode();
        o.put("base_domain", bestZtDomain.get().orElse(""));
        o.put("external_port", config.proxy().externalPort());
        o.put("app_address_ns_prefix", config.proxy().appAddressNsPrefix());
        o.put("version", VERSION);
        return o;
    }

    private Object getPeers(JsonNode req, PrpcContext ctx) throws PrpcException {
        if (!config.debug().insecureSkipAttestation()) {
            Optional<byte[]> remote;
            try {
                remote = clientAuth == null ? Optional.empty() : clientAuth.appId(ctx.peerCertificates());
            } catch (AttestationException e) {
                LOG.log(System.Logger.Level.WARNING, "GetPeers refused: " + e.getMessage());
                throw new PrpcException("Client authentication is required");
            }
            if (remote.isEmpty()) {
                LOG.log(System.Logger.Level.WARNING, "GetPeers refused: no client certificate");
                throw new PrpcException("Client authentication is required");
            }
            if (myAppId.isEmpty() || !MessageDigest.isEqual(myAppId.get(), remote.get())) {
                LOG.log(System.Logger.Level.WARNING, "GetPeers refused: caller app id " + HEX.formatHex(remote.get())
                        + " is not this gateway's");
                throw new PrpcException("Remote app id is not from dstack-gateway");
            }
        }
        ObjectNode o = JSON.createObjectNode();
        o.put("my_id", config.sync().nodeId());
        o.put("my_url", config.sync().myUrl());
        o.putArray("peers").addObject().put("id", config.sync().nodeId()).put("url", config.sync().myUrl());
        return o;
    }

    private ObjectNode proxyState() {
        ObjectNode o = JSON.createObjectNode();
        ArrayNode arr = o.putArray("instances");
        ArrayNode ips = o.putArray("allocated_addresses");
        for (Instance i : registry.all()) {
            arr.addObject().put("instance_id", i.instanceId()).put("app_id", i.appId())
                    .put("ip", i.clientIp().getHostAddress()).put("public_key", i.publicKey())
                    .put("reg_time", i.registeredAt().getEpochSecond());
            ips.add(i.clientIp().getHostAddress());
        }
        return o;
    }
}
