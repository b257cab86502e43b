package dev.atlas.proxy;

import dev.atlas.proxy.ProxyConfig.Setting;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Reads a {@link ProxyConfig} from settings named like Atlas's environment variables ({@link Setting}): the
 * environment, then a config file in the same {@code KEY=VALUE} form (which systemd's {@code EnvironmentFile=}
 * also reads), then command-line flags, each overriding the one before. Every error names the setting (and the
 * file and line) and what is wrong; {@link ProxyConfig#toSettings()} is the inverse.
 */
public final class ProxyConfigReader {
    private ProxyConfigReader() {}

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
        ProxyConfig.Builder b = ProxyConfig.builder();
        String allow = s.get(Setting.ALLOWLIST.env());
        if (allow == null) {
            throw new IllegalArgumentException(Setting.ALLOWLIST.env() + " is required (comma-separated host:port "
                    + "entries the proxy may connect to)");
        }
        for (String e : splitList(allow)) {
            try {
                b.allow(TargetAddress.parseEntry(e));
            } catch (InvalidTargetException x) {
                throw new IllegalArgumentException(Setting.ALLOWLIST.env() + ": entry '" + e + "': " + x.getMessage());
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
                throw new IllegalArgumentException(Setting.TARGET.env() + ": " + x.getMessage());
            }
        }
        for (String c : splitList(get(s, Setting.ALLOWED_CIDRS))) {
            b.allowCidr(parseRange(Setting.ALLOWED_CIDRS, c));
        }
        String token = get(s, Setting.TOKEN);
        String tokenFile = get(s, Setting.TOKEN_FILE).strip();
        if (!token.isEmpty() && !tokenFile.isEmpty()) {
            throw new IllegalArgumentException("give " + Setting.TOKEN.env() + " or " + Setting.TOKEN_FILE.env()
                    + ", not both");
        }
        if (!tokenFile.isEmpty()) {
            Path p = Path.of(tokenFile);
            if (Files.size(p) > 4096) {
                throw new IllegalArgumentException(Setting.TOKEN_FILE.env() + ": file larger than 4 KiB");
            }
            token = Files.readString(p, StandardCharsets.UTF_8).strip();
            if (token.isEmpty()) {
                throw new IllegalArgumentException(Setting.TOKEN_FILE.env() + ": the file is empty");
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
                throw new IllegalArgumentException("wss:// needs both " + Setting.TLS_CERT.env() + " and "
                        + Setting.TLS_KEY.env());
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
            throw new IllegalArgumentException(Setting.MAX_FRAME_BYTES.env() + ": at most 2 GiB");
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
        String v = s.get(k.env());
        return v == null ? k.defaultValue() : v;
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
            throw new IllegalArgumentException(k.env() + ": " + e.getMessage());
        }
    }

    /** Parses a listen address {@code host:port} or {@code [v6]:port} (port 0: any free port). */
    public static InetSocketAddress parseHostPort(Setting k, String v) {
        String t = v.strip();
        int colon = t.lastIndexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException(k.env() + ": expected host:port, got '" + t + "'");
        }
        String host = t.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(t.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(k.env() + ": bad port in '" + t + "'");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException(k.env() + ": port out of range in '" + t + "'");
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
            throw new IllegalArgumentException(k.env() + ": expected a non-negative integer, got '" + get(s, k) + "'");
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
            throw new IllegalArgumentException(k.env() + ": expected a non-negative number, got '" + get(s, k) + "'");
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
            throw new IllegalArgumentException(k.env() + ": expected a positive size like 65536, 64KiB or 16MiB, got '"
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
            throw new IllegalArgumentException(k.env() + ": expected a duration like 30, 30s, 500ms or 5m, got '" + v
                    + "'");
        }
    }

    private static Duration checkDuration(Setting k, Duration d) {
        if (d.isNegative() || d.compareTo(Duration.ofDays(7)) > 0) {
            throw new NumberFormatException();
        }
        return d;
    }

}
