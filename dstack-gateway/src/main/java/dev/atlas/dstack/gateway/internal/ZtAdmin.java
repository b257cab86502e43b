package dev.atlas.dstack.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.prpc.PrpcContext;
import dev.atlas.dstack.ra.prpc.PrpcDispatcher;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcJson;

import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The certbot, ZT-domain and DNS-credential methods of the {@code Admin} service ({@code gateway_rpc.proto};
 * {@code admin_service.rs}), with dstack's JSON shapes and error words. Registered by {@link AdminRpc} behind the
 * admin authentication. DNS API tokens are stored but answered only redacted, as dstack's {@code redact_token}
 * (first and last four characters; all {@code *} up to eight).
 */
final class ZtAdmin {
    private static final System.Logger LOG = System.getLogger("dev.atlas.dstack.gateway.certbot");
    private static final ObjectMapper JSON = PrpcJson.newMapper();
    private static final SecureRandom RANDOM = new SecureRandom();
    /** Our limits on admin input (dstack has none). */
    static final int MAX_NAME = 256;
    static final int MAX_TOKEN = 4096;
    static final int MAX_URL = 2048;

    private final ZtCertbot certbot;
    private final ZtStore store;
    private final Clock clock;

    ZtAdmin(ZtCertbot certbot, Clock clock) {
        this.certbot = certbot;
        this.store = certbot.store();
        this.clock = clock;
    }

    void register(PrpcDispatcher.Builder b) {
        b.method("ListDnsCredentials", (r, c) -> listCredentials())
                .method("GetDnsCredential", w(this::getCredential))
                .method("CreateDnsCredential", w(this::createCredential))
                .method("UpdateDnsCredential", w(this::updateCredential))
                .method("DeleteDnsCredential", w(this::deleteCredential))
                .method("GetDefaultDnsCredential", (r, c) -> getDefault())
                .method("SetDefaultDnsCredential", w(this::setDefault))
                .method("ListZtDomains", (r, c) -> listDomains())
                .method("GetZtDomain", w(this::getDomain))
                .method("AddZtDomain", w(this::addDomain))
                .method("UpdateZtDomain", w(this::updateDomain))
                .method("DeleteZtDomain", w(this::deleteDomain))
                .method("RenewZtDomainCert", w(this::renewDomain))
                .method("ForceReleaseCertLock", w(this::forceRelease))
                .method("ListCertAttestations", w(this::listAttestations))
                .method("GetCertbotConfig", (r, c) -> getConfig())
                .method("SetCertbotConfig", w(this::setConfig))
                .method("RenewCert", (r, c) -> renewAll())
                .method("SetCaa", (r, c) -> setCaa())
                .method("RotateAcmeCredentials", (r, c) -> rotate());
    }

    @FunctionalInterface
    private interface Handler {
        Object handle(JsonNode r, PrpcContext c) throws PrpcException, RaException;
    }

    /** A state that cannot be written is the caller's error too (nothing changed). */
    private static dev.atlas.dstack.ra.prpc.PrpcHandler w(Handler h) {
        return (r, c) -> {
            try {
                return h.handle(r, c);
            } catch (RaException e) {
                throw new PrpcException("failed to save the certbot state: " + GatewayRpc.words(e));
            }
        };
    }

    private static PrpcException fail(String what, RaException e) {
        return new PrpcException(what + ": " + GatewayRpc.words(e));
    }

    // --- DNS credentials -------------------------------------------------------------------------------------------

    static ObjectNode credentialJson(ZtStore.DnsCredential c) {
        ObjectNode o = JSON.createObjectNode();
        o.put("id", c.id());
        o.put("name", c.name());
        o.put("provider_type", "cloudflare");
        o.put("cf_api_token", c.redactedToken());
        o.put("cf_api_url", c.apiUrl().orElse(""));
        o.put("dns_txt_ttl", c.dnsTxtTtl());
        o.put("max_dns_wait", c.maxDnsWaitSecs());
        o.put("created_at", c.createdAt());
        o.put("updated_at", c.updatedAt());
        return o;
    }

    private Object listCredentials() {
        ZtStore.State s = store.state();
        ObjectNode o = JSON.createObjectNode();
        ArrayNode a = o.putArray("credentials");
        s.credentials().values().forEach(c -> a.add(credentialJson(c)));
        s.defaultCredential().ifPresent(d -> o.put("default_id", d));
        return o;
    }

    private ZtStore.DnsCredential credential(ZtStore.State s, String id) throws PrpcException {
        ZtStore.DnsCredential c = s.credentials().get(id);
        if (c == null) {
            throw new PrpcException("dns credential not found");
        }
        return c;
    }

    private Object getCredential(JsonNode r, PrpcContext c) throws PrpcException {
        return credentialJson(credential(store.state(), PrpcJson.string(r, "id")));
    }

    private static String name(String n) throws PrpcException {
        if (n.length() > MAX_NAME || n.chars().anyMatch(Character::isISOControl)) {
            throw new PrpcException("name must be at most " + MAX_NAME + " characters without control characters");
        }
        return n;
    }

    private static String token(String t) throws PrpcException {
        if (t.isEmpty() || t.length() > MAX_TOKEN || !t.chars().allMatch(ch -> ch > 0x20 && ch < 0x7f)) {
            throw new PrpcException("cf_api_token must be 1.." + MAX_TOKEN + " printable ASCII characters");
        }
        return t;
    }

    /** Empty: the default API. https, or http to a loopback address only (ours: the token travels in it). */
    static Optional<String> apiUrl(Optional<String> u) throws PrpcException {
        if (u.isEmpty() || u.get().isEmpty()) {
            return Optional.empty();
        }
        String s = u.get();
        String why = "cf_api_url must be an https:// URL (http:// only to a loopback address)";
        try {
            if (s.length() > MAX_URL) {
                throw new PrpcException(why);
            }
            URI uri = new URI(s);
            if (uri.getHost() == null || uri.getRawUserInfo() != null || uri.getRawQuery() != null
                    || uri.getRawFragment() != null) {
                throw new PrpcException(why);
            }
            if ("https".equals(uri.getScheme())) {
                return Optional.of(s);
            }
            String host = uri.getHost().startsWith("[") ? uri.getHost().substring(1, uri.getHost().length() - 1)
                    : uri.getHost();
            if ("http".equals(uri.getScheme()) && host.chars().allMatch(ch -> Character.digit(ch, 16) >= 0
                    || ch == '.' || ch == ':') && InetAddress.ofLiteral(host).isLoopbackAddress()) {
                return Optional.of(s);
            }
        } catch (URISyntaxException | IllegalArgumentException e) {
            // falls through
        }
        throw new PrpcException(why);
    }

    private String newId() {
        return Long.toHexString(clock.millis()) + String.format("%08x", RANDOM.nextInt());
    }

    private Object createCredential(JsonNode r, PrpcContext ctx) throws PrpcException, RaException {
        String type = PrpcJson.string(r, "provider_type");
        if (!type.equals("cloudflare")) {
            throw new PrpcException("unsupported provider type: " + type);
        }
        String name = name(PrpcJson.string(r, "name"));
        String token = token(PrpcJson.string(r, "cf_api_token"));
        Optional<String> url = apiUrl(PrpcJson.optionalString(r, "cf_api_url"));
        long ttl = PrpcJson.has(r, "dns_txt_ttl") ? PrpcJson.uint32(r, "dns_txt_ttl") : 60;
        long wait = PrpcJson.has(r, "max_dns_wait") ? PrpcJson.uint32(r, "max_dns_wait") : 300;
        PrpcJson.string(r, "cf_zone_id"); // type-checked, not used (the zone is found by name, as dstack does)
        boolean makeDefault = PrpcJson.bool(r, "set_as_default");
        if (ttl == 0) {
            throw new PrpcException("dns_txt_ttl must be greater than zero");
        }
        if (ttl > Integer.MAX_VALUE) {
            throw new PrpcException("dns_txt_ttl out of range");
        }
        if (wait == 0) {
            throw new PrpcException("max_dns_wait must be greater than zero");
        }
        long now = clock.instant().getEpochSecond();
        ZtStore.DnsCredential c = new ZtStore.DnsCredential(newId(), name, token, url, (int) ttl, wait, now, now);
        store.update(s -> {
            Map<String, ZtStore.DnsCredential> m = new LinkedHashMap<>(s.credentials());
            m.put(c.id(), c);
            return s.withCredentials(m, makeDefault ? Optional.of(c.id()) : s.defaultCredential());
        });
        LOG.log(System.Logger.Level.INFO, "Created DNS credential: " + c.name() + " (" + c.id() + ")"
                + (makeDefault ? ", set as default" : ""));
        return credentialJson(c);
    }

    private Object updateCredential(JsonNode r, PrpcContext ctx) throws PrpcException, RaException {
        String id = PrpcJson.string(r, "id");
        Optional<String> name = PrpcJson.optionalString(r, "name");
        Optional<String> token = PrpcJson.optionalString(r, "cf_api_token");
        Optional<String> url = PrpcJson.optionalString(r, "cf_api_url");
        PrpcJson.optionalString(r, "cf_zone_id");
        if (name.isPresent()) {
            name(name.get());
        }
        if (token.isPresent()) {
            token(token.get());
        }
        Optional<String> newUrl = url.isPresent() ? apiUrl(url) : Optional.empty();
        long now = clock.instant().getEpochSecond();
        ZtStore.State after = store.update(s -> {
            ZtStore.DnsCredential old = credential(s, id);
            ZtStore.DnsCredential c = new ZtStore.DnsCredential(id, name.orElse(old.name()),
                    token.orElse(old.apiToken()), url.isPresent() ? newUrl : old.apiUrl(), old.dnsTxtTtl(),
                    old.maxDnsWaitSecs(), old.createdAt(), now);
            Map<String, ZtStore.DnsCredential> m = new LinkedHashMap<>(s.credentials());
            m.put(id, c);
            return s.withCredentials(m, s.defaultCredential());
        });
        ZtStore.DnsCredential c = after.credentials().get(id);
        LOG.log(System.Logger.Level.INFO, "Updated DNS credential: " + c.name() + " (" + c.id() + ")");
        return credentialJson(c);
    }

    private Object deleteCredential(JsonNode r, PrpcContext ctx) throws PrpcException, RaException {
        String id = PrpcJson.string(r, "id");
        store.update(s -> {
            if (s.defaultCredential().filter(id::equals).isPresent()) {
                throw new PrpcException("cannot delete the default DNS credential; set a different default first");
            }
            for (ZtStore.Domain d : s.domains().values()) {
                if (d.dnsCredId().filter(id::equals).isPresent()) {
                    throw new PrpcException("cannot delete DNS credential: domain " + d.domain() + " uses it");
                }
            }
            if (!s.credentials().containsKey(id)) {
                return s; // dstack deletes nothing and answers OK
            }
            Map<String, ZtStore.DnsCredential> m = new LinkedHashMap<>(s.credentials());
            m.remove(id);
            return s.withCredentials(m, s.defaultCredential());
        });
        LOG.log(System.Logger.Level.INFO, "Deleted DNS credential: " + id);
        return null;
    }

    private Object getDefault() {
        ZtStore.State s = store.state();
        ObjectNode o = JSON.createObjectNode();
        o.put("default_id", s.defaultCredential().orElse(""));
        s.defaultCredential().map(id -> s.credentials().get(id)).ifPresent(c -> o.set("credential",
                credentialJson(c)));
        return o;
    }

    private Object setDefault(JsonNode r, PrpcContext ctx) throws PrpcException, RaException {
        String id = PrpcJson.string(r, "id");
        store.update(s -> s.withCredentials(s.credentials(), Optional.of(credential(s, id).id())));
        LOG.log(System.Logger.Level.INFO, "Set default DNS credential: " + id);
        return null;
    }

    // --- ZT-domains ------------------------------------------------------------------------------------------------

    private ObjectNode domainJson(ZtStore.Domain d) {
        ObjectNode o = JSON.createObjectNode();
        ObjectNode c = o.putObject("config");
        c.put("domain", d.domain());
        d.dnsCredId().ifPresent(x -> c.put("dns_cred_id", x));
        c.put("port", d.port());
        d.node().ifPresent(n -> c.put("node", n));
        c.put("priority", d.priority());
        ZtStore.Cert cert = store.state().certs().get(d.domain());
        ObjectNode st = o.putObject("cert_status");
        st.put("has_cert", cert != null);
        st.put("not_after", cert == null ? 0 : cert.notAfter());
        st.put("issued_by", cert == null ? 0 : cert.issuedBy());
        st.put("issued_at", cert == null ? 0 : cert.issuedAt());
        st.put("loaded_in_memory", certbot.certStore().hasZtDomain(d.domain()));
        return o;
    }

    private Object listDomains() {
        ObjectNode o = JSON.createObjectNode();
        ArrayNode a = o.putArray("domains");
        store.state().domains().values().forEach(d -> a.add(domainJson(d)));
        return o;
    }

    private static String normalize(String domain) throws PrpcException {
        try {
            return ZtDomains.normalize(domain);
        } catch (IllegalArgumentException e) {
            throw new PrpcException(e.getMessage());
        }
    }

    private static ZtStore.Domain domainConfig(JsonNode r, ZtStore.State s) throws PrpcException {
        Optional<String> cred = PrpcJson.optionalString(r, "dns_cred_id").filter(x -> !x.isEmpty());
        if (cred.isPresent() && !s.credentials().containsKey(cred.get())) {
            throw new PrpcException("specified dns credential not found");
        }
        String domain = normalize(PrpcJson.string(r, "domain"));
        long port = PrpcJson.uint32(r, "port");
        if (port == 0) {
            throw new PrpcException("port must be between 1 and 65535");
        }
        if (port > 65535) {
            throw new PrpcException("port out of range");
        }
        Optional<Long> node = PrpcJson.has(r, "node") ? Optional.of(PrpcJson.uint32(r, "node")) : Optional.empty();
        return new ZtStore.Domain(domain, cred, (int) port, node, PrpcJson.int32(r, "priority"));
    }

    private Object getDomain(JsonNode r, PrpcContext ctx) throws PrpcException {
        String d = normalize(PrpcJson.string(r, "domain"));
        ZtStore.Domain cfg = store.state().domains().get(d);
        if (cfg == null) {
            throw new PrpcException("ZT-Domain config not found");
        }
        return domainJson(cfg);
    }

    private Object addDomain(JsonNode r, PrpcContext ctx) throws PrpcException, RaException {
        ZtStore.State after = store.update(s -> {
            ZtStore.Domain d = domainConfig(r, s);
            if (s.domains().containsKey(d.domain())) {
                throw new PrpcException("ZT-Domain config already exists: " + d.domain());
            }
            Map<String, ZtStore.Domain> m = new TreeMap<>(s.domains());
            m.put(d.domain(), d);
            return s.withDomains(m);
        });
        ZtStore.Domain d = domainConfig(r, after);
        LOG.log(System.Logger.Level.INFO, "Added ZT-Domain config: " + d.domain());
        ObjectNode answer = domainJson(after.domains().get(d.domain()));
        certbot.requestInBackground(d.domain());
        return answer;
    }

    private Object updateDomain(JsonNode r, PrpcContext ctx) throws PrpcException, RaException {
        ZtStore.State after = store.update(s -> {
            ZtStore.Domain d = domainConfig(r, s);
            if (!s.domains().containsKey(d.domain())) {
                throw new PrpcException("ZT-Domain config not found");
            }
            Map<String, ZtStore.Domain> m = new TreeMap<>(s.domains());
            m.put(d.domain(), d);
            return s.withDomains(m);
        });
        ZtStore.Domain d = after.domains().get(domainConfig(r, after).domain());
        LOG.log(System.Logger.Level.INFO, "Updated ZT-Domain config: " + d.domain());
        return domainJson(d);
    }

    private Object deleteDomain(JsonNode r, PrpcContext ctx) throws PrpcException, RaException {
        String d = normalize(PrpcJson.string(r, "domain"));
        store.update(s -> {
            if (!s.domains().containsKey(d)) {
                throw new PrpcException("ZT-Domain config not found");
            }
            Map<String, ZtStore.Domain> m = new TreeMap<>(s.domains());
            m.remove(d);
            return s.withDomains(m); // certificate and attestations are kept for history, as dstack does
        });
        certbot.certStore().remove(d); // new handshakes for *.<d> are refused from now on
        LOG.log(System.Logger.Level.INFO, "Deleted ZT-Domain config: " + d);
        return null;
    }

    private Object renewDomain(JsonNode r, PrpcContext ctx) throws PrpcException {
        String d = PrpcJson.string(r, "domain");
        boolean force = PrpcJson.bool(r, "force");
        String domain;
        try {
            domain = ZtDomains.normalize(d);
        } catch (IllegalArgumentException e) {
            throw new PrpcException("certificate renewal failed: " + e.getMessage());
        }
        boolean renewed;
        try {
            renewed = certbot.renew(domain, force);
        } catch (RaException e) {
            throw fail("certificate renewal failed", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PrpcException("certificate renewal failed: interrupted");
        }
        ObjectNode o = JSON.createObjectNode();
        o.put("renewed", renewed);
        ZtStore.Cert c = store.state().certs().get(domain);
        o.put("not_after", renewed && c != null ? c.notAfter() : 0);
        return o;
    }

    private Object forceRelease(JsonNode r, PrpcContext ctx) throws PrpcException {
        String d = PrpcJson.string(r, "domain");
        // one node: no cluster-wide lock exists; an issuance in progress ends within renew_timeout_secs
        LOG.log(System.Logger.Level.INFO, "Admin.ForceReleaseCertLock for " + d + ": no cluster lock on a single node,"
                + " nothing released");
        return null;
    }

    private static ObjectNode attestationJson(ZtStore.Attestation a) {
        ObjectNode o = JSON.createObjectNode();
        o.put("public_key", HexFormat.of().formatHex(a.subject()));
        o.put("quote", a.quote());
        o.put("generated_by", a.generatedBy());
        o.put("generated_at", a.generatedAt());
        return o;
    }

    private Object listAttestations(JsonNode r, PrpcContext ctx) throws PrpcException {
        String d = PrpcJson.string(r, "domain");
        long limit = PrpcJson.uint32(r, "limit");
        String domain;
        try {
            domain = ZtDomains.normalize(d);
        } catch (IllegalArgumentException e) {
            domain = d;
        }
        List<ZtStore.Attestation> l = new java.util.ArrayList<>(store.state().attestations()
                .getOrDefault(domain, List.of()));
        java.util.Collections.reverse(l);
        l.sort((x, y) -> Long.compare(y.generatedAt(), x.generatedAt()));
        ObjectNode o = JSON.createObjectNode();
        if (!l.isEmpty()) {
            o.set("latest", attestationJson(l.get(0)));
        }
        ArrayNode h = o.putArray("history");
        l.stream().limit(limit == 0 ? Long.MAX_VALUE : limit).forEach(a -> h.add(attestationJson(a)));
        return o;
    }

    // --- certbot configuration and whole-gateway operations --------------------------------------------------------

    private Object getConfig() {
        ZtStore.Settings s = store.state().settings();
        ObjectNode o = JSON.createObjectNode();
        o.put("renew_interval_secs", s.renewIntervalSecs());
        o.put("renew_before_expiration_secs", s.renewBeforeExpirationSecs());
        o.put("renew_timeout_secs", s.renewTimeoutSecs());
        o.put("acme_url", s.acmeUrl());
        return o;
    }

    private static long secs(JsonNode r, String f, long old) throws PrpcException {
        if (!PrpcJson.has(r, f)) {
            return old;
        }
        long v = PrpcJson.uint64(r, f);
        if (v < 0 || v > 100L * 365 * 86400) {
            throw new PrpcException(f + " out of range (at most 100 years)");
        }
        return v;
    }

    private Object setConfig(JsonNode r, PrpcContext ctx) throws PrpcException, RaException {
        Optional<String> url = PrpcJson.optionalString(r, "acme_url");
        if (url.isPresent() && !url.get().isEmpty()) {
            try {
                URI u = new URI(url.get());
                if (url.get().length() > MAX_URL || !"https".equals(u.getScheme()) || u.getHost() == null
                        || u.getRawUserInfo() != null) {
                    throw new PrpcException("acme_url must be an https:// URL (RFC 8555 requires HTTPS)");
                }
            } catch (URISyntaxException e) {
                throw new PrpcException("acme_url must be an https:// URL (RFC 8555 requires HTTPS)");
            }
        }
        ZtStore.State after = store.update(s -> {
            ZtStore.Settings o = s.settings();
            long timeout = secs(r, "renew_timeout_secs", o.renewTimeoutSecs());
            if (timeout == 0) {
                throw new PrpcException("renew_timeout_secs must be greater than zero");
            }
            return s.withSettings(new ZtStore.Settings(secs(r, "renew_interval_secs", o.renewIntervalSecs()),
                    secs(r, "renew_before_expiration_secs", o.renewBeforeExpirationSecs()), timeout,
                    url.orElse(o.acmeUrl())));
        });
        ZtStore.Settings s = after.settings();
        LOG.log(System.Logger.Level.INFO, "Updated certbot config: renew_interval=" + s.renewIntervalSecs()
                + "s, renew_before_expiration=" + s.renewBeforeExpirationSecs() + "s, renew_timeout="
                + s.renewTimeoutSecs() + "s, acme_url=\"" + s.acmeUrl() + "\"");
        certbot.reschedule();
        return null;
    }

    private Object renewAll() {
        int n = certbot.renewDue();
        return JSON.createObjectNode().put("renewed", n > 0);
    }

    private Object setCaa() throws PrpcException {
        try {
            certbot.setCaaAll();
        } catch (RaException e) {
            throw new PrpcException(GatewayRpc.words(e));
        }
        return null;
    }

    private Object rotate() throws PrpcException {
        ZtCertbot.Rotation rot;
        try {
            rot = certbot.rotate();
        } catch (RaException e) {
            throw new PrpcException(GatewayRpc.words(e));
        }
        return JSON.createObjectNode().put("account_uri", rot.accountUri()).put("domains_updated",
                rot.domainsUpdated());
    }
}
