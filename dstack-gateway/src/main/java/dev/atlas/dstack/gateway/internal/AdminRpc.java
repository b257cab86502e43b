package dev.atlas.dstack.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.gateway.GatewayConfig;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.prpc.AdminAuth;
import dev.atlas.dstack.ra.prpc.PrpcContext;
import dev.atlas.dstack.ra.prpc.PrpcDispatcher;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcJson;

import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The {@code Admin} pRPC service ({@code gateway_rpc.proto}; {@code admin_service.rs}) behind §0.3 authentication:
 * {@code Status}, {@code GetInfo}, {@code GetMeta}, {@code Exit}, {@code ReloadCert}, {@code SetNodeStatus} and the
 * port-policy methods; with the ZT-domain certbot also its methods ({@link ZtAdmin}). Cluster methods are not
 * served (one node): they answer {@code Service not found}.
 */
public final class AdminRpc {
    private static final System.Logger LOG = System.getLogger("dev.atlas.dstack.gateway");
    private static final ObjectMapper JSON = PrpcJson.newMapper();
    /** {@code GetMeta}'s "online": a handshake within this many seconds ({@code admin_service.rs}). */
    static final long ONLINE_SECONDS = 300;

    private final GatewayConfig config;
    private final InstanceRegistry registry;
    private final GatewayRpc gateway;
    private final Optional<GatewayRouter> router;
    private final Optional<CertStore> certs;
    private final Supplier<List<ProxyServer.ConnectionInfo>> connections;
    private final Runnable exit;
    private final Clock clock;
    private final Optional<ZtCertbot> certbot;

    public AdminRpc(GatewayConfig config, InstanceRegistry registry, GatewayRpc gateway, Optional<GatewayRouter> router,
            Optional<CertStore> certs, Supplier<List<ProxyServer.ConnectionInfo>> connections, Runnable exit,
            Clock clock) {
        this(config, registry, gateway, router, certs, connections, exit, clock, Optional.empty());
    }

    /** With the ZT-domain certbot: its DNS-credential, ZT-domain and certbot methods are served too. */
    public AdminRpc(GatewayConfig config, InstanceRegistry registry, GatewayRpc gateway, Optional<GatewayRouter> router,
            Optional<CertStore> certs, Supplier<List<ProxyServer.ConnectionInfo>> connections, Runnable exit,
            Clock clock, Optional<ZtCertbot> certbot) {
        this.certbot = certbot;
        this.config = config;
        this.registry = registry;
        this.gateway = gateway;
        this.router = router;
        this.certs = certs;
        this.connections = connections;
        this.exit = exit;
        this.clock = clock;
    }

    /** The dispatcher, with {@code auth} applied to every call ({@code Admin.} trimmed). */
    public PrpcDispatcher dispatcher(AdminAuth auth) {
        PrpcDispatcher.Builder b = PrpcDispatcher.builder().trimPrefix("Admin.").appVersion(GatewayRpc.VERSION)
                .objectMapper(JSON).adminAuth(auth);
        certbot.ifPresent(cb -> new ZtAdmin(cb, clock).register(b)); // issue19-zt
        return b
                .method("Status", (r, c) -> status())
                .method("GetInfo", this::getInfo)
                .method("GetMeta", (r, c) -> meta())
                .method("Exit", this::exit)
                .method("ReloadCert", this::reloadCert)
                .method("SetNodeStatus", this::setNodeStatus)
                .method("SetInstancePortPolicy", this::setPolicy)
                .method("ClearInstancePortPolicy", this::clearPolicy)
                .method("GetInstancePortPolicy", this::getPolicy)
                .onUnexpectedError((m, e) -> LOG.log(System.Logger.Level.ERROR, "Admin." + m + " failed", e))
                .build();
    }

    /** One row of the dashboard and of {@code Status.hosts}. */
    public record Host(Instance instance, long latestHandshake, long connections) {
    }

    public List<Host> hosts() {
        Map<String, Integer> counts = router.map(GatewayRouter::connectionCounts).orElse(Map.of());
        return registry.all().stream().map(i -> new Host(i, router.flatMap(r -> r.latestHandshake(i))
                .map(Instant::getEpochSecond).orElse(0L), counts.getOrDefault(i.instanceId(), 0))).toList();
    }

    /** The ZT-domain shown with each host. */
    public String baseDomain() {
        Optional<String> zt = certbot.flatMap(cb -> ZtDomains.best(cb.store().state().domains().values(),
                config.sync().nodeId())).map(ZtStore.Domain::domain);
        if (zt.isPresent()) {
            return zt.get();
        }
        return certs.flatMap(c -> c.ztDomains().stream().findFirst()).or(() -> config.proxy().baseDomain())
                .orElse("");
    }

    private ObjectNode hostJson(Host h) {
        ObjectNode o = JSON.createObjectNode();
        o.put("instance_id", h.instance().instanceId());
        o.put("ip", h.instance().clientIp().getHostAddress());
        o.put("app_id", h.instance().appId());
        o.put("base_domain", baseDomain());
        o.put("latest_handshake", h.latestHandshake());
        o.put("num_connections", h.connections());
        return o;
    }

    ObjectNode status() {
        ObjectNode o = JSON.createObjectNode();
        o.put("id", config.sync().nodeId());
        o.put("url", config.sync().myUrl());
        o.put("bootnode_url", config.sync().bootnode());
        o.put("num_connections", connections.get().size());
        ArrayNode hosts = o.putArray("hosts");
        hosts().forEach(h -> hosts.add(hostJson(h)));
        o.putArray("nodes").add(gateway.nodeInfo());
        o.put("uuid", java.util.HexFormat.of().formatHex(gateway.uuid()));
        ObjectNode accel = o.putObject("accel");
        accel.put("ktls_mode", "off");
        accel.put("splice_mode", "off");
        accel.put("ktls_offloaded", 0);
        accel.put("ktls_offload_failed", 0);
        accel.put("splice_engaged", 0);
        return o;
    }

    private Object getInfo(JsonNode r, PrpcContext c) throws PrpcException {
        String id = PrpcJson.optionalString(r, "id").orElse("");
        ObjectNode o = JSON.createObjectNode();
        Optional<Host> h = hosts().stream().filter(x -> x.instance().instanceId().equals(id)).findFirst();
        o.put("found", h.isPresent());
        h.ifPresent(x -> o.set("info", hostJson(x)));
        return o;
    }

    ObjectNode meta() {
        long now = clock.instant().getEpochSecond();
        List<Host> hs = hosts();
        long online = hs.stream().filter(h -> h.latestHandshake() != 0 && now - h.latestHandshake() < ONLINE_SECONDS)
                .count();
        return JSON.createObjectNode().put("registered", hs.size()).put("online", online);
    }

    private Object exit(JsonNode r, PrpcContext c) throws PrpcException {
        boolean force = r.has("force") && PrpcJson.bool(r, "force");
        LOG.log(System.Logger.Level.WARNING, "Admin.Exit (force=" + force + "): shutting down");
        Thread.ofVirtual().name("gateway-exit").start(exit);
        return null;
    }

    private Object reloadCert(JsonNode r, PrpcContext c) throws PrpcException {
        if (certs.isEmpty()) {
            throw new PrpcException("no certificate store (the proxy is not running)");
        }
        try {
            certs.get().reload();
        } catch (RaException e) {
            LOG.log(System.Logger.Level.WARNING, "Admin.ReloadCert failed: " + e.getMessage());
            throw new PrpcException("failed to reload certificates: " + GatewayRpc.words(e));
        }
        LOG.log(System.Logger.Level.INFO, "Admin.ReloadCert: certificates reloaded");
        return null;
    }

    private Object setNodeStatus(JsonNode r, PrpcContext c) throws PrpcException {
        long id = r.has("id") ? PrpcJson.uint32(r, "id") : 0;
        String status = PrpcJson.optionalString(r, "status").orElse("");
        boolean up = switch (status) {
            case "up" -> true;
            case "down" -> false;
            default -> throw new PrpcException("invalid status: expected 'up' or 'down'");
        };
        if (id != config.sync().nodeId()) {
            throw new PrpcException("unknown node " + id + ": this gateway is node " + config.sync().nodeId()
                    + " (cluster sync is not supported)");
        }
        gateway.setUp(up);
        LOG.log(System.Logger.Level.INFO, "Updated node status: node " + id + " -> " + status);
        return null;
    }

    private PortPolicies policies() throws PrpcException {
        return router.map(GatewayRouter::portPolicies)
                .orElseThrow(() -> new PrpcException("port policies are not available (no router)"));
    }

    private Instance instance(JsonNode r) throws PrpcException {
        String id = PrpcJson.optionalString(r, "instance_id").orElse("");
        return registry.byInstanceId(id).orElseThrow(() -> new PrpcException("instance " + id + " not found"));
    }

    private Object setPolicy(JsonNode r, PrpcContext c) throws PrpcException {
        Instance i = instance(r);
        JsonNode p = r.get("policy");
        if (p == null || p.isNull()) {
            throw new PrpcException("port policy is required");
        }
        PortPolicy policy;
        try {
            policy = PortPolicy.fromJson(p, "policy");
        } catch (RaException e) {
            throw new PrpcException(e.detail());
        }
        policies().setAdminOverride(i.instanceId(), policy);
        LOG.log(System.Logger.Level.INFO, "Admin: port policy override for " + i.instanceId() + ": " + policy);
        return null;
    }

    private Object clearPolicy(JsonNode r, PrpcContext c) throws PrpcException {
        Instance i = instance(r);
        policies().clearAdminOverride(i.instanceId());
        return null;
    }

    private Object getPolicy(JsonNode r, PrpcContext c) throws PrpcException {
        Instance i = instance(r);
        PortPolicies.State s = policies().state(i);
        ObjectNode o = JSON.createObjectNode();
        s.effective().ifPresent(p -> o.set("effective", p.toJson()));
        o.put("source", s.source().wire());
        s.instanceReported().ifPresent(p -> o.set("instance_reported", p.toJson()));
        s.adminOverride().ifPresent(p -> o.set("admin_override", p.toJson()));
        return o;
    }

    /** The dashboard page ({@code GET /}): instances and live connections, server-rendered. */
    public String dashboard() {
        StringBuilder b = new StringBuilder(4096);
        b.append("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>dstack gateway</title><style>")
                .append("body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:2em}")
                .append("td,th{border:1px solid #ccc;padding:.3em .6em;font-family:monospace}th{background:#eee}")
                .append("</style></head><body><h1>dstack gateway</h1>");
        b.append("<p id=\"summary\">node ").append(config.sync().nodeId()).append(" &middot; ")
                .append(gateway.isUp() ? "up" : "down").append(" &middot; version ").append(GatewayRpc.VERSION)
                .append(" &middot; base domain ").append(esc(baseDomain())).append("</p>");
        List<Host> hs = hosts();
        b.append("<h2>Instances (").append(hs.size()).append(")</h2><table id=\"instances\"><tr><th>instance id</th>")
                .append("<th>app id</th><th>ip</th><th>compose hash</th><th>latest handshake</th>")
                .append("<th>connections</th><th>registered</th></tr>");
        for (Host h : hs) {
            Instance i = h.instance();
            b.append("<tr><td>").append(esc(i.instanceId())).append("</td><td>").append(esc(i.appId()))
                    .append("</td><td>").append(i.clientIp().getHostAddress()).append("</td><td>")
                    .append(esc(i.composeHash())).append("</td><td>")
                    .append(h.latestHandshake() == 0 ? "never" : Instant.ofEpochSecond(h.latestHandshake()))
                    .append("</td><td>").append(h.connections()).append("</td><td>").append(i.registeredAt())
                    .append("</td></tr>");
        }
        b.append("</table>");
        List<ProxyServer.ConnectionInfo> cs = connections.get();
        b.append("<h2>Connections (").append(cs.size()).append(")</h2><table id=\"connections\"><tr><th>id</th>")
                .append("<th>client</th><th>sni</th><th>mode</th><th>app id</th><th>instance id</th>")
                .append("<th>backend</th><th>bytes in</th><th>bytes out</th><th>since</th></tr>");
        for (ProxyServer.ConnectionInfo c : cs) {
            b.append("<tr><td>").append(c.id()).append("</td><td>").append(esc(String.valueOf(c.client())))
                    .append("</td><td>").append(esc(c.sni())).append("</td><td>").append(esc(c.mode()))
                    .append("</td><td>").append(esc(c.appId().orElse(""))).append("</td><td>")
                    .append(esc(c.instanceId().orElse(""))).append("</td><td>")
                    .append(esc(c.backend().map(String::valueOf).orElse(""))).append("</td><td>")
                    .append(c.bytesFromClient()).append("</td><td>").append(c.bytesToClient()).append("</td><td>")
                    .append(c.started()).append("</td></tr>");
        }
        b.append("</table></body></html>");
        return b.toString();
    }

    static String esc(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (char ch : s.toCharArray()) {
            switch (ch) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> b.append(ch);
            }
        }
        return b.toString();
    }
}
