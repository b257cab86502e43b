package dev.atlas.cli;

import dev.atlas.proxy.AtlsProxy;
import dev.atlas.proxy.ProxyConfig;
import dev.atlas.proxy.ProxyConfigReader;
import dev.atlas.proxy.ProxyConfig.Setting;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code atlas proxy}: the WebSocket-to-TCP proxy for browser aTLS clients (Atlas-compatible environment). */
@Command(name = "proxy", mixinStandardHelpOptions = true,
        description = {"Run the WebSocket-to-TCP proxy that carries browser aTLS clients' TLS bytes to allowlisted "
                + "targets (drop-in for Atlas's proxy: same ATLS_PROXY_* environment, same framing).",
            "Settings come from the environment, then --config FILE (KEY=VALUE, the same names), then these flags. "
                + "The bearer token is read from ATLS_PROXY_TOKEN or a file, never from a flag. "
                + "One JSON log line per event on standard output; see docs/proxy.md."},
        footer = {"", "Example: ATLS_PROXY_ALLOWLIST=127.0.0.1:8443 atlas proxy",
            "Signals: SIGTERM/SIGINT drain open tunnels (ATLS_PROXY_DRAIN_TIMEOUT), then close the rest with 1001."})
final class ProxyCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--config", paramLabel = "FILE", description = "KEY=VALUE file with ATLS_PROXY_* settings.")
    Path config;

    @Option(names = "--listen", paramLabel = "HOST:PORT", description = "ATLS_PROXY_LISTEN (default 127.0.0.1:9000).")
    String listen;

    @Option(names = "--target", paramLabel = "HOST:PORT",
            description = "ATLS_PROXY_TARGET: default target (default 127.0.0.1:8443; empty: none).")
    String target;

    @Option(names = "--allowlist", paramLabel = "LIST", description = "ATLS_PROXY_ALLOWLIST: host:port,... (required).")
    String allowlist;

    @Option(names = "--allowed-cidrs", paramLabel = "LIST", description = "ATLS_PROXY_ALLOWED_CIDRS.")
    String allowedCidrs;

    @Option(names = "--token-file", paramLabel = "FILE", description = "ATLS_PROXY_TOKEN_FILE.")
    String tokenFile;

    @Option(names = "--allowed-origins", paramLabel = "LIST", description = "ATLS_PROXY_ALLOWED_ORIGINS.")
    String allowedOrigins;

    @Option(names = "--tls-cert", paramLabel = "FILE", description = "ATLS_PROXY_TLS_CERT (wss://).")
    String tlsCert;

    @Option(names = "--tls-key", paramLabel = "FILE", description = "ATLS_PROXY_TLS_KEY (wss://).")
    String tlsKey;

    @Option(names = "--admin-listen", paramLabel = "HOST:PORT", description = "ATLS_PROXY_ADMIN_LISTEN.")
    String adminListen;

    @Option(names = "--trusted-proxies", paramLabel = "LIST", description = "ATLS_PROXY_TRUSTED_PROXIES.")
    String trustedProxies;

    @Option(names = "--max-tunnels", paramLabel = "N", description = "ATLS_PROXY_MAX_TUNNELS (default 10000).")
    String maxTunnels;

    @Option(names = "--max-tunnels-per-client", paramLabel = "N",
            description = "ATLS_PROXY_MAX_TUNNELS_PER_CLIENT (default 64).")
    String maxTunnelsPerClient;

    @Option(names = "--rate", paramLabel = "PER_SECOND", description = "ATLS_PROXY_RATE_PER_CLIENT (default 10).")
    String rate;

    @Option(names = "--burst", paramLabel = "N", description = "ATLS_PROXY_RATE_BURST (default 40).")
    String burst;

    @Option(names = "--max-frame", paramLabel = "SIZE", description = "ATLS_PROXY_MAX_FRAME_BYTES (default 1MiB).")
    String maxFrame;

    @Option(names = "--max-message", paramLabel = "SIZE", description = "ATLS_PROXY_MAX_MESSAGE_BYTES (default 64MiB).")
    String maxMessage;

    @Option(names = "--idle-timeout", paramLabel = "DURATION", description = "ATLS_PROXY_IDLE_TIMEOUT (default 300s).")
    String idleTimeout;

    @Option(names = "--connect-timeout", paramLabel = "DURATION",
            description = "ATLS_PROXY_CONNECT_TIMEOUT (default 10s).")
    String connectTimeout;

    @Option(names = "--handshake-timeout", paramLabel = "DURATION",
            description = "ATLS_PROXY_HANDSHAKE_TIMEOUT (default 10s).")
    String handshakeTimeout;

    @Option(names = "--drain-timeout", paramLabel = "DURATION", description = "ATLS_PROXY_DRAIN_TIMEOUT (default 30s).")
    String drainTimeout;

    @Option(names = "--worker-threads", paramLabel = "N", description = "ATLS_PROXY_WORKER_THREADS (default: cores).")
    String workerThreads;

    @Option(names = "--check", description = "Validate the settings, print them normalized, and exit.")
    boolean check;

    Map<String, String> overrides() {
        Map<String, String> m = new LinkedHashMap<>();
        put(m, Setting.LISTEN, listen);
        put(m, Setting.TARGET, target);
        put(m, Setting.ALLOWLIST, allowlist);
        put(m, Setting.ALLOWED_CIDRS, allowedCidrs);
        put(m, Setting.TOKEN_FILE, tokenFile);
        put(m, Setting.ALLOWED_ORIGINS, allowedOrigins);
        put(m, Setting.TLS_CERT, tlsCert);
        put(m, Setting.TLS_KEY, tlsKey);
        put(m, Setting.ADMIN_LISTEN, adminListen);
        put(m, Setting.TRUSTED_PROXIES, trustedProxies);
        put(m, Setting.MAX_TUNNELS, maxTunnels);
        put(m, Setting.MAX_TUNNELS_PER_CLIENT, maxTunnelsPerClient);
        put(m, Setting.RATE_PER_CLIENT, rate);
        put(m, Setting.RATE_BURST, burst);
        put(m, Setting.MAX_FRAME_BYTES, maxFrame);
        put(m, Setting.MAX_MESSAGE_BYTES, maxMessage);
        put(m, Setting.IDLE_TIMEOUT, idleTimeout);
        put(m, Setting.CONNECT_TIMEOUT, connectTimeout);
        put(m, Setting.HANDSHAKE_TIMEOUT, handshakeTimeout);
        put(m, Setting.DRAIN_TIMEOUT, drainTimeout);
        put(m, Setting.WORKER_THREADS, workerThreads);
        return m;
    }

    private static void put(Map<String, String> m, Setting s, String v) {
        if (v != null) {
            m.put(s.env(), v);
        }
    }

    @Override
    public Integer call() throws Exception {
        ProxyConfig c;
        try {
            c = ProxyConfigReader.load(System.getenv(), config, overrides());
        } catch (IllegalArgumentException e) {
            spec.commandLine().getErr().println("atlas proxy: " + e.getMessage());
            return Main.USAGE;
        }
        if (check) {
            try {
                AtlsProxy.check(c); // what start() validates before binding: TLS files, listen addresses
            } catch (java.io.IOException e) {
                spec.commandLine().getErr().println("atlas proxy: " + e.getMessage());
                return Main.USAGE;
            }
            StringBuilder out = new StringBuilder("# atlas proxy: settings valid; normalized (environment, then "
                    + (config == null ? "no --config file" : "--config " + config) + ", then flags)\n");
            c.toSettings().forEach((k, v) -> out.append(k).append('=').append(v).append('\n'));
            spec.commandLine().getOut().print(out);
            spec.commandLine().getOut().flush();
            return 0;
        }
        AtlsProxy proxy;
        try {
            proxy = AtlsProxy.builder(c).build().start();
        } catch (java.io.IOException e) {
            spec.commandLine().getErr().println("atlas proxy: " + e.getMessage());
            return Main.USAGE;
        }
        return Services.runUntilShutdown(proxy, "atls-proxy-shutdown");
    }
}
