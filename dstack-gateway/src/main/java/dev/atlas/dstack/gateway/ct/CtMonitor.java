package dev.atlas.dstack.gateway.ct;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpServer;
import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.CollateralSource;
import dev.atlas.tdx.QuoteVerifier;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * The certificate-transparency monitor of a dstack gateway's domain (spec §4, with Q4-Q6 settled; see
 * {@code docs/dstack-ct-monitor.md}). One {@link #checkOnce() check}:
 * <ol>
 *   <li>reads {@code https://gateway.<base>[:port]/.dstack/acme-info} ({@code hist_keys} optional);</li>
 *   <li>verifies every {@code quoted_hist_keys} entry with our verifier in process (or a dstack-verifier): the
 *       quote and its event log (RTMR3 replayed), report data {@code SHA-512("zt-cert:" ‖ SPKI)}; then pins the
 *       gateway identity: the attested app id, compose hash and OS image hash must be the expected ones. A key that
 *       does not verify, or is attested by another app, is an alarm, never skipped in silence;</li>
 *   <li>lists crt.sh's certificates for the domain ({@code ?q=<domain>&output=json}), and for each one after the
 *       persisted cursor, in ascending id order and in pages, fetches its PEM ({@code ?d=<id>}) and compares its
 *       DER SubjectPublicKeyInfo with the verified keys: an unknown key is an alarm.</li>
 * </ol>
 * An alarm is raised once (a JSON line to the alert sink, a POST to the webhook, the alarm counter) and stays
 * outstanding (status {@link CheckResult.Status#ALARM}) until resolved or {@link #acknowledge acknowledged}; the
 * state file keeps the cursor and the outstanding alarms across restarts. A source that cannot be read makes the
 * check {@link CheckResult.Status#UNCHECKED} and the cursor does not move past anything unchecked. Time comes from
 * the builder's {@link Clock}, read once per check. Thread-safe (checks are serialised).
 */
public final class CtMonitor implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("dev.atlas.dstack.gateway.ct");
    private static final Pattern DOMAIN = Pattern.compile(
            "^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\\.)+[a-zA-Z]{2,}$");
    private static final HexFormat HEX = HexFormat.of();
    /** Default crt.sh base URL. */
    public static final URI DEFAULT_CRTSH = URI.create("https://crt.sh");
    /** Default interval between checks of {@link #run()}. */
    public static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(60);

    private final String baseDomain;
    private final String domain;
    private final GatewaySource gateway;
    private final URI crtSh;
    private final HttpFetch http;
    private final KeyVerifier verifier;
    private final Optional<String> expectAppId;
    private final Optional<String> expectComposeHash;
    private final Optional<String> expectOsImage;
    private final Optional<Path> stateFile;
    private final Clock clock;
    private final Consumer<String> alertSink;
    private final Optional<URI> webhook;
    private final MeterRegistry meters;
    private final int maxListBytes;
    private final int pageSize;
    private final Duration interval;
    private final Duration retryDelay;
    private final Sleeper sleeper;
    private final MonitorState state;
    private final HttpServer metricsServer;
    private final AtomicLong lastSuccess = new AtomicLong();
    private final AtomicLong knownKeyCount = new AtomicLong();
    private volatile boolean stopped;
    private volatile long outstandingSnapshot;
    private volatile long cursorSnapshot;

    /** How the loop waits (tests replace it; the default is {@link Thread#sleep(Duration)}). */
    @FunctionalInterface
    public interface Sleeper {
        void sleep(Duration d) throws InterruptedException;
    }

    private CtMonitor(Builder b, KeyVerifier verifier, MonitorState state, GatewaySource gateway)
            throws RaException {
        this.baseDomain = b.baseDomain;
        this.domain = b.domain != null ? b.domain : b.baseDomain;
        this.gateway = gateway;
        this.crtSh = b.crtSh;
        this.http = new HttpFetch(b.timeout);
        this.verifier = verifier;
        this.expectAppId = b.expectAppId;
        this.expectComposeHash = b.expectComposeHash;
        this.expectOsImage = b.expectOsImage;
        this.stateFile = b.stateFile;
        this.clock = b.clock;
        this.alertSink = b.alertSink;
        this.webhook = b.webhook;
        this.maxListBytes = b.maxListBytes;
        this.pageSize = b.pageSize;
        this.interval = b.interval;
        this.retryDelay = b.retryDelay;
        this.sleeper = b.sleeper;
        this.state = state;
        snapshot();
        this.meters = b.meters != null ? b.meters : new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        Gauge.builder("ct.monitor.last.success.timestamp", lastSuccess, AtomicLong::doubleValue).baseUnit("seconds")
                .description("when the last complete check ended (epoch seconds; 0: never)")
                .tag("domain", domain).register(meters);
        Gauge.builder("ct.monitor.outstanding.alarms", this, m -> m.outstandingCount())
                .description("alarms raised and not resolved or acknowledged").tag("domain", domain).register(meters);
        Gauge.builder("ct.monitor.known.keys", knownKeyCount, AtomicLong::doubleValue)
                .description("keys of /acme-info that verified and matched the expected identity")
                .tag("domain", domain).register(meters);
        Gauge.builder("ct.monitor.last.checked.id", this, m -> m.lastCheckedId())
                .description("the crt.sh cursor: every id up to it was checked").tag("domain", domain)
                .register(meters);
        for (String r : List.of("clean", "alarm", "unchecked")) {
            checks(r);
        }
        for (Alert.Kind k : Alert.Kind.values()) {
            alarms(k);
        }
        this.metricsServer = b.metricsAddress.isPresent() ? startMetrics(b.metricsAddress.get()) : null;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The monitored domain (crt.sh query). */
    public String domain() {
        return domain;
    }

    /** The URL of the gateway's {@code /acme-info}. */
    public String acmeInfoUrl() {
        return gateway.url();
    }

    /** The registry the monitor's meters are in. */
    public MeterRegistry meterRegistry() {
        return meters;
    }

    /** The bound address of the metrics endpoint ({@code GET /metrics}), when one was asked for. */
    public Optional<InetSocketAddress> metricsAddress() {
        return Optional.ofNullable(metricsServer).map(HttpServer::getAddress);
    }

    /** Read by the meters without the check's lock (a scrape never waits for a check). */
    private long outstandingCount() {
        return outstandingSnapshot;
    }

    private long lastCheckedId() {
        return cursorSnapshot;
    }

    private void snapshot() {
        outstandingSnapshot = state.entryAlarms.size() + state.keyAlarms.size();
        cursorSnapshot = state.lastChecked;
    }

    private Counter checks(String result) {
        return Counter.builder("ct.monitor.checks").description("checks by result").tag("domain", domain)
                .tag("result", result).register(meters);
    }

    private Counter alarms(Alert.Kind kind) {
        return Counter.builder("ct.monitor.alarms").description("alarms raised (each once)").tag("domain", domain)
                .tag("kind", kind.wireName()).register(meters);
    }

    /**
     * Acknowledges the alarm of crt.sh certificate {@code crtShId} (the operator has dealt with it, for example had
     * it revoked): it is no longer outstanding and never raised again. Persisted.
     *
     * @return whether an outstanding alarm was removed
     */
    public synchronized boolean acknowledge(long crtShId) throws RaException {
        boolean removed = state.entryAlarms.remove(crtShId) != null;
        state.acknowledged.add(crtShId);
        snapshot();
        save();
        return removed;
    }

    /** One check (see the class comment). Never throws for a source failure: that is {@code UNCHECKED}. */
    public synchronized CheckResult checkOnce() {
        Instant now = clock.instant();
        List<Alert> fresh = new ArrayList<>();
        List<String> reasons = new ArrayList<>();
        deliverPending();
        int checkedEntries = 0;
        boolean complete = false;
        Set<String> known = new HashSet<>();
        try {
            known = refreshKeys(now, fresh, reasons);
            if (known != null) {
                LogsOutcome o = checkLogs(known, now, fresh, reasons);
                checkedEntries = o.checked();
                complete = o.complete();
            }
        } catch (RuntimeException e) {
            reasons.add("internal error: " + e);
            LOG.log(System.Logger.Level.ERROR, "ct-monitor check failed", e);
        }
        try {
            save();
        } catch (RaException e) {
            reasons.add(e.detail());
            complete = false;
        }
        snapshot();
        int outstanding = (int) outstandingCount();
        CheckResult.Status status = outstanding > 0 ? CheckResult.Status.ALARM
                : complete ? CheckResult.Status.CLEAN : CheckResult.Status.UNCHECKED;
        if (outstanding > 0) {
            for (ObjectNode a : state.entryAlarms.values()) {
                reasons.add("outstanding: certificate crt.sh id " + a.path("crtsh_id").asLong() + " carries the "
                        + "unattested key " + abbreviate(a.path("public_key").asText()));
            }
            for (ObjectNode a : state.keyAlarms.values()) {
                reasons.add("outstanding: " + a.path("alert").asText() + " " + abbreviate(a.path("public_key")
                        .asText()) + ": " + a.path("detail").asText());
            }
        }
        if (complete) {
            lastSuccess.set(now.getEpochSecond());
        }
        knownKeyCount.set(known == null ? 0 : known.size());
        checks(status.name().toLowerCase(Locale.ROOT)).increment();
        CheckResult r = new CheckResult(status, fresh, reasons, known == null ? 0 : known.size(), checkedEntries,
                state.lastChecked, outstanding, now);
        LOG.log(status == CheckResult.Status.CLEAN ? System.Logger.Level.INFO : System.Logger.Level.WARNING,
                "ct-monitor " + domain + ": " + status + " (" + r.knownKeys() + " attested keys, " + checkedEntries
                + " new certificates checked, cursor " + state.lastChecked + ", " + outstanding + " outstanding"
                + (reasons.isEmpty() ? "" : "; " + String.join("; ", reasons)) + ")");
        return r;
    }

    /** Step 1: the verified keys (hex SPKI), or null when the check cannot go on. */
    private Set<String> refreshKeys(Instant now, List<Alert> fresh, List<String> reasons) {
        AcmeInfo info;
        try {
            info = AcmeInfo.parse(gateway.fetch(), gateway.url());
        } catch (RaException e) {
            reasons.add(e.detail());
            return null;
        }
        Set<String> known = new HashSet<>();
        Set<String> evaluated = new HashSet<>();
        Map<String, Alert> problems = new LinkedHashMap<>();
        boolean incomplete = false;
        for (int i = 0; i < info.quotedKeys().size(); i++) {
            AcmeInfo.QuotedKey k = info.quotedKeys().get(i);
            String spki = k.spkiHex();
            KeyVerifier.Identity id;
            try {
                id = verifier.verify(k.spki(), k.quoteJson(), now);
            } catch (AttestationException e) {
                if (e.kind() == AttestationException.Kind.IO) {
                    reasons.add("quoted_hist_keys[" + i + "] could not be verified: " + e.detail());
                    incomplete = true;
                    continue;
                }
                evaluated.add(spki);
                String reason = e instanceof RaException re ? re.raReason().name() : e.reason().name();
                problems.put(Alert.Kind.UNVERIFIED_KEY.wireName() + ":" + spki, new Alert(Alert.Kind.UNVERIFIED_KEY,
                        domain, spki, Optional.empty(), reason, "quoted_hist_keys[" + i + "] does not verify: "
                        + e.detail(), now));
                continue;
            }
            evaluated.add(spki);
            List<String> mismatches = identityMismatches(id);
            if (!mismatches.isEmpty()) {
                problems.put(Alert.Kind.UNEXPECTED_IDENTITY.wireName() + ":" + spki, new Alert(
                        Alert.Kind.UNEXPECTED_IDENTITY, domain, spki, Optional.empty(),
                        Reason.CT_UNEXPECTED_IDENTITY.name(), "quoted_hist_keys[" + i + "] is attested by another "
                        + "CVM than the expected gateway: " + String.join("; ", mismatches), now));
                continue;
            }
            known.add(spki);
        }
        // reconcile with the outstanding key alarms: new ones are raised, gone ones resolved
        for (Map.Entry<String, Alert> p : problems.entrySet()) {
            if (!state.keyAlarms.containsKey(p.getKey())) {
                state.keyAlarms.put(p.getKey(), p.getValue().toJsonNode());
                raise(p.getValue(), fresh);
            }
        }
        for (Iterator<Map.Entry<String, ObjectNode>> it = state.keyAlarms.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<String, ObjectNode> e = it.next();
            String spki = e.getValue().path("public_key").asText();
            if (!problems.containsKey(e.getKey()) && (evaluated.contains(spki) || !incomplete)) {
                LOG.log(System.Logger.Level.INFO, "ct-monitor " + domain + ": resolved " + e.getKey());
                it.remove();
            }
        }
        if (incomplete) {
            return null;
        }
        if (info.quotedKeys().isEmpty()) {
            reasons.add(gateway.url() + " lists no attested keys: every certificate for " + domain
                    + " is an alarm");
        }
        return known;
    }

    private List<String> identityMismatches(KeyVerifier.Identity id) {
        List<String> m = new ArrayList<>();
        expectAppId.ifPresent(x -> {
            if (!x.equals(id.appId())) {
                m.add("app_id: expected " + x + ", attested " + (id.appId().isEmpty() ? "<none>" : id.appId()));
            }
        });
        expectComposeHash.ifPresent(x -> {
            if (!x.equals(id.composeHash())) {
                m.add("compose_hash: expected " + x + ", attested "
                        + (id.composeHash().isEmpty() ? "<none>" : id.composeHash()));
            }
        });
        expectOsImage.ifPresent(x -> {
            if (id.osImageHash().isEmpty()) {
                m.add("os_image_hash: expected " + x + ", but no measured (os-image-hash event) or verified OS "
                        + "image hash");
            } else if (!x.equals(id.osImageHash().get())) {
                m.add("os_image_hash: expected " + x + ", attested " + id.osImageHash().get());
            }
        });
        if (id.debug()) {
            m.add("the TD is a debug TD (TD attribute DEBUG set: the host can read its memory and key)");
        }
        return m;
    }

    private record LogsOutcome(int checked, boolean complete) {
    }

    /** Step 2: the certificates compared, and whether every one after the cursor was (else the cursor stays on the
     *  last one checked). */
    private LogsOutcome checkLogs(Set<String> known, Instant now, List<Alert> fresh, List<String> reasons) {
        // outstanding certificate alarms whose key is attested by now are resolved
        state.entryAlarms.values().removeIf(a -> {
            boolean ok = known.contains(a.path("public_key").asText());
            if (ok) {
                LOG.log(System.Logger.Level.INFO, "ct-monitor " + domain + ": crt.sh id " + a.path("crtsh_id")
                        .asLong() + " now carries an attested key; alarm resolved");
            }
            return ok;
        });
        URI listUrl = URI.create(base() + "/?q=" + URLEncoder.encode(domain, StandardCharsets.UTF_8)
                + "&output=json");
        List<CrtShEntry> rows;
        try {
            rows = CrtShEntry.parseList(http.get(listUrl, maxListBytes, "crt.sh"), maxListBytes, listUrl.toString());
        } catch (RaException e) {
            reasons.add(e.detail());
            return new LogsOutcome(0, false);
        }
        TreeMap<Long, CrtShEntry> todo = new TreeMap<>();
        for (CrtShEntry e : rows) {
            if (e.id() > state.lastChecked && !state.acknowledged.contains(e.id())) {
                todo.putIfAbsent(e.id(), e);
            }
        }
        int n = 0;
        for (CrtShEntry e : todo.values()) {
            URI pemUrl = URI.create(base() + "/?d=" + e.id());
            byte[] spki;
            try {
                spki = CertificateKey.spkiFromPem(http.get(pemUrl, CertificateKey.MAX_PEM_BYTES, "crt.sh"),
                        pemUrl.toString());
            } catch (RaException ex) {
                reasons.add("crt.sh id " + e.id() + ": " + ex.detail());
                return new LogsOutcome(n, false);
            }
            String hex = HEX.formatHex(spki);
            if (!known.contains(hex) && !state.entryAlarms.containsKey(e.id())) {
                Alert a = new Alert(Alert.Kind.UNKNOWN_KEY, domain, hex, Optional.of(e), Reason.CT_UNKNOWN_KEY.name(),
                        "certificate crt.sh id " + e.id() + " for " + e.nameValue().replace('\n', ' ')
                        + " was issued to a key the gateway never attested (" + gateway.url() + " lists "
                        + known.size() + " verified keys)", now);
                state.entryAlarms.put(e.id(), a.toJsonNode());
                raise(a, fresh);
            }
            state.lastChecked = e.id();
            n++;
            if (n % pageSize == 0) {
                try {
                    save();
                } catch (RaException ex) {
                    reasons.add(ex.detail());
                    return new LogsOutcome(n, false);
                }
            }
        }
        return new LogsOutcome(n, true);
    }

    private String base() {
        String s = crtSh.toString();
        return s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
    }

    private void raise(Alert a, List<Alert> fresh) {
        fresh.add(a);
        alarms(a.kind()).increment();
        String line = a.toJson();
        LOG.log(System.Logger.Level.ERROR, "ct-monitor ALARM " + a.kind().wireName() + " " + a.detail());
        try {
            alertSink.accept(line);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "ct-monitor: the alert sink failed: " + e);
        }
        if (webhook.isPresent()) {
            if (state.pendingWebhook.size() < MonitorState.MAX_PENDING_WEBHOOK) {
                state.pendingWebhook.add(line);
            } else {
                LOG.log(System.Logger.Level.ERROR, "ct-monitor: " + MonitorState.MAX_PENDING_WEBHOOK
                        + " webhook deliveries are pending; this alert is not queued for the webhook");
            }
            deliverPending();
        }
    }

    /** Posts the owed webhook deliveries in order; stops at the first failure (kept for the next check). */
    private void deliverPending() {
        if (webhook.isEmpty()) {
            return;
        }
        while (!state.pendingWebhook.isEmpty()) {
            try {
                http.postJson(webhook.get(), state.pendingWebhook.get(0), 64 * 1024, "webhook");
                state.pendingWebhook.remove(0);
            } catch (RaException e) {
                LOG.log(System.Logger.Level.WARNING, "ct-monitor: webhook delivery failed (kept for a retry, "
                        + state.pendingWebhook.size() + " pending): " + e.detail());
                return;
            }
        }
    }

    private void save() throws RaException {
        if (stateFile.isPresent()) {
            state.save(stateFile.get());
        }
    }

    private static String abbreviate(String hex) {
        return hex.length() <= 24 ? hex : hex.substring(0, 12) + "…" + hex.substring(hex.length() - 12);
    }

    /**
     * Checks every interval until {@link #stop()} or an interrupt. A check that could not complete is retried
     * sooner: after the retry delay, doubling up to the interval.
     *
     * @return the last check's result (null if none ran)
     */
    public CheckResult run() {
        CheckResult last = null;
        Duration backoff = retryDelay;
        LOG.log(System.Logger.Level.INFO, "ct-monitor: monitoring " + domain + " (keys from " + gateway.url()
                + ", CT from " + base() + ", every " + interval + ")");
        while (!stopped && !Thread.currentThread().isInterrupted()) {
            last = checkOnce();
            Duration wait;
            if (last.status() == CheckResult.Status.UNCHECKED) {
                wait = backoff.compareTo(interval) < 0 ? backoff : interval;
                backoff = backoff.multipliedBy(2);
            } else {
                wait = interval;
                backoff = retryDelay;
            }
            if (stopped) {
                break;
            }
            try {
                sleeper.sleep(wait);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        return last;
    }

    /** Ends {@link #run()} after the current check or wait. */
    public void stop() {
        stopped = true;
    }

    /** Stops the loop and the metrics endpoint. */
    @Override
    public void close() {
        stop();
        if (metricsServer != null) {
            metricsServer.stop(0);
        }
    }

    private HttpServer startMetrics(InetSocketAddress address) throws RaException {
        if (!(meters instanceof PrometheusMeterRegistry prom)) {
            throw new RaException(Reason.CONFIG_INVALID, "metrics", "a metrics address needs a "
                    + "PrometheusMeterRegistry (or no registry: the monitor then makes one)");
        }
        try {
            HttpServer s = HttpServer.create(address, 0);
            s.createContext("/metrics", e -> {
                try (e) {
                    if (!"GET".equals(e.getRequestMethod())) {
                        e.sendResponseHeaders(405, -1);
                        return;
                    }
                    byte[] body = prom.scrape().getBytes(StandardCharsets.UTF_8);
                    e.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
                    e.sendResponseHeaders(200, body.length);
                    try (OutputStream o = e.getResponseBody()) {
                        o.write(body);
                    }
                }
            });
            s.createContext("/", e -> {
                try (e) {
                    e.sendResponseHeaders(404, -1);
                }
            });
            s.start();
            LOG.log(System.Logger.Level.INFO, "ct-monitor metrics on http://" + s.getAddress().getHostString() + ":"
                    + s.getAddress().getPort() + "/metrics");
            return s;
        } catch (IOException e) {
            throw new RaException(Reason.CONFIG_INVALID, "metrics", "cannot listen on " + address + " ("
                    + e.getClass().getSimpleName() + ")");
        }
    }

    /** Builder. Required: {@link #gateway}, one verifier choice, and {@link #expectAppId} (or its insecure opt-out). */
    public static final class Builder {
        private String baseDomain;
        private int port = 443;
        private String domain;
        private Optional<InetSocketAddress> connect = Optional.empty();
        private List<X509Certificate> gatewayCas = List.of();
        private URI crtSh = DEFAULT_CRTSH;
        private DstackTdxVerifier verifier;
        private String pccsUrl;
        private X509Certificate insecureRoot;
        private URI verifierUrl;
        private Optional<String> expectAppId = Optional.empty();
        private Optional<String> expectComposeHash = Optional.empty();
        private Optional<String> expectOsImage = Optional.empty();
        private boolean insecureAnyApp;
        private Optional<Path> stateFile = Optional.empty();
        private Clock clock = Clock.systemUTC();
        private Consumer<String> alertSink = line -> {
            System.out.println(line);
            System.out.flush();
        };
        private Optional<URI> webhook = Optional.empty();
        private MeterRegistry meters;
        private Optional<InetSocketAddress> metricsAddress = Optional.empty();
        private Duration timeout = Duration.ofSeconds(30);
        private int maxListBytes = 32 << 20;
        private int maxAcmeInfoBytes = AcmeInfo.MAX_BYTES;
        private int pageSize = 100;
        private Duration interval = DEFAULT_INTERVAL;
        private Duration retryDelay = Duration.ofSeconds(5);
        private Sleeper sleeper = Thread::sleep;

        private Builder() {
        }

        /**
         * The gateway as dstack's monitor takes it: {@code base_domain[:port]}, split at the last {@code :}; the
         * acme-info URL is {@code https://gateway.<base_domain>[:port]}.
         */
        public Builder gateway(String baseDomainAndPort) {
            Objects.requireNonNull(baseDomainAndPort, "gateway");
            int c = baseDomainAndPort.lastIndexOf(':');
            if (c >= 0) {
                String p = baseDomainAndPort.substring(c + 1);
                int n;
                try {
                    n = Integer.parseInt(p);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("gateway " + baseDomainAndPort + ": invalid port number " + p);
                }
                return gateway(baseDomainAndPort.substring(0, c), n);
            }
            return gateway(baseDomainAndPort, 443);
        }

        /** The gateway's base domain (its ZT-domain) and the proxy's TLS port. */
        public Builder gateway(String baseDomain, int port) {
            if (!DOMAIN.matcher(baseDomain).matches()) {
                throw new IllegalArgumentException("gateway base domain " + baseDomain + " is not a domain name");
            }
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException("gateway port " + port + " is not in 1..65535");
            }
            this.baseDomain = baseDomain.toLowerCase(Locale.ROOT);
            this.port = port;
            return this;
        }

        /**
         * The guide's spelling ({@code --gateway-uri https://<gateway-domain>}): a host starting with
         * {@code gateway.} names the gateway itself (the base is the rest), any other host is the base domain; the
         * port is kept; the path must be empty or {@code /}.
         */
        public Builder gatewayUri(URI uri) {
            if (!"https".equalsIgnoreCase(uri.getScheme()) || uri.getHost() == null) {
                throw new IllegalArgumentException("gateway URI " + uri + " must be https://<host>[:port]");
            }
            if (uri.getRawPath() != null && !uri.getRawPath().isEmpty() && !uri.getRawPath().equals("/")
                    || uri.getRawQuery() != null || uri.getRawFragment() != null || uri.getRawUserInfo() != null) {
                throw new IllegalArgumentException("gateway URI " + uri + " must have no path, query or user");
            }
            String host = uri.getHost().toLowerCase(Locale.ROOT);
            String base = host.startsWith("gateway.") ? host.substring("gateway.".length()) : host;
            return gateway(base, uri.getPort() < 0 ? 443 : uri.getPort());
        }

        /** The domain searched in the CT logs (default: the base domain), as crt.sh's {@code q}. */
        public Builder domain(String d) {
            if (!DOMAIN.matcher(d.startsWith("%.") ? d.substring(2) : d).matches()) {
                throw new IllegalArgumentException("domain " + d + " is not a domain name");
            }
            this.domain = d.toLowerCase(Locale.ROOT);
            return this;
        }

        /** Connect to this address instead of resolving {@code gateway.<base>} (SNI and host check unchanged). */
        public Builder connect(InetSocketAddress address) {
            this.connect = Optional.of(address);
            return this;
        }

        /** Trust these CAs for the gateway's TLS certificate instead of the JDK's roots. */
        public Builder gatewayCa(List<X509Certificate> cas) {
            this.gatewayCas = List.copyOf(cas);
            return this;
        }

        /** crt.sh's base URL (default {@link #DEFAULT_CRTSH}). */
        public Builder crtShUrl(URI url) {
            requireHttp(url, "crt.sh URL");
            this.crtSh = url;
            return this;
        }

        /** Our verifier, built by the caller (its clock, quote verifier and collateral source). */
        public Builder verifier(DstackTdxVerifier v) {
            this.verifier = Objects.requireNonNull(v, "verifier");
            return this;
        }

        /** Our verifier with collateral from this PCCS or Intel PCS (cached), Intel's root. */
        public Builder pccsUrl(String url) {
            this.pccsUrl = Objects.requireNonNull(url, "pccs URL");
            return this;
        }

        /**
         * INSECURE, tests and simulated CVMs only: trust this root instead of Intel's (the mock Intel root of
         * atlas-testing). The monitor logs a warning when built.
         */
        public Builder insecureTrustAnchorForTesting(X509Certificate root) {
            this.insecureRoot = Objects.requireNonNull(root, "root");
            return this;
        }

        /** A dstack-verifier service instead of our verifier ({@code POST <url>/verify}). */
        public Builder verifierUrl(URI url) {
            requireHttp(url, "verifier URL");
            this.verifierUrl = url;
            return this;
        }

        /** The gateway's app id (20 bytes, hex): every attested key must come from it. */
        public Builder expectAppId(String hex) {
            this.expectAppId = Optional.of(hexOf(hex, 20, "expected app id"));
            return this;
        }

        /** The gateway's compose hash (32 bytes, hex). */
        public Builder expectComposeHash(String hex) {
            this.expectComposeHash = Optional.of(hexOf(hex, 32, "expected compose hash"));
            return this;
        }

        /** The gateway's OS image hash (32 bytes, hex), compared with the measured {@code os-image-hash} event. */
        public Builder expectOsImage(String hex) {
            this.expectOsImage = Optional.of(hexOf(hex, 32, "expected OS image hash"));
            return this;
        }

        /**
         * INSECURE: accept keys attested by any app (dstack's monitor does, spec Q5); without it
         * {@link #expectAppId} is required. Logged as a warning.
         */
        public Builder insecureAcceptAnyGatewayApp() {
            this.insecureAnyApp = true;
            return this;
        }

        /** Where the cursor and outstanding alarms persist (written atomically); none: memory only. */
        public Builder stateFile(Path file) {
            this.stateFile = Optional.of(file);
            return this;
        }

        public Builder clock(Clock c) {
            this.clock = Objects.requireNonNull(c, "clock");
            return this;
        }

        /** Receives each alert as one JSON line (default: stdout). */
        public Builder alertSink(Consumer<String> sink) {
            this.alertSink = Objects.requireNonNull(sink, "sink");
            return this;
        }

        /** POST each alert's JSON here; a failed delivery is retried at the next check (persisted). */
        public Builder webhook(URI url) {
            requireHttp(url, "webhook URL");
            this.webhook = Optional.of(url);
            return this;
        }

        /** The registry for the meters (default: a new Prometheus registry). */
        public Builder meterRegistry(MeterRegistry r) {
            this.meters = Objects.requireNonNull(r, "registry");
            return this;
        }

        /** Serve {@code GET /metrics} (Prometheus text) on this address (port 0: any). */
        public Builder metricsAddress(InetSocketAddress a) {
            this.metricsAddress = Optional.of(a);
            return this;
        }

        /** Timeout of each HTTP exchange (default 30 s). */
        public Builder timeout(Duration t) {
            if (t.isNegative() || t.isZero()) {
                throw new IllegalArgumentException("timeout must be positive");
            }
            this.timeout = t;
            return this;
        }

        /** Largest crt.sh listing accepted (default 32 MiB). */
        public Builder maxListBytes(int n) {
            if (n < 2) {
                throw new IllegalArgumentException("maxListBytes must be at least 2");
            }
            this.maxListBytes = n;
            return this;
        }

        /** Largest {@code /acme-info} accepted (default and maximum 16 MiB). */
        public Builder maxAcmeInfoBytes(int n) {
            if (n < 2 || n > AcmeInfo.MAX_BYTES) {
                throw new IllegalArgumentException("maxAcmeInfoBytes must be in 2.." + AcmeInfo.MAX_BYTES);
            }
            this.maxAcmeInfoBytes = n;
            return this;
        }

        /** Certificates checked between two saves of the cursor (default 100). */
        public Builder pageSize(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("pageSize must be positive");
            }
            this.pageSize = n;
            return this;
        }

        /** Interval of {@link #run()} (default 60 s). */
        public Builder interval(Duration d) {
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException("interval must be positive");
            }
            this.interval = d;
            return this;
        }

        /** First retry delay after a check that could not complete (default 5 s; doubles up to the interval). */
        public Builder retryDelay(Duration d) {
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException("retry delay must be positive");
            }
            this.retryDelay = d;
            return this;
        }

        public Builder sleeper(Sleeper s) {
            this.sleeper = Objects.requireNonNull(s, "sleeper");
            return this;
        }

        /**
         * @throws RaException {@code CONFIG_INVALID} for a missing or contradictory setting or an unreadable state
         *     file (naming it)
         */
        public CtMonitor build() throws RaException {
            if (baseDomain == null) {
                throw new RaException(Reason.CONFIG_INVALID, "gateway", "the gateway base domain is required");
            }
            int choices = (verifier != null ? 1 : 0) + (pccsUrl != null || insecureRoot != null ? 1 : 0)
                    + (verifierUrl != null ? 1 : 0);
            if (choices > 1) {
                throw new RaException(Reason.CONFIG_INVALID, "verifier", "choose one of: our verifier (pccs URL, "
                        + "trust anchor), a DstackTdxVerifier, or a dstack-verifier URL");
            }
            if (expectAppId.isEmpty() && !insecureAnyApp) {
                throw new RaException(Reason.CONFIG_INVALID, "expect_app_id", "the gateway's app id is required "
                        + "(a key attested by another app must be an alarm); opt out only with "
                        + "insecureAcceptAnyGatewayApp");
            }
            if (insecureAnyApp) {
                LOG.log(System.Logger.Level.WARNING, "INSECURE ct-monitor: keys attested by ANY dstack app are "
                        + "accepted (no --expect-app-id): another app's CVM could obtain a certificate unnoticed");
            }
            KeyVerifier kv;
            HttpFetch http = new HttpFetch(timeout);
            if (verifierUrl != null) {
                kv = new KeyVerifier.Remote(verifierUrl, http);
            } else if (verifier != null) {
                kv = new KeyVerifier.InProcess(verifier);
            } else {
                QuoteVerifier.Builder qv = QuoteVerifier.builder().clock(clock);
                if (insecureRoot != null) {
                    LOG.log(System.Logger.Level.WARNING, "INSECURE ct-monitor: the TDX quotes are verified against "
                            + insecureRoot.getSubjectX500Principal() + ", not Intel's root; development and tests "
                            + "only");
                    qv.insecureTrustAnchorForTesting(insecureRoot);
                }
                CollateralSource cs;
                try {
                    cs = CollateralSource.forUrl(pccsUrl != null ? pccsUrl
                            : dev.atlas.dstack.DstackTdxPolicy.DEFAULT_PCCS_URL, true, clock);
                } catch (IllegalArgumentException e) {
                    throw new RaException(Reason.CONFIG_INVALID, "pccs", e.getMessage());
                }
                kv = new KeyVerifier.InProcess(DstackTdxVerifier.builder().clock(clock).quoteVerifier(qv.build())
                        .collateralSource(cs).build());
            }
            String d = domain != null ? domain : baseDomain;
            MonitorState st = MonitorState.load(stateFile, d);
            GatewaySource gs = new GatewaySource(baseDomain, port, connect, gatewayCas, timeout, maxAcmeInfoBytes);
            return new CtMonitor(this, kv, st, gs);
        }

        private static void requireHttp(URI u, String what) {
            if (u.getScheme() == null || !(u.getScheme().equalsIgnoreCase("http")
                    || u.getScheme().equalsIgnoreCase("https")) || u.getHost() == null) {
                throw new IllegalArgumentException(what + " " + u + " must be an http(s) URL with a host");
            }
        }

        private static String hexOf(String hex, int bytes, String what) {
            String h = KeyVerifier.norm(hex.trim());
            byte[] b;
            try {
                b = HEX.parseHex(h);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(what + " is not hex (" + h.length() + " characters)");
            }
            if (b.length != bytes) {
                throw new IllegalArgumentException(what + " must be " + bytes + " bytes (" + 2 * bytes
                        + " hex digits), got " + b.length);
            }
            return h;
        }
    }
}
