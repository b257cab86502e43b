package dev.atlas.dstack.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import dev.atlas.dstack.gateway.GatewayConfig;
import dev.atlas.dstack.gateway.GatewayConfig.Cidr;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.config.ConfigTree;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Reads {@code gateway.toml} as dstack-gateway does ({@code gateway/src/config.rs} {@code load_config_figment}): the
 * shipped file's values first, the operator's file over them, then each key checked; keys not used are named in
 * the warnings (only when the operator's file sets them), keys whose omission would weaken a check are refused.
 */
public final class GatewayConfigReader {
    /** The values of dstack's shipped {@code gateway/gateway.toml} (values only; see docs/dstack-gateway.md). */
    static final String SHIPPED = """
            workers = 8
            max_blocking = 64
            ident = "dstack Gateway"
            temp_dir = "/tmp"
            keep_alive = 10
            log_level = "info"
            address = "127.0.0.1:8010"
            [core]
            set_ulimit = true
            rpc_domain = ""
            [core.attestation]
            insecure_allow_external_trust_anchors = false
            [core.attestation.urls]
            [core.attestation.root_ca]
            [core.auth]
            enabled = false
            url = "http://localhost/app-auth"
            timeout = "5s"
            [core.admin]
            enabled = false
            address = "127.0.0.1:8011"
            auth_token = ""
            htpasswd_file = ""
            insecure_no_auth = false
            [core.debug]
            insecure_enable_debug_rpc = false
            insecure_localhost_backend = false
            insecure_skip_attestation = false
            address = "127.0.0.1:8012"
            [core.wg]
            public_key = ""
            private_key = ""
            listen_port = 51820
            ip = "10.0.0.1/24"
            reserved_net = ["10.0.0.1/32"]
            client_ip_range = "10.0.0.0/25"
            config_path = "/etc/wireguard/wg0.conf"
            interface = "wg0"
            endpoint = "10.0.2.2:51820"
            [core.proxy]
            tls_crypto_provider = "aws-lc-rs"
            tls_versions = ["1.2"]
            listen_addr = "0.0.0.0"
            listen_port = 8443
            agent_port = 8090
            buffer_size = 65536
            connect_top_n = 3
            app_address_ns_prefix = "_dstack-app-address"
            app_address_ns_compat = true
            workers = 32
            thread_per_core = true
            connection_rebalance = true
            external_port = 443
            max_connections_per_app = 2000
            inbound_pp_enabled = false
            [core.proxy.port_policy_fetch]
            timeout = "10s"
            max_retries = 5
            backoff_initial = "1s"
            backoff_max = "30s"
            [core.proxy.timeouts]
            connect = "5s"
            handshake = "5s"
            cache_top_n = "30s"
            handshake_stale = "30m"
            dns_resolve = "5s"
            data_timeout_enabled = true
            idle = "10m"
            write = "5s"
            shutdown = "5s"
            total = "5h"
            pp_header = "5s"
            [core.recycle]
            enabled = true
            interval = "5m"
            timeout = "10h"
            node_timeout = "10m"
            [core.sync]
            enabled = false
            node_id = 0
            my_url = "https://localhost:8011"
            interval = "1m"
            timeout = "30s"
            bootnode = ""
            data_dir = "/dstack-gateway/data"
            persist_interval = "5m"
            sync_connections_enabled = true
            sync_connections_interval = "30s"
            """;

    /** Rocket's settings: accepted, named as ignored (the JDK/Netty servers are used). */
    static final Set<String> ROCKET = Set.of("workers", "max_blocking", "ident", "ip_header", "proxy_proto_header",
            "limits", "temp_dir", "keep_alive", "log_level", "cli_colors", "secret_key", "shutdown", "reuse",
            "profile");

    static final List<String> ROOT_CA_KEYS = List.of("tdx", "gcp_tpm", "aws_nitro_enclave", "aws_nitro_tpm",
            "sev_snp_milan", "sev_snp_genoa", "sev_snp_turin");

    /** dstack-attest's refusal ({@code AttestationVerifier::load}). */
    public static final String EXTERNAL_ANCHORS_REFUSED = "external attestation trust anchors are configured but "
            + "insecure_allow_external_trust_anchors is false";

    /** Listen ports one range may name (our limit). */
    static final int MAX_LISTEN_PORTS = 1024;

    private final List<String> warnings = new ArrayList<>();
    private final Path dir;

    private static final TomlMapper TOML = new TomlMapper();

    private GatewayConfigReader(Path dir) {
        this.dir = dir;
    }

    public static GatewayConfig load(Path file) throws RaException {
        byte[] bytes = ConfigTree.readFile(file);
        return read(bytes, file);
    }

    public static GatewayConfig read(byte[] bytes, Path file) throws RaException {
        Path abs = file.toAbsolutePath();
        ObjectNode user = parse(bytes, file.toString());
        ObjectNode shipped = parse(SHIPPED.getBytes(StandardCharsets.UTF_8), "shipped defaults");
        ConfigTree.Table root = ConfigTree.overlaid(shipped, user, file.toString()).root();
        return new GatewayConfigReader(abs.getParent() == null ? abs : abs.getParent()).build(root, file);
    }

    /** Parses one TOML document (strict UTF-8, at most {@link ConfigTree#MAX_BYTES}) into a table. */
    static ObjectNode parse(byte[] bytes, String file) throws RaException {
        return ConfigTree.parseToml(ConfigTree.text(bytes, file), TOML, file);
    }

    private GatewayConfig build(ConfigTree.Table root, Path file) throws RaException {
        // top level: Rocket's listener of the main RPC
        InetSocketAddress rpcAddress = listen(root, 8000);
        ConfigTree.Table tls = root.table("tls");
        boolean hasTls = root.has("tls");
        Optional<Path> tlsKey = path(tls, "key");
        Optional<Path> tlsCerts = path(tls, "certs");
        ConfigTree.Table mutual = tls.table("mutual");
        Optional<Path> caCerts = path(mutual, "ca_certs");
        boolean mandatory = mutual.optBool("mandatory").orElse(false);
        if (hasTls && (tlsKey.isEmpty() || tlsCerts.isEmpty())) {
            throw tls.invalid(tlsKey.isEmpty() ? "key" : "certs", "missing: [tls] needs key and certs");
        }
        if (hasTls && caCerts.isEmpty()) {
            throw tls.unsupported("mutual", "missing [tls.mutual] ca_certs: RegisterCvm authenticates CVMs by their "
                    + "client certificate, which needs the KMS root CA");
        }
        if (tls.has("ciphers")) {
            throw tls.unsupported("ciphers", "a cipher-suite restriction is not supported (the JDK's TLS 1.2/1.3 "
                    + "defaults are used); remove the key");
        }
        ignore(mutual, Set.of());
        ignore(tls, Set.of("prefer_server_cipher_order"));

        ConfigTree.Table core = root.table("core");
        boolean setUlimit = core.bool("set_ulimit");
        String rpcDomain = core.string("rpc_domain");
        if (!hasTls) {
            if (!rpcDomain.isEmpty()) {
                throw root.invalid("tls", "missing: with core.rpc_domain set, the certificate from the guest agent "
                        + "is written to [tls] key, certs and [tls.mutual] ca_certs");
            }
            warnings.add("[tls]: missing, the main RPC listener (RegisterCvm) cannot start until key, certs and "
                    + "[tls.mutual] ca_certs are configured");
        }

        GatewayConfig.Attestation attestation = attestation(core.table("attestation"));
        GatewayConfig.Auth auth = auth(core.table("auth"));
        GatewayConfig.Admin admin = admin(core.table("admin"));
        GatewayConfig.Debug debug = debug(core.table("debug"));
        GatewayConfig.Wg wg = wg(core.table("wg"), debug.insecureLoopbackTransport());
        GatewayConfig.Proxy proxy = proxy(core.table("proxy"));
        GatewayConfig.Recycle recycle = recycle(core.table("recycle"));
        GatewayConfig.Sync sync = sync(core.table("sync"));
        GatewayConfig.Certbot certbot = certbot(core.table("certbot"));
        ignore(core, Set.of());
        ignore(root, ROCKET);

        return new GatewayConfig(file, new GatewayConfig.Rpc(rpcAddress, tlsKey, tlsCerts, caCerts, mandatory),
                setUlimit, rpcDomain, attestation, auth, admin, debug, wg, proxy, recycle, sync, certbot, warnings);
    }

    private GatewayConfig.Attestation attestation(ConfigTree.Table att) throws RaException {
        boolean allowExternal = att.optBool("insecure_allow_external_trust_anchors").orElse(false);
        ConfigTree.Table urls = att.table("urls");
        String pccs = urls.optString("pccs").filter(s -> !s.isBlank())
                .orElse(GatewayConfig.Attestation.DEFAULT_PCCS_URL);
        url(urls, "pccs", pccs);
        if (urls.optString("amd_kds").filter(s -> !s.isBlank()).isPresent()) {
            warnings.add("core.attestation.urls.amd_kds: not used (this gateway verifies TDX attestation only)");
        }
        refuseUnknown(urls);
        ConfigTree.Table roots = att.table("root_ca");
        Optional<Path> tdx = Optional.empty();
        boolean any = false;
        for (String k : ROOT_CA_KEYS) {
            Optional<Path> p = path(roots, k);
            if (p.isPresent()) {
                any = true;
                if (k.equals("tdx")) {
                    tdx = p;
                } else {
                    warnings.add("core.attestation.root_ca." + k + ": not used (TDX attestation only; other "
                            + "platforms are refused)");
                }
            }
        }
        refuseUnknown(roots);
        refuseUnknown(att);
        if (any && !allowExternal) {
            throw new RaException(Reason.CONFIG_INVALID, "core.attestation.root_ca", EXTERNAL_ANCHORS_REFUSED
                    + " (in " + att.source() + ")");
        }
        if (tdx.isPresent() && !Files.isReadable(tdx.get())) {
            throw new RaException(Reason.CONFIG_FILE_UNREADABLE, "core.attestation.root_ca.tdx",
                    "failed to read TDX root CA from " + tdx.get() + " (in " + att.source() + ")");
        }
        if (allowExternal) {
            warnings.add("core.attestation.insecure_allow_external_trust_anchors = true: INSECURE, attestation may "
                    + "be verified against a root other than Intel's (development and tests only)");
        }
        return new GatewayConfig.Attestation(allowExternal, tdx, pccs);
    }

    private GatewayConfig.Auth auth(ConfigTree.Table t) throws RaException {
        boolean enabled = t.bool("enabled");
        String u = t.string("url");
        URI url = url(t, "url", u);
        Duration timeout = t.duration("timeout");
        ignore(t, Set.of());
        return new GatewayConfig.Auth(enabled, url, timeout);
    }

    private GatewayConfig.Admin admin(ConfigTree.Table t) throws RaException {
        boolean enabled = t.bool("enabled");
        InetSocketAddress address = listen(t, 8001);
        Optional<String> token = t.optString("auth_token").filter(s -> !s.isEmpty());
        Optional<String> legacy = t.optString("admin_token").filter(s -> !s.isEmpty());
        if (token.isEmpty()) {
            token = legacy;
        }
        Optional<Path> htpasswd = path(t, "htpasswd_file");
        boolean noAuth = t.bool("insecure_no_auth");
        if (t.has("tls")) {
            throw t.unsupported("tls", "TLS on the admin listener is not supported; keep it on loopback and remove "
                    + "the table");
        }
        ignore(t, ROCKET);
        if (enabled && noAuth) {
            warnings.add("core.admin.insecure_no_auth = true: INSECURE, the admin API is served without "
                    + "authentication");
        }
        return new GatewayConfig.Admin(enabled, address, token, htpasswd, noAuth);
    }

    private GatewayConfig.Debug debug(ConfigTree.Table t) throws RaException {
        boolean rpc = t.optBool("insecure_enable_debug_rpc").orElse(false);
        boolean localhost = t.optBool("insecure_localhost_backend").orElse(false);
        boolean skip = t.optBool("insecure_skip_attestation").orElse(false);
        boolean loopback = t.optBool("insecure_loopback_transport").orElse(false);
        Optional<Path> keyFile = path(t, "key_file");
        InetSocketAddress address = listen(t, 8012);
        ignore(t, ROCKET);
        if (keyFile.isPresent()) {
            warnings.add("core.debug.key_file: not used (older gateways read a debug key from it)");
        }
        if (rpc) {
            warnings.add("core.debug.insecure_enable_debug_rpc = true: INSECURE, Debug.RegisterCvm registers any "
                    + "app and instance id without attestation on " + address);
        }
        if (localhost) {
            warnings.add("core.debug.insecure_localhost_backend = true: INSECURE, the app address \"localhost\" "
                    + "resolves to 127.0.0.1 on this host, also from the TXT record of any custom domain, bypassing "
                    + "port_policy (local development only)");
        }
        if (skip) {
            warnings.add("core.debug.insecure_skip_attestation = true: INSECURE, the gateway does not learn its own "
                    + "app id from its guest agent (GetPeers refuses every caller)");
        }
        if (loopback) {
            warnings.add("core.debug.insecure_loopback_transport = true: INSECURE, no WireGuard: instances are "
                    + "reached on this host's loopback (127.b.c.d for client IP a.b.c.d), unencrypted and "
                    + "unauthenticated (same-host development only)");
        }
        return new GatewayConfig.Debug(rpc, localhost, skip, keyFile, address, loopback);
    }

    private GatewayConfig.Wg wg(ConfigTree.Table t, boolean loopback) throws RaException {
        String pub = t.string("public_key");
        String priv = t.string("private_key");
        wgKey(t, "public_key", pub);
        wgKey(t, "private_key", priv);
        int listenPort = (int) t.integer("listen_port", 0, 65535);
        Cidr ip = cidr(t, "ip", t.string("ip"));
        List<Cidr> reserved = new ArrayList<>();
        List<String> rs = t.strings("reserved_net");
        for (int i = 0; i < rs.size(); i++) {
            reserved.add(cidr(t, "reserved_net[" + i + "]", rs.get(i)));
        }
        Cidr range = cidr(t, "client_ip_range", t.string("client_ip_range"));
        Path configPath = path(t, "config_path").orElseThrow(() -> t.invalid("config_path", "must not be empty"));
        String iface = t.string("interface");
        if (iface.isEmpty() || iface.length() > 15 || !iface.chars().allMatch(c -> Character.isLetterOrDigit(c)
                || c == '-' || c == '_' || c == '.')) {
            throw t.invalid("interface", "an interface name is 1..15 letters, digits, '-', '_' or '.'");
        }
        String endpoint = t.string("endpoint");
        ignore(t, Set.of());
        // config.rs validate(): the same three checks, dstack's words
        for (Cidr net : reserved) {
            if (!ip.contains(net)) {
                throw t.invalid("reserved_net", "Reserved net is not in the network");
            }
        }
        if (reserved.stream().noneMatch(n -> n.contains(ip.address()))) {
            throw t.invalid("ip", "Wg peer IP is not in the reserved net");
        }
        if (!ip.trunc().contains(range)) {
            throw t.invalid("client_ip_range", "Client IP range is not in the network");
        }
        if (!loopback && (priv.isEmpty() || pub.isEmpty())) {
            warnings.add("core.wg.private_key/public_key: empty, the WireGuard interface cannot be configured "
                    + "(generate them with wg genkey / wg pubkey)");
        }
        return new GatewayConfig.Wg(priv, pub, listenPort, ip, reserved, range, configPath, iface, endpoint);
    }

    private GatewayConfig.Proxy proxy(ConfigTree.Table t) throws RaException {
        String provider = t.string("tls_crypto_provider");
        if (!provider.equals("aws-lc-rs") && !provider.equals("ring")) {
            throw t.invalid("tls_crypto_provider", "unknown variant: expected \"aws-lc-rs\" or \"ring\"");
        }
        List<String> versions = t.strings("tls_versions");
        if (versions.isEmpty()) {
            throw t.invalid("tls_versions", "at least one of \"1.2\", \"1.3\"");
        }
        for (String v : versions) {
            if (!v.equals("1.2") && !v.equals("1.3")) {
                throw t.invalid("tls_versions", "unknown variant: expected \"1.2\" or \"1.3\"");
            }
        }
        String la = t.string("listen_addr");
        InetAddress listenAddr;
        try {
            listenAddr = Cidr.ipv4(la);
        } catch (IllegalArgumentException e) {
            throw t.invalid("listen_addr", "expected an IPv4 address a.b.c.d");
        }
        List<Integer> ports = listenPorts(t);
        int agentPort = (int) t.integer("agent_port", 0, 65535);
        int externalPort = t.optInteger("external_port", 0, 65535).orElse(443L).intValue();
        int bufferSize = (int) t.integer("buffer_size", 1, 64L << 20);
        int topN = (int) t.integer("connect_top_n", 0, 1024);
        String prefix = t.string("app_address_ns_prefix");
        if (prefix.isEmpty() || prefix.length() > 63) {
            throw t.invalid("app_address_ns_prefix", "a DNS label of 1..63 characters");
        }
        boolean compat = t.bool("app_address_ns_compat");
        List<String> dns = t.strings("app_address_dns_servers");
        if (!dns.isEmpty()) {
            warnings.add("core.proxy.app_address_dns_servers: not supported, the system resolver is used");
        }
        long maxConn = t.integer("max_connections_per_app", 0, Long.MAX_VALUE);
        boolean ppIn = t.optBool("inbound_pp_enabled").orElse(false);
        Optional<Path> chain = path(t, "cert_chain");
        Optional<Path> key = path(t, "cert_key");
        Optional<String> base = t.optString("base_domain").filter(s -> !s.isEmpty());
        if (chain.isPresent() != key.isPresent()) {
            throw t.invalid(chain.isPresent() ? "cert_key" : "cert_chain", "cert_chain and cert_key go together");
        }
        if (chain.isPresent() && base.isEmpty()) {
            throw t.invalid("base_domain", "required with cert_chain and cert_key (the domain the certificate "
                    + "serves)");
        }
        if (base.isPresent()) {
            String d = base.get();
            if (d.length() > 253 || d.startsWith(".") || d.endsWith(".") || d.startsWith("*")
                    || !d.chars().allMatch(c -> (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
                            || c == '.' || (c >= 'A' && c <= 'Z'))) {
                throw t.invalid("base_domain", "expected a domain name such as app.example.com (no wildcard)");
            }
        }
        for (String ignored : List.of("workers", "thread_per_core", "connection_rebalance")) {
            t.accept(ignored);
            if (t.userSets(ignored)) {
                warnings.add("core.proxy." + ignored + ": not supported, ignored (Netty event loops, one per core)");
            }
        }
        for (String opt : List.of("tcp_splice", "ktls")) {
            t.accept(opt);
            if (t.has(opt)) {
                warnings.add("core.proxy." + opt + ": not supported, ignored (the relay copies through user space)");
            }
        }
        GatewayConfig.PortPolicyFetch fetch = portPolicyFetch(t.table("port_policy_fetch"));
        GatewayConfig.Timeouts timeouts = timeouts(t.table("timeouts"));
        ignore(t, Set.of());
        return new GatewayConfig.Proxy(listenAddr, ports, agentPort, externalPort, bufferSize, topN, prefix, compat,
                maxConn, ppIn, versions, chain, key, base, timeouts, fetch);
    }

    private static List<Integer> listenPorts(ConfigTree.Table t) throws RaException {
        JsonNode v = t.raw("listen_port").orElseThrow(() -> t.invalid("listen_port", "missing"));
        if (v.isIntegralNumber()) {
            if (!v.canConvertToInt() || v.intValue() < 0 || v.intValue() > 65535) {
                throw t.invalid("listen_port", "a port is 0..65535");
            }
            return List.of(v.intValue());
        }
        if (!v.isTextual()) {
            throw t.invalid("listen_port", "expected a port or a range \"443-543\", got " + ConfigTree.kind(v));
        }
        String s = v.textValue();
        int dash = s.indexOf('-');
        int lo = port(t, dash < 0 ? s : s.substring(0, dash));
        int hi = dash < 0 ? lo : port(t, s.substring(dash + 1));
        if (lo > hi) {
            throw t.invalid("listen_port", "invalid port range: " + lo + " > " + hi);
        }
        if (hi - lo + 1 > MAX_LISTEN_PORTS) {
            throw t.invalid("listen_port", "a range of at most " + MAX_LISTEN_PORTS + " ports");
        }
        List<Integer> out = new ArrayList<>();
        for (int p = lo; p <= hi; p++) {
            out.add(p);
        }
        return out;
    }

    private static int port(ConfigTree.Table t, String s) throws RaException {
        String x = s.trim();
        if (x.isEmpty() || x.length() > 5 || !x.chars().allMatch(c -> c >= '0' && c <= '9')
                || Integer.parseInt(x) > 65535) {
            throw t.invalid("listen_port", "a port is 0..65535");
        }
        return Integer.parseInt(x);
    }

    private GatewayConfig.PortPolicyFetch portPolicyFetch(ConfigTree.Table t) throws RaException {
        var out = new GatewayConfig.PortPolicyFetch(t.duration("timeout"), (int) t.integer("max_retries", 0, 1000),
                t.duration("backoff_initial"), t.duration("backoff_max"));
        ignore(t, Set.of());
        return out;
    }

    private GatewayConfig.Timeouts timeouts(ConfigTree.Table t) throws RaException {
        var out = new GatewayConfig.Timeouts(t.duration("connect"), t.duration("handshake"), t.duration("cache_top_n"),
                t.has("handshake_stale") ? t.duration("handshake_stale") : Duration.ofMinutes(30),
                t.duration("dns_resolve"), t.bool("data_timeout_enabled"), t.duration("idle"), t.duration("write"),
                t.duration("shutdown"), t.duration("total"), t.duration("pp_header"));
        ignore(t, Set.of());
        return out;
    }

    private GatewayConfig.Recycle recycle(ConfigTree.Table t) throws RaException {
        var out = new GatewayConfig.Recycle(t.bool("enabled"), t.duration("interval"), t.duration("timeout"),
                t.duration("node_timeout"));
        ignore(t, Set.of());
        return out;
    }

    private GatewayConfig.Sync sync(ConfigTree.Table t) throws RaException {
        boolean enabled = t.bool("enabled");
        long nodeId = t.integer("node_id", 0, 0xffff_ffffL);
        String myUrl = t.string("my_url");
        String bootnode = t.string("bootnode");
        Path dataDir = path(t, "data_dir").orElseThrow(() -> t.invalid("data_dir", "must not be empty"));
        for (String k : List.of("interval", "timeout", "persist_interval", "sync_connections_interval")) {
            if (t.has(k)) {
                t.duration(k);
            }
        }
        t.optBool("sync_connections_enabled");
        ignore(t, Set.of());
        if (enabled) {
            throw t.unsupported("enabled", "cluster sync (WaveKV) is not supported: this gateway runs as one node; "
                    + "set enabled = false");
        }
        return new GatewayConfig.Sync(false, nodeId, myUrl, bootnode, dataDir);
    }

    /** dstack 0.5.x's {@code [core.certbot]} keys (gateway.toml before WaveKV): accepted, named as not used. */
    static final Set<String> LEGACY_CERTBOT = Set.of("enabled", "workdir", "acme_url", "cf_api_token", "cf_zone_id",
            "cf_api_url", "auto_set_caa", "domain", "renew_interval", "renew_before_expiration", "renew_timeout",
            "max_dns_wait", "dns_txt_ttl");

    // issue19-zt: [core.certbot] is ours (dstack keeps its certbot settings in WaveKV, set by Admin.SetCertbotConfig)
    private GatewayConfig.Certbot certbot(ConfigTree.Table t) throws RaException {
        Optional<Path> ca = path(t, "acme_ca_cert");
        if (ca.isPresent() && !Files.isReadable(ca.get())) {
            throw new RaException(Reason.CONFIG_FILE_UNREADABLE, "core.certbot.acme_ca_cert", ca.get()
                    + " cannot be read (in " + t.source() + ")");
        }
        Optional<InetSocketAddress> dns = Optional.empty();
        Optional<String> r = t.optString("dns_resolver").filter(s -> !s.isEmpty());
        if (r.isPresent()) {
            String s = r.get();
            int colon = s.lastIndexOf(':');
            try {
                if (colon <= 0 || s.length() > 64) {
                    throw new IllegalArgumentException();
                }
                String host = s.substring(0, colon);
                if (host.startsWith("[") && host.endsWith("]")) {
                    host = host.substring(1, host.length() - 1);
                }
                String port = s.substring(colon + 1);
                if (port.isEmpty() || port.length() > 5 || !port.chars().allMatch(c -> c >= '0' && c <= '9')
                        || Integer.parseInt(port) == 0 || Integer.parseInt(port) > 65535
                        || !host.chars().allMatch(c -> Character.digit(c, 16) >= 0 || c == '.' || c == ':')) {
                    throw new IllegalArgumentException();
                }
                dns = Optional.of(new InetSocketAddress(InetAddress.ofLiteral(host), Integer.parseInt(port)));
            } catch (IllegalArgumentException e) {
                throw t.invalid("dns_resolver", "expected an IP address with a port, e.g. \"127.0.0.1:53\"");
            }
        }
        for (String k : t.unread()) {
            if (!LEGACY_CERTBOT.contains(k)) {
                throw t.invalid(k, "unknown key; [core.certbot] has our acme_ca_cert and dns_resolver, and the 0.5.x "
                        + "keys (ignored)");
            }
            t.accept(k);
            warnings.add(t.key(k) + ": 0.5.x certbot setting, not used: ZT-domains are managed with "
                    + "Admin.CreateDnsCredential, AddZtDomain and SetCertbotConfig");
        }
        if (ca.isPresent()) {
            warnings.add("core.certbot.acme_ca_cert: the ACME server's HTTPS is trusted through " + ca.get()
                    + " instead of the JDK's roots (a private ACME server; development and tests)");
        }
        return new GatewayConfig.Certbot(ca, dns);
    }

    /**
     * Rocket's {@code address} (an IP literal, here also {@code ip:port} as the shipped file writes it) and
     * {@code port}.
     */
    private InetSocketAddress listen(ConfigTree.Table t, int dfltPort) throws RaException {
        String a = t.string("address");
        Optional<Long> port = t.optInteger("port", 0, 65535);
        if (a.startsWith("unix:")) {
            throw t.unsupported("address", "Unix sockets are not supported; use an IP address");
        }
        String host = a;
        Integer inline = null;
        if (a.startsWith("[")) {
            int close = a.indexOf(']');
            if (close < 0) {
                throw t.invalid("address", "expected an IP address, optionally with :port");
            }
            host = a.substring(1, close);
            String rest = a.substring(close + 1);
            if (!rest.isEmpty()) {
                if (!rest.startsWith(":")) {
                    throw t.invalid("address", "expected an IP address, optionally with :port");
                }
                inline = inlinePort(t, rest.substring(1));
            }
        } else if (a.indexOf(':') >= 0 && a.indexOf(':') == a.lastIndexOf(':')) {
            host = a.substring(0, a.indexOf(':'));
            inline = inlinePort(t, a.substring(a.indexOf(':') + 1));
        }
        InetAddress ip;
        try {
            if (host.isEmpty() || host.length() > 45 || !host.chars().allMatch(c -> Character.digit(c, 16) >= 0
                    || c == '.' || c == ':')) {
                throw new IllegalArgumentException();
            }
            ip = InetAddress.ofLiteral(host);
        } catch (IllegalArgumentException e) {
            throw t.invalid("address", "expected an IP address, optionally with :port");
        }
        int p;
        if (inline != null) {
            p = inline;
            if (port.isPresent() && port.get().longValue() != p) {
                warnings.add(t.key("port") + ": ignored, " + t.key("address") + " carries the port");
            }
        } else {
            p = port.map(Long::intValue).orElse(dfltPort);
        }
        return new InetSocketAddress(ip, p);
    }

    private static int inlinePort(ConfigTree.Table t, String s) throws RaException {
        if (s.isEmpty() || s.length() > 5 || !s.chars().allMatch(c -> c >= '0' && c <= '9')
                || Integer.parseInt(s) > 65535) {
            throw t.invalid("address", "a port is 0..65535");
        }
        return Integer.parseInt(s);
    }

    private static Cidr cidr(ConfigTree.Table t, String k, String s) throws RaException {
        try {
            return Cidr.parse(s);
        } catch (IllegalArgumentException e) {
            throw t.invalid(k, "expected an IPv4 network a.b.c.d/n: " + e.getMessage());
        }
    }

    private static void wgKey(ConfigTree.Table t, String k, String v) throws RaException {
        if (v.isEmpty()) {
            return;
        }
        byte[] raw;
        try {
            raw = Base64.getDecoder().decode(v);
        } catch (IllegalArgumentException e) {
            raw = new byte[0];
        }
        if (raw.length != 32) {
            throw t.invalid(k, "expected a base64 WireGuard key (32 bytes)");
        }
    }

    /** A path; empty text means absent; relative paths resolve against the file's directory. */
    private Optional<Path> path(ConfigTree.Table t, String k) throws RaException {
        Optional<String> s = t.optString(k);
        if (s.isEmpty() || s.get().isEmpty()) {
            return Optional.empty();
        }
        if (s.get().indexOf('\0') >= 0 || s.get().length() > 4096) {
            throw t.invalid(k, "not a valid path");
        }
        try {
            return Optional.of(dir.resolve(s.get()).normalize());
        } catch (InvalidPathException e) {
            throw t.invalid(k, "not a valid path");
        }
    }

    private static URI url(ConfigTree.Table t, String k, String u) throws RaException {
        try {
            URI uri = new URI(u);
            if (uri.getScheme() == null || !(uri.getScheme().equals("http") || uri.getScheme().equals("https"))
                    || uri.getHost() == null) {
                throw t.invalid(k, "expected an http:// or https:// URL with a host");
            }
            return uri;
        } catch (URISyntaxException e) {
            throw t.invalid(k, "not a valid URL");
        }
    }

    private void ignore(ConfigTree.Table t, Set<String> known) {
        for (String k : t.unread()) {
            if (!t.userSets(k) && !known.contains(k)) {
                continue;
            }
            if (known.contains(k)) {
                if (t.userSets(k)) {
                    warnings.add(t.key(k) + ": " + (ROCKET.contains(k) ? "Rocket setting, " : "") + "not supported, "
                            + "ignored");
                }
            } else {
                warnings.add(t.key(k) + ": unknown key, ignored");
            }
        }
    }

    /** dstack refuses unknown keys in the attestation tables ({@code deny_unknown_fields}). */
    private static void refuseUnknown(ConfigTree.Table t) throws RaException {
        List<String> u = t.unread();
        if (!u.isEmpty()) {
            throw t.invalid(u.get(0), "unknown key (dstack refuses unknown keys in this table)");
        }
    }
}
