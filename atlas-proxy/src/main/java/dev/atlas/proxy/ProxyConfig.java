package dev.atlas.proxy;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
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
 * The proxy's configuration: immutable, validated when built. It comes from a builder, or from settings named
 * like Atlas's environment variables ({@link Setting}): the environment, then a config file in the same
 * {@code KEY=VALUE} form (which systemd's {@code EnvironmentFile=} also reads), then command-line flags, each
 * overriding the one before.
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

    /**
     * Builds the configuration from the three layers. Only {@code ATLS_PROXY_*} names are read from the
     * environment; a config file or an override with an unknown key is an error.
     *
     * @param environment the process environment ({@code System.getenv()})
     * @param file        a {@code KEY=VALUE} config file, or null
     * @param overrides   command-line values keyed by environment name
     * @throws IllegalArgumentException with a message naming the setting when something is invalid
     * @throws IOException              when the config or token file cannot be read
     */
    public static ProxyConfig load(Map<String, String> environment, Path file, Map<String, String> overrides)
            throws IOException {
        Map<String, String> merged = new LinkedHashMap<>();
        environment.forEach((k, v) -> {
            if (Setting.byEnv(k).isPresent()) {
                merged.put(k, v);
            }
        });
        if (file != null) {
            merged.putAll(readFile(file));
        }
        for (Map.Entry<String, String> e : overrides.entrySet()) {
            if (Setting.byEnv(e.getKey()).isEmpty()) {
                throw new IllegalArgumentException("unknown setting " + e.getKey());
            }
            merged.put(e.getKey(), e.getValue());
        }
        return fromSettings(merged);
    }

    /** Reads a {@code KEY=VALUE} file: blank lines and {@code #} comments ignored, unknown keys refused. */
    public static Map<String, String> readFile(Path file) throws IOException {
        if (Files.size(file) > 1 << 20) {
            throw new IllegalArgumentException(file + ": config file larger than 1 MiB");
        }
        Map<String, String> m = new LinkedHashMap<>();
        int n = 0;
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            n++;
            String t = line.strip();
            if (t.isEmpty() || t.startsWith("#")) {
                continue;
            }
            int eq = t.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException(file + ":" + n + ": expected KEY=VALUE");
            }
            String key = t.substring(0, eq).strip();
            String value = t.substring(eq + 1).strip();
            if (value.length() >= 2 && (value.startsWith("\"") && value.endsWith("\"")
                    || value.startsWith("'") && value.endsWith("'"))) {
                value = value.substring(1, value.length() - 1);
            }
            if (Setting.byEnv(key).isEmpty()) {
                throw new IllegalArgumentException(file + ":" + n + ": unknown setting " + key);
            }
            if (m.put(key, value) != null) {
                throw new IllegalArgumentException(file + ":" + n + ": " + key + " given twice");
            }
        }
        return m;
    }

    /** Builds from settings keyed by environment name (missing ones take their defaults). */
    public static ProxyConfig fromSettings(Map<String, String> s) throws IOException {
        Builder b = builder();
        String allow = s.get(Setting.ALLOWLIST.env);
        if (allow == null) {
            throw new IllegalArgumentException(Setting.ALLOWLIST.env + " is required (comma-separated host:port "
                    + "entries the proxy may connect to)");
        }
        for (String e : splitList(allow)) {
            try {
                b.allow(TargetAddress.parseEntry(e));
            } catch (InvalidTargetException x) {
                throw new IllegalArgumentException(Setting.ALLOWLIST.env + ": entry '" + e + "': " + x.getMessage());
            }
        }
        b.listen(parseHostPort(Setting.LISTEN, get(s, Setting.LISTEN)));
        String target = get(s, Setting.TARGET).strip();
        if (target.isEmpty()) {
            b.noDefaultTarget();
        } else {
            try {
                b.defaultTarget(TargetAddress.parse(target));
            } catch (InvalidTargetException x) {
                throw new IllegalArgumentException(Setting.TARGET.env + ": " + x.getMessage());
            }
        }
        for (String c : splitList(get(s, Setting.ALLOWED_CIDRS))) {
            b.allowCidr(parseRange(Setting.ALLOWED_CIDRS, c));
        }
        String token = get(s, Setting.TOKEN);
        String tokenFile = get(s, Setting.TOKEN_FILE).strip();
        if (!token.isEmpty() && !tokenFile.isEmpty()) {
            throw new IllegalArgumentException("give " + Setting.TOKEN.env + " or " + Setting.TOKEN_FILE.env
                    + ", not both");
        }
        if (!tokenFile.isEmpty()) {
            Path p = Path.of(tokenFile);
            if (Files.size(p) > 4096) {
                throw new IllegalArgumentException(Setting.TOKEN_FILE.env + ": file larger than 4 KiB");
            }
            token = Files.readString(p, StandardCharsets.UTF_8).strip();
            if (token.isEmpty()) {
                throw new IllegalArgumentException(Setting.TOKEN_FILE.env + ": the file is empty");
            }
        }
        if (!token.isEmpty()) {
            b.token(token);
        }
        for (String o : splitList(get(s, Setting.ALLOWED_ORIGINS))) {
            b.allowOrigin(o);
        }
        String cert = get(s, Setting.TLS_CERT).strip();
        String key = get(s, Setting.TLS_KEY).strip();
        if (!cert.isEmpty() || !key.isEmpty()) {
            if (cert.isEmpty() || key.isEmpty()) {
                throw new IllegalArgumentException("wss:// needs both " + Setting.TLS_CERT.env + " and "
                        + Setting.TLS_KEY.env);
            }
            b.tls(Path.of(cert), Path.of(key));
        }
        String admin = get(s, Setting.ADMIN_LISTEN).strip();
        if (!admin.isEmpty()) {
            b.adminListen(parseHostPort(Setting.ADMIN_LISTEN, admin));
        }
        for (String c : splitList(get(s, Setting.TRUSTED_PROXIES))) {
            b.trustProxy(parseRange(Setting.TRUSTED_PROXIES, c));
        }
        b.maxTunnels(intSetting(s, Setting.MAX_TUNNELS));
        b.maxTunnelsPerClient(intSetting(s, Setting.MAX_TUNNELS_PER_CLIENT));
        b.rateLimit(doubleSetting(s, Setting.RATE_PER_CLIENT), intSetting(s, Setting.RATE_BURST));
        long frame = sizeSetting(s, Setting.MAX_FRAME_BYTES);
        if (frame > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(Setting.MAX_FRAME_BYTES.env + ": at most 2 GiB");
        }
        b.maxFrameBytes((int) frame);
        b.maxMessageBytes(sizeSetting(s, Setting.MAX_MESSAGE_BYTES));
        b.idleTimeout(durationSetting(s, Setting.IDLE_TIMEOUT));
        b.connectTimeout(durationSetting(s, Setting.CONNECT_TIMEOUT));
        b.handshakeTimeout(durationSetting(s, Setting.HANDSHAKE_TIMEOUT));
        b.drainTimeout(durationSetting(s, Setting.DRAIN_TIMEOUT));
        b.workerThreads(intSetting(s, Setting.WORKER_THREADS));
        return b.build();
    }

    private static String get(Map<String, String> s, Setting k) {
        String v = s.get(k.env);
        return v == null ? k.defaultValue : v;
    }

    static List<String> splitList(String v) {
        List<String> out = new ArrayList<>();
        for (String p : v.split(",", -1)) {
            String t = p.strip();
            if (!t.isEmpty()) {
                out.add(t);
            }
        }
        return out;
    }

    private static IpRange parseRange(Setting k, String v) {
        try {
            return IpRange.parse(v);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(k.env + ": " + e.getMessage());
        }
    }

    /** Parses a listen address {@code host:port} or {@code [v6]:port} (port 0: any free port). */
    public static InetSocketAddress parseHostPort(Setting k, String v) {
        String t = v.strip();
        int colon = t.lastIndexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException(k.env + ": expected host:port, got '" + t + "'");
        }
        String host = t.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(t.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(k.env + ": bad port in '" + t + "'");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException(k.env + ": port out of range in '" + t + "'");
        }
        return new InetSocketAddress(host, port);
    }

    private static int intSetting(Map<String, String> s, Setting k) {
        try {
            int v = Integer.parseInt(get(s, k).strip());
            if (v < 0) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(k.env + ": expected a non-negative integer, got '" + get(s, k) + "'");
        }
    }

    private static double doubleSetting(Map<String, String> s, Setting k) {
        try {
            double v = Double.parseDouble(get(s, k).strip());
            if (!(v >= 0) || Double.isInfinite(v)) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(k.env + ": expected a non-negative number, got '" + get(s, k) + "'");
        }
    }

    /** {@code 123}, {@code 64KiB}, {@code 16MiB}, {@code 1GiB}. */
    static long sizeSetting(Map<String, String> s, Setting k) {
        String v = get(s, k).strip();
        long mult = 1;
        String num = v;
        for (String[] suf : new String[][] {{"KiB", "1024"}, {"MiB", "1048576"}, {"GiB", "1073741824"}}) {
            if (v.endsWith(suf[0])) {
                mult = Long.parseLong(suf[1]);
                num = v.substring(0, v.length() - suf[0].length()).strip();
            }
        }
        try {
            long n = Long.parseLong(num);
            if (n <= 0 || n > (1L << 40) / mult) {
                throw new NumberFormatException();
            }
            return n * mult;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(k.env + ": expected a positive size like 65536, 64KiB or 16MiB, got '"
                    + v + "'");
        }
    }

    /** {@code 30} (seconds), {@code 30s}, {@code 500ms}, {@code 5m}, {@code 1h}. */
    static Duration durationSetting(Map<String, String> s, Setting k) {
        String v = get(s, k).strip().toLowerCase(Locale.ROOT);
        try {
            if (v.endsWith("ms")) {
                return checkDuration(k, Duration.ofMillis(Long.parseLong(v.substring(0, v.length() - 2))));
            }
            if (v.endsWith("s")) {
                return checkDuration(k, Duration.ofSeconds(Long.parseLong(v.substring(0, v.length() - 1))));
            }
            if (v.endsWith("m")) {
                return checkDuration(k, Duration.ofMinutes(Long.parseLong(v.substring(0, v.length() - 1))));
            }
            if (v.endsWith("h")) {
                return checkDuration(k, Duration.ofHours(Long.parseLong(v.substring(0, v.length() - 1))));
            }
            return checkDuration(k, Duration.ofSeconds(Long.parseLong(v)));
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException(k.env + ": expected a duration like 30, 30s, 500ms or 5m, got '" + v
                    + "'");
        }
    }

    private static Duration checkDuration(Setting k, Duration d) {
        if (d.isNegative() || d.compareTo(Duration.ofDays(7)) > 0) {
            throw new NumberFormatException();
        }
        return d;
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
