package dev.atlas.dstack.auth;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The webhook the dstack KMS calls before releasing keys, answering as auth-simple does:
 * {@code GET /} (the fields the KMS requires), {@code POST /bootAuth/app}, {@code POST /bootAuth/kms}, plus
 * {@code GET /metrics}. The config file is checked on every request, so an edit takes effect on the next request
 * (once the file has settled, {@link Builder#configSettle}) and a broken file denies everything (auth-simple's
 * defaults) until it is fixed; a settled version is parsed once ({@link ConfigFile}).
 *
 * <p>Every decision writes one audit line (JSON on the log stream) with the request's ids, device id included,
 * the decision, the reason and the SHA-256 of the config file that decided.
 */
public final class AuthServer implements AutoCloseable {
    /** Largest request body read. */
    public static final int MAX_BODY = 1 << 20;
    /** Environment variable for the settle window in milliseconds (when the builder does not set one). */
    public static final String SETTLE_VARIABLE = "AUTH_CONFIG_SETTLE_MS";
    private static final ObjectMapper JSON = AuthConfig.JSON;

    private final Path configPath;
    private final ConfigFile configFile;
    private final String settleWarning;
    private final String host;
    private final int requestedPort;
    private final BootAuthorizer.Mode mode;
    private final MockPolicy mock;
    private final Map<String, String> env;
    private final PrintStream log;
    private final Clock clock;
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final AtomicInteger configOk = new AtomicInteger(1);
    private final AtomicReference<String> lastConfigError = new AtomicReference<>();
    private HttpServer server;
    private ExecutorService executor;

    private AuthServer(Builder b) {
        this.configPath = b.configPath;
        this.host = b.host;
        this.requestedPort = b.port;
        this.mode = b.mode;
        this.mock = b.mock;
        this.env = Map.copyOf(b.env);
        this.log = b.log;
        this.clock = b.clock;
        Duration settle = b.settle;
        String warning = null;
        if (settle == null) {
            settle = ConfigFile.DEFAULT_SETTLE;
            String v = env.get(SETTLE_VARIABLE);
            if (v != null && !v.isBlank()) {
                try {
                    settle = checkSettle(Duration.ofMillis(Long.parseLong(v.strip())));
                } catch (IllegalArgumentException e) { // NumberFormatException included
                    warning = SETTLE_VARIABLE + "=" + v.strip() + " is not a whole number of milliseconds from "
                            + ConfigFile.MIN_SETTLE.toMillis() + " to " + ConfigFile.MAX_SETTLE.toMillis()
                            + "; using " + ConfigFile.DEFAULT_SETTLE.toMillis();
                }
            }
        }
        this.settleWarning = warning;
        Duration maxWait = b.maxWait != null ? b.maxWait
                : settle.multipliedBy(10).compareTo(Duration.ofSeconds(1)) > 0 ? settle.multipliedBy(10) : Duration.ofSeconds(1);
        if (maxWait.compareTo(settle) < 0) {
            throw new IllegalArgumentException("the config max wait (" + maxWait.toMillis()
                    + " ms) must be at least the settle window (" + settle.toMillis() + " ms)");
        }
        this.configFile = b.ticker != null
                ? new ConfigFile(b.configPath, settle, maxWait, b.ticker, b.sleeper)
                : ConfigFile.system(b.configPath, settle, maxWait);
        Gauge.builder("dstack.auth.config.ok", configOk, AtomicInteger::get)
                .description("1 when the last read of the config file parsed, 0 when every request is denied")
                .register(registry);
    }

    /** A server for the given config file (auth-simple's {@code AUTH_CONFIG_PATH}). */
    public static Builder builder(Path configPath) {
        return new Builder(configPath);
    }

    /** Starts listening. */
    public AuthServer start() throws IOException {
        server = HttpServer.create(new InetSocketAddress(host, requestedPort), 0);
        executor = Executors.newVirtualThreadPerTaskExecutor();
        server.setExecutor(executor);
        server.createContext("/", this::handle);
        server.start();
        logLine("info", "auth_server_started", g -> {
            g.put("listen", host + ":" + port());
            g.put("config", configPath.toString());
            g.put("mode", modeName());
        });
        if (settleWarning != null) {
            logLine("warn", "config_settle", g -> g.put("detail", settleWarning));
        }
        if (mock == null) {
            loadConfig(); // a missing or broken file is logged (config_error) and the gauge set before any request
        } else {
            logLine("warn", "mock_policy", g -> g.put("detail", "mock policy " + mock.wireName()
                    + ": decisions do not come from the config file; never use this in production"));
        }
        return this;
    }

    /** The bound port. */
    public int port() {
        return server.getAddress().getPort();
    }

    /** The Prometheus text exposition. */
    public String scrapeMetrics() {
        return registry.scrape();
    }

    static Duration checkSettle(Duration d) {
        Objects.requireNonNull(d, "settle");
        if (d.compareTo(ConfigFile.MIN_SETTLE) < 0 || d.compareTo(ConfigFile.MAX_SETTLE) > 0) {
            throw new IllegalArgumentException("the config settle window must be from " + ConfigFile.MIN_SETTLE.toMillis()
                    + " ms to " + ConfigFile.MAX_SETTLE.toMillis() + " ms, got " + d.toMillis() + " ms");
        }
        return d;
    }

    /** How many times the config file was read and parsed (a settled version is parsed once). */
    long configParses() {
        return configFile.parses();
    }

    private String modeName() {
        return mock != null ? "mock:" + mock.wireName() : mode == BootAuthorizer.Mode.STRICT ? "strict" : "compatible";
    }

    @Override
    public void close() {
        if (server != null) {
            server.stop(0);
        }
        if (executor != null) {
            executor.shutdownNow();
        }
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getRawPath();
            String method = ex.getRequestMethod();
            if (path.equals("/") && method.equals("GET")) {
                info(ex);
            } else if (path.equals("/bootAuth/app") && method.equals("POST")) {
                boot(ex, false);
            } else if (path.equals("/bootAuth/kms") && method.equals("POST")) {
                boot(ex, true);
            } else if (path.equals("/metrics") && method.equals("GET")) {
                send(ex, 200, "text/plain; version=0.0.4; charset=utf-8",
                        registry.scrape().getBytes(StandardCharsets.UTF_8));
            } else {
                send(ex, 404, "text/plain; charset=UTF-8", "404 Not Found".getBytes(StandardCharsets.UTF_8));
            }
        } catch (RuntimeException e) {
            // Never leak a stack trace; the KMS fails closed on a non-2xx.
            logLine("error", "handler_error", g -> g.put("detail", String.valueOf(e)));
            if (ex.getResponseCode() == -1) {
                // auth-simple's shape for a failing handler; the KMS fails closed on any non-2xx.
                ObjectNode o = JSON.createObjectNode();
                o.put("status", "error");
                o.put("message", "internal error");
                sendJson(ex, 500, o);
            }
        }
    }

    private AuthConfig.Loaded loadConfig() {
        AuthConfig.Loaded loaded = configFile.load(); // a settled version only (see ConfigFile)
        configOk.set(loaded.ok() ? 1 : 0);
        String key = loaded.ok() ? null : loaded.error() + "|" + loaded.sha256();
        String before = lastConfigError.getAndSet(key);
        if (key != null && !key.equals(before)) {
            logLine("error", "config_error", g -> {
                g.put("detail", "failed to load config: " + loaded.error());
                g.put("config_sha256", loaded.sha256());
                g.put("effect", "all defaults: every request is denied");
            });
        } else if (key == null && before != null) {
            logLine("info", "config_ok", g -> g.put("config_sha256", loaded.sha256()));
        }
        return loaded;
    }

    private void info(HttpExchange ex) throws IOException {
        ObjectNode o = JSON.createObjectNode();
        o.put("status", "ok");
        if (mock != null) {
            String impl = env.getOrDefault("MOCK_APP_IMPLEMENTATION", AuthConfig.ZERO_ADDRESS);
            o.put("kmsContractAddr", env.getOrDefault("KMS_CONTRACT_ADDR", MockPolicy.DEFAULT_KMS_CONTRACT));
            o.put("ethRpcUrl", env.getOrDefault("ETH_RPC_URL", ""));
            o.put("gatewayAppId", env.getOrDefault("MOCK_GATEWAY_APP_ID", MockPolicy.DEFAULT_GATEWAY_APP_ID));
            long chain;
            try {
                chain = Long.parseLong(env.getOrDefault("MOCK_CHAIN_ID", "1337"));
            } catch (NumberFormatException e) {
                chain = 1337;
            }
            o.put("chainId", chain);
            o.put("appAuthImplementation", impl);
            o.put("appImplementation", impl);
            o.put("note", mock.note(env));
        } else {
            AuthConfig c = loadConfig().config();
            o.put("kmsContractAddr", c.kmsContractAddr());
            o.put("gatewayAppId", c.gatewayAppId());
            o.set("chainId", c.chainId());
            o.put("appAuthImplementation", c.appImplementation());
            o.put("appImplementation", c.appImplementation());
        }
        sendJson(ex, 200, o);
    }

    private void boot(HttpExchange ex, boolean kms) throws IOException {
        String endpoint = kms ? "kms" : "app";
        byte[] body;
        try (InputStream in = ex.getRequestBody()) {
            body = in.readNBytes(MAX_BODY + 1);
        }
        if (body.length > MAX_BODY) {
            invalid(endpoint, "request body larger than " + MAX_BODY + " bytes");
            sendJson(ex, 413, decisionJson(BootDecision.deny("request too large", "")));
            return;
        }
        JsonNode n;
        try {
            n = JSON.readTree(body);
        } catch (IOException e) {
            invalid(endpoint, "malformed JSON");
            send(ex, 400, "text/plain; charset=UTF-8", "Malformed JSON in request body".getBytes(StandardCharsets.UTF_8));
            return;
        }
        BootInfo info;
        try {
            info = BootInfo.from(n);
        } catch (BootInfo.InvalidBootInfo e) {
            invalid(endpoint, e.getMessage());
            sendJson(ex, 400, e.body());
            return;
        }
        if (mode == BootAuthorizer.Mode.STRICT && mock == null) {
            String problem = info.strictProblem();
            if (problem != null) {
                invalid(endpoint, problem);
                sendJson(ex, 400, decisionJson(BootDecision.deny("invalid authorization request: " + problem, "")));
                return;
            }
        }
        BootDecision d;
        String sha = "none";
        String configError = null;
        try {
            if (mock != null) {
                d = mock.decide(kms, info, env);
            } else {
                AuthConfig.Loaded l = loadConfig();
                sha = l.sha256();
                configError = l.error();
                d = kms ? BootAuthorizer.kms(l.config(), info, mode) : BootAuthorizer.app(l.config(), info, mode);
            }
        } catch (RuntimeException e) {
            d = BootDecision.deny(Objects.toString(e.getMessage(), e.getClass().getSimpleName()), "");
        }
        audit(endpoint, info, d, sha, configError);
        sendJson(ex, 200, decisionJson(d));
    }

    private static ObjectNode decisionJson(BootDecision d) {
        ObjectNode o = JSON.createObjectNode();
        o.put("isAllowed", d.isAllowed());
        o.put("reason", d.reason());
        o.put("gatewayAppId", d.gatewayAppId());
        return o;
    }

    private void invalid(String endpoint, String why) {
        Counter.builder("dstack.auth.invalid.requests").tag("endpoint", endpoint)
                .description("requests refused with 400/413 before any decision").register(registry).increment();
        logLine("warn", "boot_auth_invalid", g -> {
            g.put("endpoint", endpoint);
            g.put("detail", why);
        });
    }

    private void audit(String endpoint, BootInfo b, BootDecision d, String sha, String configError) {
        String reasonTag = mock != null ? "mock" : BootAuthorizer.REASONS.contains(d.reason()) ? d.reason() : "other";
        Counter.builder("dstack.auth.decisions").tag("endpoint", endpoint).tag("allowed", Boolean.toString(d.isAllowed()))
                .tag("reason", reasonTag).description("boot decisions").register(registry).increment();
        logLine(d.isAllowed() ? "info" : "warn", "boot_auth", g -> {
            g.put("endpoint", endpoint);
            g.put("app_id", b.appId());
            g.put("compose_hash", b.composeHash());
            g.put("instance_id", b.instanceId());
            g.put("device_id", b.deviceId());
            g.put("mr_aggregated", b.mrAggregated());
            g.put("os_image_hash", b.osImageHash());
            g.put("tcb_status", b.tcbStatus());
            var adv = g.putArray("advisory_ids");
            b.advisoryIds().forEach(adv::add);
            g.put("tee_variant", b.teeVariant());
            g.put("allowed", d.isAllowed());
            g.put("reason", d.reason());
            g.put("gateway_app_id", d.gatewayAppId());
            g.put("config_sha256", sha);
            if (configError != null) {
                g.put("config_error", configError);
            }
            g.put("mode", modeName());
        });
    }

    private interface Fields {
        void put(ObjectNode g);
    }

    private void logLine(String level, String event, Fields f) {
        if (log == null) {
            return;
        }
        ObjectNode o = JSON.createObjectNode();
        o.put("ts", Instant.now(clock).toString());
        o.put("level", level);
        o.put("event", event);
        f.put(o);
        String line;
        try {
            line = JSON.writeValueAsString(o);
        } catch (IOException e) {
            return;
        }
        synchronized (log) {
            log.println(line);
        }
    }

    private static void sendJson(HttpExchange ex, int status, JsonNode body) throws IOException {
        send(ex, status, "application/json", JSON.writeValueAsBytes(body));
    }

    private static void send(HttpExchange ex, int status, String type, byte[] body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(status, body.length);
        try (OutputStream o = ex.getResponseBody()) {
            o.write(body);
        }
    }

    /** Builder. */
    public static final class Builder {
        private final Path configPath;
        private String host = "0.0.0.0";
        private int port = 3000;
        private BootAuthorizer.Mode mode = BootAuthorizer.Mode.COMPATIBLE;
        private MockPolicy mock;
        private boolean production;
        private Map<String, String> env = Map.of();
        private PrintStream log = System.out;
        private Clock clock = Clock.systemUTC();
        private Duration settle;
        private Duration maxWait;
        private ConfigFile.Ticker ticker;
        private ConfigFile.Sleeper sleeper;

        private Builder(Path configPath) {
            this.configPath = Objects.requireNonNull(configPath);
        }

        /** Listen address (default 0.0.0.0, as auth-simple under Bun). */
        public Builder host(String h) {
            host = Objects.requireNonNull(h, "host");
            return this;
        }

        /** Port (default 3000; 0 for any free port). */
        public Builder port(int p) {
            if (p < 0 || p > 65535) {
                throw new IllegalArgumentException("port out of range: " + p);
            }
            port = p;
            return this;
        }

        /** Quirk handling (default {@link BootAuthorizer.Mode#COMPATIBLE}). */
        public Builder mode(BootAuthorizer.Mode m) {
            mode = Objects.requireNonNull(m, "mode");
            return this;
        }

        /** Test mode: decisions from an auth-mock policy instead of the config file. */
        public Builder mockPolicy(MockPolicy p) {
            mock = p;
            return this;
        }

        /** Production: refuses to build with a mock policy. */
        public Builder production(boolean p) {
            production = p;
            return this;
        }

        /** The MOCK_* / KMS_CONTRACT_ADDR / ETH_RPC_URL variables for the mock mode. */
        public Builder environment(Map<String, String> e) {
            env = Map.copyOf(e);
            return this;
        }

        /** Where log and audit lines go (default {@code System.out}); null for none. */
        public Builder log(PrintStream out) {
            log = out;
            return this;
        }

        /** The clock for log timestamps only (no decision depends on time). */
        public Builder clock(Clock c) {
            clock = Objects.requireNonNull(c, "clock");
            return this;
        }

        /**
         * How long the config file must stay unchanged (identity, size, modification time) before a request is
         * decided on it: a writer that rewrites the file in place and finishes within this window never has a
         * half-written file decide. Default 100 ms, or {@value AuthServer#SETTLE_VARIABLE} from {@link #environment};
         * 10 ms to 5 s.
         */
        public Builder configSettle(Duration d) {
            settle = checkSettle(d);
            return this;
        }

        /**
         * How long a request waits for a changing config file to settle before it is denied (default the larger
         * of 1 s and ten settle windows; at most 60 s, at least the settle window).
         */
        public Builder configMaxWait(Duration d) {
            Objects.requireNonNull(d, "maxWait");
            if (d.isNegative() || d.compareTo(ConfigFile.MAX_WAIT_LIMIT) > 0) {
                throw new IllegalArgumentException("the config max wait must be from 0 to "
                        + ConfigFile.MAX_WAIT_LIMIT.toSeconds() + " s, got " + d.toMillis() + " ms");
            }
            maxWait = d;
            return this;
        }

        /** Tests: the clock and the wait of the settle logic. */
        Builder configTiming(ConfigFile.Ticker t, ConfigFile.Sleeper s) {
            ticker = Objects.requireNonNull(t);
            sleeper = Objects.requireNonNull(s);
            return this;
        }

        /** @throws IllegalStateException when a mock policy is combined with production mode */
        public AuthServer build() {
            if (mock != null && production) {
                throw new IllegalStateException("a mock policy is refused in production mode");
            }
            return new AuthServer(this);
        }
    }
}
