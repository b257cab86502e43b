package dev.atlas.proxy;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The proxy's configuration: immutable, validated when built. It comes from its builder ({@link #builder()},
 * {@link #toBuilder()}), or from settings named like Atlas's environment variables ({@link Setting}) through
 * {@link ProxyConfigReader}: the environment, then a config file in the same {@code KEY=VALUE} form (which
 * systemd's {@code EnvironmentFile=} also reads), then command-line flags, each overriding the one before.
 *
 * <p>The bearer token is kept only as its SHA-256 and is never printed.
 */
public final class ProxyConfig {
    /** Every setting, with its environment name, default and meaning (the CLI and docs list these). */
    public enum Setting {
        LISTEN("ATLS_PROXY_LISTEN", "127.0.0.1:9000", "address to listen on, host:port"),
        TARGET("ATLS_PROXY_TARGET", "127.0.0.1:8443",
                "default target when the client sends no ?target= (empty: none, the parameter is required)"),
        ALLOWLIST("ATLS_PROXY_ALLOWLIST", null,
                "required: comma-separated host:port entries (*.suffix:port covers sub-domains); empty refuses all"),
        ALLOWED_CIDRS("ATLS_PROXY_ALLOWED_CIDRS", "",
                "comma-separated CIDRs the resolved target address must be in (empty: any but the never-allowed)"),
        TOKEN("ATLS_PROXY_TOKEN", "", "bearer token required on the upgrade request (environment or file only)"),
        TOKEN_FILE("ATLS_PROXY_TOKEN_FILE", "", "file holding the bearer token"),
        ALLOWED_ORIGINS("ATLS_PROXY_ALLOWED_ORIGINS", "",
                "comma-separated Origins (scheme://host[:port]); when set, Origin is required and must be listed"),
        TLS_CERT("ATLS_PROXY_TLS_CERT", "", "PEM certificate chain for wss:// (with ATLS_PROXY_TLS_KEY)"),
        TLS_KEY("ATLS_PROXY_TLS_KEY", "", "PEM private key for wss://"),
        ADMIN_LISTEN("ATLS_PROXY_ADMIN_LISTEN", "",
                "separate host:port for /healthz /readyz /metrics (empty: served on the main listener)"),
        TRUSTED_PROXIES("ATLS_PROXY_TRUSTED_PROXIES", "",
                "CIDRs of reverse proxies whose X-Forwarded-For names the client (for per-client limits)"),
        MAX_TUNNELS("ATLS_PROXY_MAX_TUNNELS", "10000", "open tunnels in total"),
        MAX_TUNNELS_PER_CLIENT("ATLS_PROXY_MAX_TUNNELS_PER_CLIENT", "64", "open tunnels per client IP"),
        RATE_PER_CLIENT("ATLS_PROXY_RATE_PER_CLIENT", "10", "new tunnels per second per client IP (0: no limit)"),
        RATE_BURST("ATLS_PROXY_RATE_BURST", "40", "burst of new tunnels per client IP"),
        MAX_FRAME_BYTES("ATLS_PROXY_MAX_FRAME_BYTES", "1MiB", "largest WebSocket frame payload"),
        MAX_MESSAGE_BYTES("ATLS_PROXY_MAX_MESSAGE_BYTES", "64MiB", "largest fragmented message"),
        IDLE_TIMEOUT("ATLS_PROXY_IDLE_TIMEOUT", "300s", "close a tunnel with no bytes either way (0: never)"),
        CONNECT_TIMEOUT("ATLS_PROXY_CONNECT_TIMEOUT", "10s", "TCP connect to the target"),
        HANDSHAKE_TIMEOUT("ATLS_PROXY_HANDSHAKE_TIMEOUT", "10s", "client TLS + WebSocket upgrade"),
        DRAIN_TIMEOUT("ATLS_PROXY_DRAIN_TIMEOUT", "30s", "how long shutdown waits for open tunnels"),
        WORKER_THREADS("ATLS_PROXY_WORKER_THREADS", "0", "event-loop threads (0: one per core)");

        private final String env;
        private final String defaultValue;
        private final String description;

        Setting(String env, String defaultValue, String description) {
            this.env = env;
            this.defaultValue = defaultValue;
            this.description = description;
        }

        /** The environment variable (and config file key). */
        public String env() {
            return env;
        }

        /** The default as text; null when the setting is required. */
        public String defaultValue() {
            return defaultValue;
        }

        /** One line of help. */
        public String description() {
            return description;
        }

        static Optional<Setting> byEnv(String name) {
            for (Setting s : values()) {
                if (s.env.equals(name)) {
                    return Optional.of(s);
                }
            }
            return Optional.empty();
        }
    }

    private final InetSocketAddress listen;
    private final TargetAddress defaultTarget;
    private final List<TargetAddress> allowlist;
    private final List<IpRange> allowedCidrs;
    private final byte[] tokenSha256;
    private final Set<String> allowedOrigins;
    private final Path tlsCert;
    private final Path tlsKey;
    private final InetSocketAddress adminListen;
    private final List<IpRange> trustedProxies;
    private final int maxTunnels;
    private final int maxTunnelsPerClient;
    private final double ratePerClient;
    private final int rateBurst;
    private final int maxFrameBytes;
    private final long maxMessageBytes;
    private final Duration idleTimeout;
    private final Duration connectTimeout;
    private final Duration handshakeTimeout;
    private final Duration drainTimeout;
    private final int workerThreads;

    private ProxyConfig(Builder b) {
        listen = b.listen;
        defaultTarget = b.defaultTarget;
        allowlist = List.copyOf(b.allowlist);
        allowedCidrs = List.copyOf(b.allowedCidrs);
        tokenSha256 = b.tokenSha256 == null ? null : b.tokenSha256.clone();
        allowedOrigins = Collections.unmodifiableSet(new LinkedHashSet<>(b.allowedOrigins));
        tlsCert = b.tlsCert;
        tlsKey = b.tlsKey;
        adminListen = b.adminListen;
        trustedProxies = List.copyOf(b.trustedProxies);
        maxTunnels = b.maxTunnels;
        maxTunnelsPerClient = b.maxTunnelsPerClient;
        ratePerClient = b.ratePerClient;
        rateBurst = b.rateBurst;
        maxFrameBytes = b.maxFrameBytes;
        maxMessageBytes = b.maxMessageBytes;
        idleTimeout = b.idleTimeout;
        connectTimeout = b.connectTimeout;
        handshakeTimeout = b.handshakeTimeout;
        drainTimeout = b.drainTimeout;
        workerThreads = b.workerThreads;
    }

    /** A builder with every default except the allowlist (which starts empty). */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this configuration's values (the token stays as its hash), to change some of them. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.listen = listen;
        b.defaultTarget = defaultTarget;
        b.allowlist.addAll(allowlist);
        b.allowedCidrs.addAll(allowedCidrs);
        b.tokenSha256 = tokenSha256 == null ? null : tokenSha256.clone();
        b.allowedOrigins.addAll(allowedOrigins);
        b.tlsCert = tlsCert;
        b.tlsKey = tlsKey;
        b.adminListen = adminListen;
        b.trustedProxies.addAll(trustedProxies);
        b.maxTunnels = maxTunnels;
        b.maxTunnelsPerClient = maxTunnelsPerClient;
        b.ratePerClient = ratePerClient;
        b.rateBurst = rateBurst;
        b.maxFrameBytes = maxFrameBytes;
        b.maxMessageBytes = maxMessageBytes;
        b.idleTimeout = idleTimeout;
        b.connectTimeout = connectTimeout;
        b.handshakeTimeout = handshakeTimeout;
        b.drainTimeout = drainTimeout;
        b.workerThreads = workerThreads;
        return b;
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Where to listen. */
    public InetSocketAddress listen() {
        return listen;
    }

    /** The target used when the client names none. */
    public Optional<TargetAddress> defaultTarget() {
        return Optional.ofNullable(defaultTarget);
    }

    /** The allowlist, normalized. */
    public List<TargetAddress> allowlist() {
        return allowlist;
    }

    /** Whether the normalized target is allowlisted (exactly, or under a wildcard entry). */
    public boolean allows(TargetAddress t) {
        for (TargetAddress e : allowlist) {
            if (e.covers(t)) {
                return true;
            }
        }
        return false;
    }

    /** Ranges the resolved address must be in; empty means any address except the never-allowed ones. */
    public List<IpRange> allowedCidrs() {
        return allowedCidrs;
    }

    /** Whether a bearer token is required. */
    public boolean tokenRequired() {
        return tokenSha256 != null;
    }

    /** Compares a presented token in constant time (both sides hashed first, so length does not leak). */
    public boolean tokenMatches(String presented) {
        if (tokenSha256 == null) {
            return true;
        }
        if (presented == null) {
            return false;
        }
        return MessageDigest.isEqual(tokenSha256, sha256(presented));
    }

    /** Allowed {@code Origin} values, normalized; empty means no Origin check. */
    public Set<String> allowedOrigins() {
        return allowedOrigins;
    }

    /** The PEM certificate chain for wss://, if any. */
    public Optional<Path> tlsCertificate() {
        return Optional.ofNullable(tlsCert);
    }

    /** The PEM key for wss://, if any. */
    public Optional<Path> tlsKey() {
        return Optional.ofNullable(tlsKey);
    }

    /** A separate listener for health and metrics, if any. */
    public Optional<InetSocketAddress> adminListen() {
        return Optional.ofNullable(adminListen);
    }

    /** Reverse proxies whose {@code X-Forwarded-For} is believed. */
    public List<IpRange> trustedProxies() {
        return trustedProxies;
    }

    public int maxTunnels() {
        return maxTunnels;
    }

    public int maxTunnelsPerClient() {
        return maxTunnelsPerClient;
    }

    /** New tunnels per second per client (0: unlimited). */
    public double ratePerClient() {
        return ratePerClient;
    }

    public int rateBurst() {
        return rateBurst;
    }

    public int maxFrameBytes() {
        return maxFrameBytes;
    }

    public long maxMessageBytes() {
        return maxMessageBytes;
    }

    /** Zero: never. */
    public Duration idleTimeout() {
        return idleTimeout;
    }

    public Duration connectTimeout() {
        return connectTimeout;
    }

    public Duration handshakeTimeout() {
        return handshakeTimeout;
    }

    public Duration drainTimeout() {
        return drainTimeout;
    }

    /** Zero: one per core. */
    public int workerThreads() {
        return workerThreads;
    }

    /**
     * The settings in force, normalized, in the configuration's own {@code KEY=VALUE} form and {@link Setting}
     * order (what {@code atlas proxy --check} prints): targets and allowlist entries normalized, sizes and
     * durations in units the loader accepts ({@code 1MiB}, {@code 300s}, {@code 500ms}), empty for "none". The
     * token, from {@code ATLS_PROXY_TOKEN} or its file, shows only as {@code ATLS_PROXY_TOKEN=<set>}; the token
     * file's name is not kept, so {@code ATLS_PROXY_TOKEN_FILE} is not listed.
     */
    public Map<String, String> toSettings() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(Setting.LISTEN.env, hostPort(listen));
        m.put(Setting.TARGET.env, defaultTarget == null ? "" : defaultTarget.toString());
        m.put(Setting.ALLOWLIST.env, join(allowlist));
        m.put(Setting.ALLOWED_CIDRS.env, join(allowedCidrs));
        m.put(Setting.TOKEN.env, tokenSha256 == null ? "" : "<set>");
        m.put(Setting.ALLOWED_ORIGINS.env, join(allowedOrigins));
        m.put(Setting.TLS_CERT.env, tlsCert == null ? "" : tlsCert.toString());
        m.put(Setting.TLS_KEY.env, tlsKey == null ? "" : tlsKey.toString());
        m.put(Setting.ADMIN_LISTEN.env, adminListen == null ? "" : hostPort(adminListen));
        m.put(Setting.TRUSTED_PROXIES.env, join(trustedProxies));
        m.put(Setting.MAX_TUNNELS.env, Integer.toString(maxTunnels));
        m.put(Setting.MAX_TUNNELS_PER_CLIENT.env, Integer.toString(maxTunnelsPerClient));
        m.put(Setting.RATE_PER_CLIENT.env, new java.math.BigDecimal(Double.toString(ratePerClient))
                .stripTrailingZeros().toPlainString());
        m.put(Setting.RATE_BURST.env, Integer.toString(rateBurst));
        m.put(Setting.MAX_FRAME_BYTES.env, size(maxFrameBytes));
        m.put(Setting.MAX_MESSAGE_BYTES.env, size(maxMessageBytes));
        m.put(Setting.IDLE_TIMEOUT.env, duration(idleTimeout));
        m.put(Setting.CONNECT_TIMEOUT.env, duration(connectTimeout));
        m.put(Setting.HANDSHAKE_TIMEOUT.env, duration(handshakeTimeout));
        m.put(Setting.DRAIN_TIMEOUT.env, duration(drainTimeout));
        m.put(Setting.WORKER_THREADS.env, Integer.toString(workerThreads));
        return Collections.unmodifiableMap(m);
    }

    private static String hostPort(InetSocketAddress a) {
        String h = a.getHostString();
        return (h.indexOf(':') >= 0 ? "[" + h + "]" : h) + ":" + a.getPort();
    }

    private static String join(java.util.Collection<?> c) {
        StringBuilder b = new StringBuilder();
        for (Object o : c) {
            b.append(b.isEmpty() ? "" : ",").append(o);
        }
        return b.toString();
    }

    /** The largest binary unit that divides {@code n} exactly: {@code 1MiB}, {@code 1536KiB}, {@code 1000}. */
    static String size(long n) {
        String[] units = {"GiB", "MiB", "KiB"};
        for (int i = 0; i < units.length; i++) {
            long u = 1L << (10 * (3 - i));
            if (n % u == 0) {
                return n / u + units[i];
            }
        }
        return Long.toString(n);
    }

    /** {@code 0}, {@code 300s} or {@code 1500ms}: seconds when whole, else milliseconds. */
    static String duration(Duration d) {
        long ms = d.toMillis();
        if (ms == 0) {
            return "0";
        }
        return ms % 1000 == 0 ? ms / 1000 + "s" : ms + "ms";
    }

    /** A summary for the startup log; the token appears only as "set". */
    @Override
    public String toString() {
        return "ProxyConfig{listen=" + listen + ", defaultTarget=" + defaultTarget + ", allowlist=" + allowlist
                + ", allowedCidrs=" + allowedCidrs + ", token=" + (tokenSha256 == null ? "none" : "set")
                + ", allowedOrigins=" + allowedOrigins + ", tls=" + (tlsCert != null) + ", adminListen="
                + adminListen + ", trustedProxies=" + trustedProxies + ", maxTunnels=" + maxTunnels
                + ", maxTunnelsPerClient=" + maxTunnelsPerClient + ", ratePerClient=" + ratePerClient + "/s burst "
                + rateBurst + ", maxFrameBytes=" + maxFrameBytes + ", maxMessageBytes=" + maxMessageBytes
                + ", idleTimeout=" + idleTimeout + ", connectTimeout=" + connectTimeout + ", handshakeTimeout="
                + handshakeTimeout + ", drainTimeout=" + drainTimeout + "}";
    }

    /** Validating builder; {@link #build()} refuses a default target that is not allowlisted. */
    public static final class Builder {
        private InetSocketAddress listen = new InetSocketAddress("127.0.0.1", 9000);
        private TargetAddress defaultTarget;
        private final List<TargetAddress> allowlist = new ArrayList<>();
        private final List<IpRange> allowedCidrs = new ArrayList<>();
        private byte[] tokenSha256;
        private final Set<String> allowedOrigins = new LinkedHashSet<>();
        private Path tlsCert;
        private Path tlsKey;
        private InetSocketAddress adminListen;
        private final List<IpRange> trustedProxies = new ArrayList<>();
        private int maxTunnels = 10_000;
        private int maxTunnelsPerClient = 64;
        private double ratePerClient = 10;
        private int rateBurst = 40;
        private int maxFrameBytes = 1 << 20;
        private long maxMessageBytes = 64L << 20;
        private Duration idleTimeout = Duration.ofMinutes(5);
        private Duration connectTimeout = Duration.ofSeconds(10);
        private Duration handshakeTimeout = Duration.ofSeconds(10);
        private Duration drainTimeout = Duration.ofSeconds(30);
        private int workerThreads;

        private Builder() {
            try {
                defaultTarget = TargetAddress.parse("127.0.0.1:8443");
            } catch (InvalidTargetException e) {
                throw new AssertionError(e);
            }
        }

        public Builder listen(InetSocketAddress a) {
            listen = a;
            return this;
        }

        public Builder defaultTarget(TargetAddress t) {
            if (t.kind() == TargetAddress.Kind.WILDCARD) {
                throw new IllegalArgumentException("the default target cannot be a wildcard");
            }
            defaultTarget = t;
            return this;
        }

        /** No default target: every client must name one. */
        public Builder noDefaultTarget() {
            defaultTarget = null;
            return this;
        }

        public Builder allow(TargetAddress entry) {
            allowlist.add(entry);
            return this;
        }

        public Builder allowCidr(IpRange r) {
            allowedCidrs.add(r);
            return this;
        }

        /** Requires {@code Authorization: Bearer <token>} (or the subprotocol form, see docs/proxy.md). */
        public Builder token(String token) {
            if (token.length() < 16) {
                throw new IllegalArgumentException("the bearer token must have at least 16 characters");
            }
            for (int i = 0; i < token.length(); i++) {
                char c = token.charAt(i);
                if (c <= 0x20 || c >= 0x7f || c == ',') {
                    throw new IllegalArgumentException("the bearer token must be printable ASCII without spaces "
                            + "or commas");
                }
            }
            tokenSha256 = sha256(token);
            return this;
        }

        /** Allows an {@code Origin} such as {@code https://app.example.com}; normalized to lower case. */
        public Builder allowOrigin(String origin) {
            String o = origin.strip().toLowerCase(Locale.ROOT);
            if (!o.matches("https?://[a-z0-9.\\-\\[\\]:]+") || o.endsWith("/")) {
                throw new IllegalArgumentException(Setting.ALLOWED_ORIGINS.env + ": '" + origin
                        + "' is not scheme://host[:port]");
            }
            allowedOrigins.add(o);
            return this;
        }

        public Builder tls(Path certificateChainPem, Path privateKeyPem) {
            tlsCert = certificateChainPem;
            tlsKey = privateKeyPem;
            return this;
        }

        public Builder adminListen(InetSocketAddress a) {
            adminListen = a;
            return this;
        }

        public Builder trustProxy(IpRange r) {
            trustedProxies.add(r);
            return this;
        }

        public Builder maxTunnels(int n) {
            maxTunnels = positive("maxTunnels", n);
            return this;
        }

        public Builder maxTunnelsPerClient(int n) {
            maxTunnelsPerClient = positive("maxTunnelsPerClient", n);
            return this;
        }

        /** Token bucket per client IP: {@code perSecond} refill (0 disables), {@code burst} capacity. */
        public Builder rateLimit(double perSecond, int burst) {
            if (!(perSecond >= 0) || Double.isInfinite(perSecond)) {
                throw new IllegalArgumentException("rate must be a non-negative number");
            }
            ratePerClient = perSecond;
            rateBurst = positive("burst", burst);
            return this;
        }

        public Builder maxFrameBytes(int n) {
            maxFrameBytes = positive("maxFrameBytes", n);
            return this;
        }

        public Builder maxMessageBytes(long n) {
            if (n <= 0) {
                throw new IllegalArgumentException("maxMessageBytes must be positive");
            }
            maxMessageBytes = n;
            return this;
        }

        public Builder idleTimeout(Duration d) {
            idleTimeout = nonNegative("idleTimeout", d);
            return this;
        }

        public Builder connectTimeout(Duration d) {
            connectTimeout = strictlyPositive("connectTimeout", d);
            return this;
        }

        public Builder handshakeTimeout(Duration d) {
            handshakeTimeout = strictlyPositive("handshakeTimeout", d);
            return this;
        }

        public Builder drainTimeout(Duration d) {
            drainTimeout = nonNegative("drainTimeout", d);
            return this;
        }

        public Builder workerThreads(int n) {
            if (n < 0 || n > 1024) {
                throw new IllegalArgumentException("workerThreads must be 0..1024");
            }
            workerThreads = n;
            return this;
        }

        private static int positive(String what, int n) {
            if (n <= 0) {
                throw new IllegalArgumentException(what + " must be positive");
            }
            return n;
        }

        private static Duration nonNegative(String what, Duration d) {
            if (d.isNegative()) {
                throw new IllegalArgumentException(what + " must not be negative");
            }
            return d;
        }

        private static Duration strictlyPositive(String what, Duration d) {
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException(what + " must be positive");
            }
            return d;
        }

        /** Validates and builds. */
        public ProxyConfig build() {
            ProxyConfig c = new ProxyConfig(this);
            if (defaultTarget != null && !c.allows(defaultTarget)) {
                throw new IllegalArgumentException("the default target " + defaultTarget + " is not in the allowlist "
                        + allowlist + " (set " + Setting.TARGET.env + " to an allowlisted target, or to empty for none)");
            }
            return c;
        }
    }
}
