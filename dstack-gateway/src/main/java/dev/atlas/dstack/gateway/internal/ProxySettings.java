package dev.atlas.dstack.gateway.internal;

import dev.atlas.dstack.gateway.GatewayConfig;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * What {@link ProxyServer} reads from {@code [core.proxy]} and {@code [core.debug]} (spec §3.1, §3.5), as one
 * immutable value with dstack's defaults, so the proxy and its tests do not need a whole gateway.toml.
 *
 * @param listenAddr               {@code listen_addr}
 * @param listenPorts              {@code listen_port} (port 0 binds an ephemeral port, for tests)
 * @param bufferSize               {@code buffer_size}: the relay's read buffer size hint
 * @param inboundPpEnabled         {@code inbound_pp_enabled}: every inbound connection starts with a PROXY header
 * @param tlsVersions              {@code tls_versions}: "1.2" and/or "1.3"
 * @param connect                  {@code timeouts.connect}
 * @param handshake                {@code timeouts.handshake}: ClientHello sniffing, then the TLS handshake
 * @param ppHeader                 {@code timeouts.pp_header}
 * @param dataTimeoutEnabled       {@code timeouts.data_timeout_enabled}: idle, write and shutdown apply
 * @param idle                     {@code timeouts.idle}: no byte in either direction
 * @param write                    {@code timeouts.write}: one write not completed
 * @param shutdown                 {@code timeouts.shutdown}: after one side ended, for the other to end
 * @param total                    {@code timeouts.total}: a connection's whole life
 * @param insecureLocalhostBackend {@code core.debug.insecure_localhost_backend}: id {@code localhost} → 127.0.0.1
 * @param certReloadInterval       how often the static certificate files are checked for changes (ours)
 */
public record ProxySettings(
        InetAddress listenAddr,
        List<Integer> listenPorts,
        int bufferSize,
        boolean inboundPpEnabled,
        List<String> tlsVersions,
        Duration connect,
        Duration handshake,
        Duration ppHeader,
        boolean dataTimeoutEnabled,
        Duration idle,
        Duration write,
        Duration shutdown,
        Duration total,
        boolean insecureLocalhostBackend,
        Duration certReloadInterval) {

    public ProxySettings {
        Objects.requireNonNull(listenAddr, "listenAddr");
        listenPorts = List.copyOf(listenPorts);
        if (listenPorts.isEmpty()) {
            throw new IllegalArgumentException("core.proxy.listen_port: no port configured");
        }
        for (int p : listenPorts) {
            if (p < 0 || p > 0xFFFF) {
                throw new IllegalArgumentException("core.proxy.listen_port: out of range 0..65535: " + p);
            }
        }
        if (bufferSize < 1024 || bufferSize > 16 * 1024 * 1024) {
            throw new IllegalArgumentException("core.proxy.buffer_size: out of range 1024..16777216: " + bufferSize);
        }
        tlsVersions = List.copyOf(tlsVersions);
        positive(connect, "connect");
        positive(handshake, "handshake");
        positive(ppHeader, "pp_header");
        positive(idle, "idle");
        positive(write, "write");
        positive(shutdown, "shutdown");
        positive(total, "total");
        positive(certReloadInterval, "cert_reload_interval");
    }

    private static void positive(Duration d, String name) {
        Objects.requireNonNull(d, name);
        if (d.isZero() || d.isNegative()) {
            throw new IllegalArgumentException("core.proxy.timeouts." + name + ": must be positive: " + d);
        }
    }

    /** The proxy's part of a loaded {@code gateway.toml}. */
    public static ProxySettings from(GatewayConfig config) {
        GatewayConfig.Proxy p = config.proxy();
        GatewayConfig.Timeouts t = p.timeouts();
        return builder()
                .listenAddr(p.listenAddr()).listenPorts(p.listenPorts()).bufferSize(p.bufferSize())
                .inboundPpEnabled(p.inboundPpEnabled()).tlsVersions(p.tlsVersions())
                .connect(t.connect()).handshake(t.handshake()).ppHeader(t.ppHeader())
                .dataTimeoutEnabled(t.dataTimeoutEnabled()).idle(t.idle()).write(t.write()).shutdown(t.shutdown())
                .total(t.total())
                .insecureLocalhostBackend(config.debug().insecureLocalhostBackend())
                .build();
    }

    /** dstack's defaults (§3.5) on 0.0.0.0:8443. */
    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        return new Builder()
                .listenAddr(listenAddr).listenPorts(listenPorts).bufferSize(bufferSize)
                .inboundPpEnabled(inboundPpEnabled).tlsVersions(tlsVersions)
                .connect(connect).handshake(handshake).ppHeader(ppHeader)
                .dataTimeoutEnabled(dataTimeoutEnabled).idle(idle).write(write).shutdown(shutdown).total(total)
                .insecureLocalhostBackend(insecureLocalhostBackend).certReloadInterval(certReloadInterval);
    }

    public static final class Builder {
        private InetAddress listenAddr = InetAddress.ofLiteral("0.0.0.0");
        private List<Integer> listenPorts = List.of(8443);
        private int bufferSize = 8192;
        private boolean inboundPpEnabled;
        private List<String> tlsVersions = List.of("1.2");
        private Duration connect = Duration.ofSeconds(5);
        private Duration handshake = Duration.ofSeconds(5);
        private Duration ppHeader = Duration.ofSeconds(5);
        private boolean dataTimeoutEnabled = true;
        private Duration idle = Duration.ofMinutes(10);
        private Duration write = Duration.ofSeconds(5);
        private Duration shutdown = Duration.ofSeconds(5);
        private Duration total = Duration.ofHours(5);
        private boolean insecureLocalhostBackend;
        private Duration certReloadInterval = Duration.ofSeconds(10);

        private Builder() {}

        public Builder listenAddr(InetAddress v) { listenAddr = v; return this; }
        public Builder listenPorts(List<Integer> v) { listenPorts = v; return this; }
        public Builder bufferSize(int v) { bufferSize = v; return this; }
        public Builder inboundPpEnabled(boolean v) { inboundPpEnabled = v; return this; }
        public Builder tlsVersions(List<String> v) { tlsVersions = v; return this; }
        public Builder connect(Duration v) { connect = v; return this; }
        public Builder handshake(Duration v) { handshake = v; return this; }
        public Builder ppHeader(Duration v) { ppHeader = v; return this; }
        public Builder dataTimeoutEnabled(boolean v) { dataTimeoutEnabled = v; return this; }
        public Builder idle(Duration v) { idle = v; return this; }
        public Builder write(Duration v) { write = v; return this; }
        public Builder shutdown(Duration v) { shutdown = v; return this; }
        public Builder total(Duration v) { total = v; return this; }
        public Builder insecureLocalhostBackend(boolean v) { insecureLocalhostBackend = v; return this; }
        public Builder certReloadInterval(Duration v) { certReloadInterval = v; return this; }

        /** Every timeout of §3.5 at once (tests use a few hundred milliseconds). */
        public Builder allTimeouts(Duration v) {
            connect = v; handshake = v; ppHeader = v; idle = v; write = v; shutdown = v;
            return this;
        }

        public ProxySettings build() {
            return new ProxySettings(listenAddr, listenPorts, bufferSize, inboundPpEnabled, tlsVersions, connect,
                    handshake, ppHeader, dataTimeoutEnabled, idle, write, shutdown, total, insecureLocalhostBackend,
                    certReloadInterval);
        }
    }
}
