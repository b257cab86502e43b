package dev.atlas.cli.devnet;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * What {@code atlas dev up} brings up: the directory holding the configs, keys, logs and state, the gateway's base
 * domain, how many demo apps to deploy, and whether to stay in the foreground.
 *
 * <p>The base domain needs no DNS: clients reach the gateway's proxy port on 127.0.0.1 with the app's host name as
 * SNI (atlas-cli writes {@code DIR/hosts} for the JDK's {@code jdk.net.hosts.file}).
 *
 * @param dir the devnet directory (created if missing; an existing one is resumed with its keys)
 * @param baseDomain the gateway's {@code [core.proxy] base_domain} (default {@value #DEFAULT_BASE_DOMAIN})
 * @param apps how many demo apps to deploy (0..16, default 1)
 * @param foreground stay attached (the CLI waits for Ctrl-C, then brings everything down)
 * @param ports fixed ports per component port name (for tests; absent names get a free loopback port on first up,
 *     kept in {@code devnet.json} across resumes): {@code auth}, {@code pccs}, {@code kms}, {@code gateway-rpc},
 *     {@code gateway-admin}, {@code gateway-proxy}, {@code vmm}
 * @param readyTimeout how long one component may take to become ready
 */
public record DevOptions(Path dir, String baseDomain, int apps, boolean foreground, Map<String, Integer> ports,
        Duration readyTimeout) {
    /** The default base domain: {@code app.test} (RFC 2606 reserves {@code .test}: never real DNS). */
    public static final String DEFAULT_BASE_DOMAIN = "app.test";
    /** The component port names accepted in {@link #ports()}. */
    public static final java.util.List<String> PORT_NAMES = java.util.List.of("auth", "pccs", "kms", "gateway-rpc",
            "gateway-admin", "gateway-proxy", "vmm");

    public DevOptions {
        Objects.requireNonNull(dir, "dir");
        Objects.requireNonNull(baseDomain, "baseDomain");
        if (!baseDomain.matches("(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+")) {
            throw new IllegalArgumentException("--base-domain " + baseDomain + ": expected a DNS name with at least "
                    + "two labels, such as app.test");
        }
        if (apps < 0 || apps > 16) {
            throw new IllegalArgumentException("--apps " + apps + ": expected 0..16");
        }
        ports = Map.copyOf(Objects.requireNonNull(ports, "ports"));
        for (Map.Entry<String, Integer> e : ports.entrySet()) {
            if (!PORT_NAMES.contains(e.getKey())) {
                throw new IllegalArgumentException("port " + e.getKey() + ": unknown, expected one of " + PORT_NAMES);
            }
            if (e.getValue() < 1 || e.getValue() > 65535) {
                throw new IllegalArgumentException("port " + e.getKey() + " = " + e.getValue() + ": expected 1..65535");
            }
        }
        Objects.requireNonNull(readyTimeout, "readyTimeout");
        if (readyTimeout.isNegative() || readyTimeout.isZero()) {
            throw new IllegalArgumentException("readyTimeout " + readyTimeout + ": must be positive");
        }
    }

    public static Builder builder(Path dir) {
        return new Builder(dir);
    }

    public Builder toBuilder() {
        Builder b = new Builder(dir).baseDomain(baseDomain).apps(apps).foreground(foreground).readyTimeout(readyTimeout);
        b.ports.putAll(ports);
        return b;
    }

    /** Builder of {@link DevOptions}. */
    public static final class Builder {
        private Path dir;
        private String baseDomain = DEFAULT_BASE_DOMAIN;
        private int apps = 1;
        private boolean foreground;
        private final Map<String, Integer> ports = new LinkedHashMap<>();
        private Duration readyTimeout = Duration.ofSeconds(40);

        private Builder(Path dir) {
            this.dir = Objects.requireNonNull(dir, "dir");
        }

        public Builder dir(Path v) {
            dir = Objects.requireNonNull(v, "dir");
            return this;
        }

        public Builder baseDomain(String v) {
            baseDomain = Objects.requireNonNull(v, "baseDomain");
            return this;
        }

        public Builder apps(int v) {
            apps = v;
            return this;
        }

        public Builder foreground(boolean v) {
            foreground = v;
            return this;
        }

        /** Pins one component port (see {@link DevOptions#ports()}). */
        public Builder port(String name, int port) {
            ports.put(Objects.requireNonNull(name, "name"), port);
            return this;
        }

        public Builder readyTimeout(Duration v) {
            readyTimeout = Objects.requireNonNull(v, "readyTimeout");
            return this;
        }

        public DevOptions build() {
            return new DevOptions(dir.toAbsolutePath().normalize(), baseDomain.toLowerCase(java.util.Locale.ROOT),
                    apps, foreground, ports, readyTimeout);
        }
    }
}
