package dev.atlas.dstack.gateway;

import dev.atlas.dstack.gateway.internal.GatewayConfigReader;
import dev.atlas.dstack.ra.RaException;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * dstack's {@code gateway.toml}, read unchanged ({@code ../shared/specs/dstack-platform.md} §3.1). As dstack-gateway
 * does ({@code gateway/src/config.rs}, {@code load_config_figment}), the file is laid over the shipped
 * {@code gateway.toml}, so every key it leaves out has the shipped value. The {@code [core]} table carries the
 * gateway settings; the top-level {@code address}/{@code port} and {@code [tls]} are the RPC listener's (Rocket's).
 *
 * <p>Keys this gateway does not know or does not support are named in {@link #warnings()}; keys whose omission would
 * weaken a check are refused ({@code CONFIG_UNSUPPORTED}). See {@code docs/dstack-gateway.md}, "Configuration".
 *
 * @param source the file read (messages name it)
 * @param rpc the main RPC listener: top-level {@code address}/{@code port}, {@code [tls]}, {@code [tls.mutual]}
 * @param setUlimit {@code core.set_ulimit} (accepted; the JVM cannot raise its own limit, named in the warnings)
 * @param rpcDomain {@code core.rpc_domain}: when not empty the RPC certificate comes from this CVM's guest agent
 * @param attestation {@code [core.attestation]}
 * @param auth {@code [core.auth]}: the optional app-level RegisterCvm hook
 * @param admin {@code [core.admin]}
 * @param debug {@code [core.debug]}
 * @param wg {@code [core.wg]}
 * @param proxy {@code [core.proxy]}
 * @param recycle {@code [core.recycle]}
 * @param sync {@code [core.sync]} (one node: only {@code data_dir}, {@code node_id} and {@code my_url} are used)
 * @param certbot {@code [core.certbot]}: our keys for the ZT-domain certbot (not in dstack's gateway.toml)
 * @param warnings keys named at start: unknown, unsupported but harmless, or insecure settings
 */
public record GatewayConfig(
        Path source,
        Rpc rpc,
        boolean setUlimit,
        String rpcDomain,
        Attestation attestation,
        Auth auth,
        Admin admin,
        Debug debug,
        Wg wg,
        Proxy proxy,
        Recycle recycle,
        Sync sync,
        Certbot certbot,
        List<String> warnings) {

    public GatewayConfig {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(rpc, "rpc");
        Objects.requireNonNull(rpcDomain, "rpcDomain");
        Objects.requireNonNull(attestation, "attestation");
        Objects.requireNonNull(auth, "auth");
        Objects.requireNonNull(admin, "admin");
        Objects.requireNonNull(debug, "debug");
        Objects.requireNonNull(wg, "wg");
        Objects.requireNonNull(proxy, "proxy");
        Objects.requireNonNull(recycle, "recycle");
        Objects.requireNonNull(sync, "sync");
        Objects.requireNonNull(certbot, "certbot");
        warnings = List.copyOf(warnings);
    }

    /**
     * Reads {@code gatewayToml} (at most 1 MiB of UTF-8 TOML) over the shipped defaults and checks it; relative paths
     * resolve against the file's directory.
     *
     * @throws RaException {@code CONFIG_FILE_UNREADABLE}, {@code CONFIG_INVALID} (syntax, a wrong type, a bad value;
     *         the field is the dotted key and the message names the file) or {@code CONFIG_UNSUPPORTED}
     */
    public static GatewayConfig load(Path gatewayToml) throws RaException {
        return GatewayConfigReader.load(gatewayToml);
    }

    /**
     * {@link #load} of a document given as text; {@code baseDir} resolves relative paths and stands for the file's
     * directory in messages.
     */
    public static GatewayConfig parse(String toml, Path baseDir) throws RaException {
        return GatewayConfigReader.read(toml.getBytes(StandardCharsets.UTF_8), baseDir.resolve("gateway.toml"));
    }

    /** A copy with other records (tests, tools): {@code toBuilder()} style for the nested records. */
    public GatewayConfig with(Proxy p, Wg w, Debug d, Admin a) {
        return new GatewayConfig(source, rpc, setUlimit, rpcDomain, attestation, auth, a, d, w, p, recycle, sync,
                certbot, warnings);
    }

    /** A copy with another RPC listener and sync table (tests put ports and data dirs here). */
    public GatewayConfig with(Rpc r, Sync s) {
        return new GatewayConfig(source, r, setUlimit, rpcDomain, attestation, auth, admin, debug, wg, proxy, recycle,
                s, certbot, warnings);
    }

    /** A copy with another {@code [core.auth]} / {@code [core.attestation]} / {@code core.rpc_domain}. */
    public GatewayConfig with(Auth au, Attestation at, String domain) {
        return new GatewayConfig(source, rpc, setUlimit, domain, at, au, admin, debug, wg, proxy, recycle, sync,
                certbot, warnings);
    }

    /** The main RPC listener (Rocket's top-level {@code address}, {@code port}, {@code [tls]}). */
    public record Rpc(InetSocketAddress address, Optional<Path> tlsKey, Optional<Path> tlsCerts,
            Optional<Path> mutualCaCerts, boolean mutualMandatory) {
        public Rpc {
            Objects.requireNonNull(address, "address");
            Objects.requireNonNull(tlsKey, "tlsKey");
            Objects.requireNonNull(tlsCerts, "tlsCerts");
            Objects.requireNonNull(mutualCaCerts, "mutualCaCerts");
        }
    }

    /**
     * {@code [core.attestation]}: the trust of the {@code .8} attestation fallback of RegisterCvm.
     *
     * @param insecureAllowExternalTrustAnchors {@code insecure_allow_external_trust_anchors}
     * @param tdxRootCa {@code root_ca.tdx}, only with the flag above
     * @param pccsUrl {@code urls.pccs}, {@code https://pccs.phala.network} when absent or blank
     */
    public record Attestation(boolean insecureAllowExternalTrustAnchors, Optional<Path> tdxRootCa, String pccsUrl) {
        public static final String DEFAULT_PCCS_URL = "https://pccs.phala.network";

        public Attestation {
            Objects.requireNonNull(tdxRootCa, "tdxRootCa");
            Objects.requireNonNull(pccsUrl, "pccsUrl");
        }
    }

    /** {@code [core.auth]}: POST the AppInfo JSON to {@code url} before registering; any 2xx allows. */
    public record Auth(boolean enabled, URI url, Duration timeout) {
        public Auth {
            Objects.requireNonNull(url, "url");
            Objects.requireNonNull(timeout, "timeout");
        }
    }

    /** {@code [core.admin]} (§0.3); the token is never shown by {@link #toString()}. */
    public record Admin(boolean enabled, InetSocketAddress address, Optional<String> authToken,
            Optional<Path> htpasswdFile, boolean insecureNoAuth) {
        public Admin {
            Objects.requireNonNull(address, "address");
            Objects.requireNonNull(authToken, "authToken");
            Objects.requireNonNull(htpasswdFile, "htpasswdFile");
        }

        @Override
        public String toString() {
            return "Admin[enabled=" + enabled + ", address=" + address + ", authToken="
                    + (authToken.isPresent() ? "set" : "unset") + ", htpasswdFile=" + htpasswdFile
                    + ", insecureNoAuth=" + insecureNoAuth + "]";
        }
    }

    /**
     * {@code [core.debug]}.
     *
     * @param insecureEnableDebugRpc {@code insecure_enable_debug_rpc}: serve {@code Debug.RegisterCvm} (no
     *        attestation) on {@code address}
     * @param insecureLocalhostBackend {@code insecure_localhost_backend}: the app address {@code localhost} routes to
     *        127.0.0.1 on this host
     * @param insecureSkipAttestation {@code insecure_skip_attestation}: the gateway does not ask its own guest agent
     *        for its app id (GetPeers then refuses everyone)
     * @param keyFile {@code key_file} (older layouts; empty in the guide's dev tweak): accepted, named as unused
     * @param address {@code address} of the debug listener
     * @param insecureLoopbackTransport OUR key {@code insecure_loopback_transport}: no WireGuard; an instance with
     *        client IP a.b.c.d is reached at 127.b.c.d (same host only)
     */
    public record Debug(boolean insecureEnableDebugRpc, boolean insecureLocalhostBackend,
            boolean insecureSkipAttestation, Optional<Path> keyFile, InetSocketAddress address,
            boolean insecureLoopbackTransport) {
        public Debug {
            Objects.requireNonNull(keyFile, "keyFile");
            Objects.requireNonNull(address, "address");
        }
    }

    /** An IPv4 network {@code address/prefix} (the address keeps its host bits, as {@code ipnet::Ipv4Net}). */
    public record Cidr(Inet4Address address, int prefix) {
        public Cidr {
            Objects.requireNonNull(address, "address");
            if (prefix < 0 || prefix > 32) {
                throw new IllegalArgumentException("prefix must be 0..32");
            }
        }

        /** Parses {@code a.b.c.d/n} (a bare address is {@code /32}). */
        public static Cidr parse(String s) {
            Objects.requireNonNull(s, "cidr");
            int slash = s.indexOf('/');
            String a = slash < 0 ? s : s.substring(0, slash);
            int p = 32;
            if (slash >= 0) {
                String ps = s.substring(slash + 1);
                if (ps.isEmpty() || ps.length() > 2 || ps.chars().anyMatch(c -> c < '0' || c > '9')) {
                    throw new IllegalArgumentException("invalid prefix length");
                }
                p = Integer.parseInt(ps);
            }
            return new Cidr(ipv4(a), p);
        }

        /** A dotted-quad IPv4 literal, nothing else. */
        public static Inet4Address ipv4(String a) {
            String[] parts = a.split("\\.", -1);
            if (parts.length != 4) {
                throw new IllegalArgumentException("expected an IPv4 address a.b.c.d");
            }
            byte[] b = new byte[4];
            for (int i = 0; i < 4; i++) {
                String part = parts[i];
                if (part.isEmpty() || part.length() > 3 || part.chars().anyMatch(c -> c < '0' || c > '9')
                        || (part.length() > 1 && part.charAt(0) == '0')) {
                    throw new IllegalArgumentException("expected an IPv4 address a.b.c.d");
                }
                int v = Integer.parseInt(part);
                if (v > 255) {
                    throw new IllegalArgumentException("expected an IPv4 address a.b.c.d");
                }
                b[i] = (byte) v;
            }
            try {
                return (Inet4Address) InetAddress.getByAddress(b);
            } catch (java.net.UnknownHostException e) {
                throw new IllegalArgumentException("expected an IPv4 address a.b.c.d");
            }
        }

        private static int bits(Inet4Address a) {
            byte[] b = a.getAddress();
            return (b[0] & 255) << 24 | (b[1] & 255) << 16 | (b[2] & 255) << 8 | (b[3] & 255);
        }

        private int mask() {
            return prefix == 0 ? 0 : -1 << (32 - prefix);
        }

        /** The first address of the network (host bits cleared), as an int. */
        public int networkBits() {
            return bits(address) & mask();
        }

        /** The number of addresses in the network. */
        public long size() {
            return 1L << (32 - prefix);
        }

        public boolean contains(Inet4Address a) {
            return (bits(a) & mask()) == networkBits();
        }

        /** Whether {@code other} lies entirely inside this network. */
        public boolean contains(Cidr other) {
            return other.prefix >= prefix && (other.networkBits() & mask()) == networkBits();
        }

        /** The network of this address ({@code trunc}). */
        public Cidr trunc() {
            return new Cidr(fromBits(networkBits()), prefix);
        }

        public static Inet4Address fromBits(int v) {
            try {
                return (Inet4Address) InetAddress.getByAddress(new byte[] {(byte) (v >>> 24), (byte) (v >>> 16),
                        (byte) (v >>> 8), (byte) v});
            } catch (java.net.UnknownHostException e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public String toString() {
            return address.getHostAddress() + "/" + prefix;
        }
    }

    /**
     * {@code [core.wg]}; the private key is never shown by {@link #toString()}.
     *
     * @param privateKey base64 WireGuard private key
     * @param publicKey base64 WireGuard public key (given to CVMs)
     * @param listenPort UDP port
     * @param ip the gateway's tunnel address with the network prefix ({@code 10.0.0.1/24})
     * @param reservedNet addresses never given to a CVM
     * @param clientIpRange the range CVM addresses come from
     * @param configPath where the rendered {@code wg.conf} is written (mode 0600)
     * @param iface {@code interface}
     * @param endpoint the public {@code host:port} given to CVMs
     */
    public record Wg(String privateKey, String publicKey, int listenPort, Cidr ip, List<Cidr> reservedNet,
            Cidr clientIpRange, Path configPath, String iface, String endpoint) {
        public Wg {
            Objects.requireNonNull(privateKey, "privateKey");
            Objects.requireNonNull(publicKey, "publicKey");
            Objects.requireNonNull(ip, "ip");
            reservedNet = List.copyOf(reservedNet);
            Objects.requireNonNull(clientIpRange, "clientIpRange");
            Objects.requireNonNull(configPath, "configPath");
            Objects.requireNonNull(iface, "iface");
            Objects.requireNonNull(endpoint, "endpoint");
        }

        @Override
        public String toString() {
            return "Wg[publicKey=" + publicKey + ", privateKey=" + (privateKey.isEmpty() ? "unset" : "set")
                    + ", listenPort=" + listenPort + ", ip=" + ip + ", reservedNet=" + reservedNet
                    + ", clientIpRange=" + clientIpRange + ", configPath=" + configPath + ", iface=" + iface
                    + ", endpoint=" + endpoint + "]";
        }
    }

    /** {@code [core.proxy.timeouts]} (§3.5). */
    public record Timeouts(Duration connect, Duration handshake, Duration cacheTopN, Duration handshakeStale,
            Duration dnsResolve, boolean dataTimeoutEnabled, Duration idle, Duration write, Duration shutdown,
            Duration total, Duration ppHeader) {
        public Timeouts {
            Objects.requireNonNull(connect, "connect");
            Objects.requireNonNull(handshake, "handshake");
            Objects.requireNonNull(cacheTopN, "cacheTopN");
            Objects.requireNonNull(handshakeStale, "handshakeStale");
            Objects.requireNonNull(dnsResolve, "dnsResolve");
            Objects.requireNonNull(idle, "idle");
            Objects.requireNonNull(write, "write");
            Objects.requireNonNull(shutdown, "shutdown");
            Objects.requireNonNull(total, "total");
            Objects.requireNonNull(ppHeader, "ppHeader");
        }
    }

    /** {@code [core.proxy.port_policy_fetch]} (§3.3 "Port policy"). */
    public record PortPolicyFetch(Duration timeout, int maxRetries, Duration backoffInitial, Duration backoffMax) {
        public PortPolicyFetch {
            Objects.requireNonNull(timeout, "timeout");
            Objects.requireNonNull(backoffInitial, "backoffInitial");
            Objects.requireNonNull(backoffMax, "backoffMax");
            if (maxRetries < 0) {
                throw new IllegalArgumentException("maxRetries must be >= 0");
            }
        }
    }

    /**
     * {@code [core.proxy]}.
     *
     * @param listenAddr {@code listen_addr} (IPv4)
     * @param listenPorts {@code listen_port}: one port, or a range {@code "443-543"}
     * @param agentPort {@code agent_port}: the guest agent's port inside each CVM
     * @param externalPort {@code external_port}: the public port given to CVMs
     * @param bufferSize {@code buffer_size}
     * @param connectTopN {@code connect_top_n}
     * @param appAddressNsPrefix {@code app_address_ns_prefix}
     * @param appAddressNsCompat {@code app_address_ns_compat}
     * @param maxConnectionsPerApp {@code max_connections_per_app} (0: unlimited)
     * @param inboundPpEnabled {@code inbound_pp_enabled}
     * @param tlsVersions {@code tls_versions}: {@code "1.2"} and/or {@code "1.3"}
     * @param certChain {@code cert_chain} (0.5.x layout: a static wildcard certificate)
     * @param certKey {@code cert_key} (0.5.x layout)
     * @param baseDomain {@code base_domain} (0.5.x layout: the ZT-domain the static certificate serves)
     * @param timeouts {@code [core.proxy.timeouts]}
     * @param portPolicyFetch {@code [core.proxy.port_policy_fetch]}
     */
    public record Proxy(InetAddress listenAddr, List<Integer> listenPorts, int agentPort, int externalPort,
            int bufferSize, int connectTopN, String appAddressNsPrefix, boolean appAddressNsCompat,
            long maxConnectionsPerApp, boolean inboundPpEnabled, List<String> tlsVersions, Optional<Path> certChain,
            Optional<Path> certKey, Optional<String> baseDomain, Timeouts timeouts, PortPolicyFetch portPolicyFetch) {
        public Proxy {
            Objects.requireNonNull(listenAddr, "listenAddr");
            listenPorts = List.copyOf(listenPorts);
            Objects.requireNonNull(appAddressNsPrefix, "appAddressNsPrefix");
            tlsVersions = List.copyOf(tlsVersions);
            Objects.requireNonNull(certChain, "certChain");
            Objects.requireNonNull(certKey, "certKey");
            Objects.requireNonNull(baseDomain, "baseDomain");
            Objects.requireNonNull(timeouts, "timeouts");
            Objects.requireNonNull(portPolicyFetch, "portPolicyFetch");
        }

        /** Same with other listen ports (tests bind port 0). */
        public Proxy withListen(InetAddress addr, List<Integer> ports) {
            return new Proxy(addr, ports, agentPort, externalPort, bufferSize, connectTopN, appAddressNsPrefix,
                    appAddressNsCompat, maxConnectionsPerApp, inboundPpEnabled, tlsVersions, certChain, certKey,
                    baseDomain, timeouts, portPolicyFetch);
        }

        /** Same with a static certificate (the 0.5.x layout). */
        public Proxy withCert(Optional<Path> chain, Optional<Path> key, Optional<String> domain) {
            return new Proxy(listenAddr, listenPorts, agentPort, externalPort, bufferSize, connectTopN,
                    appAddressNsPrefix, appAddressNsCompat, maxConnectionsPerApp, inboundPpEnabled, tlsVersions,
                    chain, key, domain, timeouts, portPolicyFetch);
        }

        /** Same with other timeouts. */
        public Proxy withTimeouts(Timeouts t) {
            return new Proxy(listenAddr, listenPorts, agentPort, externalPort, bufferSize, connectTopN,
                    appAddressNsPrefix, appAddressNsCompat, maxConnectionsPerApp, inboundPpEnabled, tlsVersions,
                    certChain, certKey, baseDomain, t, portPolicyFetch);
        }
    }

    /** {@code [core.recycle]} (§3.4). */
    public record Recycle(boolean enabled, Duration interval, Duration timeout, Duration nodeTimeout) {
        public Recycle {
            Objects.requireNonNull(interval, "interval");
            Objects.requireNonNull(timeout, "timeout");
            Objects.requireNonNull(nodeTimeout, "nodeTimeout");
        }
    }

    /**
     * {@code [core.sync]}: cluster sync is out of scope (one node); {@code data_dir} holds the registrations
     * ({@code instances.json}) and {@code node_uuid}.
     */
    public record Sync(boolean enabled, long nodeId, String myUrl, String bootnode, Path dataDir) {
        public Sync {
            Objects.requireNonNull(myUrl, "myUrl");
            Objects.requireNonNull(bootnode, "bootnode");
            Objects.requireNonNull(dataDir, "dataDir");
        }
    }

    /** A copy with another {@code [core.certbot]} table (tests). */
    public GatewayConfig with(Certbot c) {
        return new GatewayConfig(source, rpc, setUlimit, rpcDomain, attestation, auth, admin, debug, wg, proxy, recycle,
                sync, c, warnings);
    }

    /**
     * {@code [core.certbot]}, <b>our</b> table (dstack keeps the certbot settings in WaveKV and has no such table): how
     * the ZT-domain certbot reaches the ACME server and checks DNS propagation. The renewal settings themselves are
     * set through {@code Admin.SetCertbotConfig}, as in dstack.
     *
     * @param acmeCaCert {@code acme_ca_cert}: PEM roots trusted for the ACME directory's HTTPS <em>instead of</em> the
     *     JDK's (a private ACME server such as pebble); absent: the JDK's roots
     * @param dnsResolver {@code dns_resolver}: {@code ip:port} of the DNS server asked for the TXT records while
     *     waiting for their propagation; absent: the system resolver
     */
    public record Certbot(Optional<Path> acmeCaCert, Optional<InetSocketAddress> dnsResolver) {
        public static final Certbot DEFAULT = new Certbot(Optional.empty(), Optional.empty());

        public Certbot {
            Objects.requireNonNull(acmeCaCert, "acmeCaCert");
            Objects.requireNonNull(dnsResolver, "dnsResolver");
        }
    }

    /** No secret: tokens and keys are shown as set or not. */
    @Override
    public String toString() {
        return "GatewayConfig[source=" + source + ", rpc=" + rpc.address() + ", proxy=" + proxy.listenAddr() + ":"
                + proxy.listenPorts() + ", admin=" + admin + ", debug=" + debug + ", wg=" + wg + ", warnings="
                + warnings.size() + "]";
    }
}
