package dev.atlas.dstack.gateway.internal;

import dev.atlas.dstack.gateway.GatewayConfig;
import dev.atlas.dstack.gateway.certbot.AcmeCredentials;
import dev.atlas.dstack.gateway.certbot.AcmeIssuer;
import dev.atlas.dstack.gateway.certbot.CloudflareDns;
import dev.atlas.dstack.gateway.certbot.DnsProvider;
import dev.atlas.dstack.gateway.certbot.IssuedCertificate;
import dev.atlas.dstack.gateway.certbot.TxtLookup;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.RaTlsCertificate;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The gateway's certbot for ZT-domains (dstack's {@code distributed_certbot.rs}, one node): one wildcard certificate
 * {@code *.<domain>} per ZT-domain from ACME DNS-01 through the domain's DNS credential, a fresh P-256 key for every
 * issuance ({@link AcmeIssuer}), the key quoted through the gateway's guest agent with report data
 * {@code SHA-512("zt-cert:" || SPKI)} and the shared account with {@code SHA-512("acme-account:" || account_uri)},
 * all kept in {@link ZtStore}, and the certificate hot-swapped into the proxy's {@link CertStore} (new handshakes
 * take it; open connections keep theirs).
 *
 * <p>Renewal: at start, every {@code renew_interval_secs} (0: re-read every minute), when a domain is added, and on
 * {@code RenewCert}/{@code RenewZtDomainCert}; a domain is due when it has no certificate or
 * {@code not_after - now < renew_before_expiration_secs} (now from the injected clock). One issuance per domain at a
 * time: a second request waits for the first, then re-checks. An issuance is bounded by {@code renew_timeout_secs}.
 * A failed issuance changes nothing: the previous certificate keeps serving.
 */
public final class ZtCertbot implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("dev.atlas.dstack.gateway.certbot");
    /** dstack's default ACME directory (Let's Encrypt production). */
    public static final String DEFAULT_ACME_URL = "https://acme-v02.api.letsencrypt.org/directory";
    /** The tags of the two report-data bindings. */
    public static final String ZT_CERT_TAG = "zt-cert";
    public static final String ACME_ACCOUNT_TAG = "acme-account";
    /** HTTP timeout of the DNS API and ACME calls (the whole issuance is bounded by renew_timeout_secs). */
    static final Duration CALL_TIMEOUT = Duration.ofSeconds(30);

    private final ZtStore store;
    private final CertStore certs;
    private final Optional<GatewayAgent> agent;
    private final long nodeId;
    private final Optional<List<X509Certificate>> acmeRoots;
    private final TxtLookup txt;
    private final Clock clock;
    private final Map<String, ReentrantLock> locks = new ConcurrentHashMap<>();
    private final ReentrantLock accountLock = new ReentrantLock();
    private final ReentrantLock caaLock = new ReentrantLock();
    private final ExecutorService tasks = Executors.newVirtualThreadPerTaskExecutor();
    private final Object wake = new Object();
    private volatile boolean closed;
    private Thread scheduler;
    private boolean warnedNoAgent;

    public ZtCertbot(ZtStore store, CertStore certs, Optional<GatewayAgent> agent, long nodeId,
            Optional<List<X509Certificate>> acmeRoots, TxtLookup txt, Clock clock) {
        this.store = store;
        this.certs = certs;
        this.agent = agent;
        this.nodeId = nodeId;
        this.acmeRoots = acmeRoots;
        this.txt = txt;
        this.clock = clock;
    }

    /** The certbot of a loaded {@code gateway.toml}: {@code [core.certbot]} and {@code [core.sync] node_id}. */
    public static ZtCertbot fromConfig(GatewayConfig config, ZtStore store, CertStore certs,
            Optional<GatewayAgent> agent, Clock clock) throws RaException {
        GatewayConfig.Certbot c = config.certbot();
        Optional<List<X509Certificate>> roots = Optional.empty();
        if (c.acmeCaCert().isPresent()) {
            roots = Optional.of(readCerts(c.acmeCaCert().get()));
        }
        TxtLookup txt = c.dnsResolver().map(TxtLookup::server).orElseGet(TxtLookup::system);
        return new ZtCertbot(store, certs, agent, config.sync().nodeId(), roots, txt, clock);
    }

    private static List<X509Certificate> readCerts(Path p) throws RaException {
        byte[] bytes;
        try (InputStream in = Files.newInputStream(p)) {
            bytes = in.readNBytes(1 << 20);
        } catch (IOException e) {
            throw new RaException(Reason.CONFIG_FILE_UNREADABLE, "core.certbot.acme_ca_cert", p + " cannot be read ("
                    + e.getClass().getSimpleName() + ")");
        }
        List<X509Certificate> out = new ArrayList<>();
        try {
            for (Certificate c : CertificateFactory.getInstance("X.509")
                    .generateCertificates(new ByteArrayInputStream(bytes))) {
                out.add((X509Certificate) c);
            }
        } catch (CertificateException | ClassCastException e) {
            out.clear();
        }
        if (out.isEmpty()) {
            throw new RaException(Reason.CONFIG_INVALID, "core.certbot.acme_ca_cert", p + " holds no PEM certificate");
        }
        return out;
    }

    public ZtStore store() {
        return store;
    }

    public CertStore certStore() {
        return certs;
    }

    /** Installs the stored certificates of the configured domains, then starts the renewal loop. */
    public synchronized void start() {
        long now = clock.instant().getEpochSecond();
        ZtStore.State s = store.state();
        for (ZtStore.Domain d : s.domains().values()) {
            ZtStore.Cert c = s.certs().get(d.domain());
            if (c == null) {
                continue;
            }
            if (c.notAfter() <= now) {
                LOG.log(System.Logger.Level.INFO, "cert[" + d.domain() + "]: stored certificate expired, a new one "
                        + "will be requested");
                continue;
            }
            try {
                certs.put(d.domain(), c.chainPem(), c.keyPem());
            } catch (RaException e) {
                LOG.log(System.Logger.Level.WARNING, "cert[" + d.domain() + "]: stored certificate not installed: "
                        + e.getMessage());
            }
        }
        if (scheduler == null) {
            scheduler = Thread.ofVirtual().name("zt-certbot").start(this::loop);
        }
    }

    private void loop() {
        while (!closed) {
            renewDue();
            long secs = store.state().settings().renewIntervalSecs();
            long waitMs = secs == 0 ? 60_000 : Math.min(secs, Long.MAX_VALUE / 1000) * 1000;
            synchronized (wake) {
                try {
                    if (!closed) {
                        wake.wait(waitMs);
                    }
                } catch (InterruptedException e) {
                    return;
                }
            }
        }
    }

    /** Wakes the renewal loop (the interval changed). */
    void reschedule() {
        synchronized (wake) {
            wake.notifyAll();
        }
    }

    /** Requests a certificate for a newly added domain in the background (dstack's ZT-domain watch task). */
    void requestInBackground(String domain) {
        if (closed) {
            return;
        }
        try {
            tasks.execute(() -> {
                try {
                    boolean r = renew(domain, false);
                    LOG.log(System.Logger.Level.INFO, "cert[" + domain + "]: " + (r ? "issued" : "not needed"));
                } catch (RaException e) {
                    LOG.log(System.Logger.Level.WARNING, "cert[" + domain + "]: request failed: " + e.getMessage());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            LOG.log(System.Logger.Level.DEBUG, "cert[" + domain + "]: not requested, the gateway is closing");
        }
    }

    /** Renews every due domain; failures are logged. Returns how many were renewed. */
    public int renewDue() {
        int n = 0;
        for (String d : store.state().domains().keySet()) {
            if (closed) {
                break;
            }
            try {
                if (renew(d, false)) {
                    n++;
                }
            } catch (RaException e) {
                LOG.log(System.Logger.Level.ERROR, "cert[" + d + "]: failed to renew: " + e.getMessage());
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.ERROR, "cert[" + d + "]: failed to renew", e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        return n;
    }

    /** Whether {@code domain}'s certificate is due now. */
    public boolean due(String domain) {
        ZtStore.State s = store.state();
        ZtStore.Cert c = s.certs().get(domain);
        if (c == null) {
            return true;
        }
        long left = c.notAfter() - clock.instant().getEpochSecond();
        return left < s.settings().renewBeforeExpirationSecs();
    }

    /**
     * Renews {@code domain} when due or forced ({@code try_renew}).
     *
     * @return whether a new certificate was installed
     * @throws RaException {@code CONFIG_INVALID} for an unknown domain or a missing DNS credential, the engine's
     *     ACME_* / DNS_* reasons, {@code AGENT_UNAVAILABLE}, {@code CERTBOT_STATE_INVALID}
     */
    public boolean renew(String domain, boolean force) throws RaException, InterruptedException {
        ReentrantLock lock = locks.computeIfAbsent(domain, k -> new ReentrantLock());
        lock.lockInterruptibly();
        try {
            ZtStore.Domain d = store.state().domains().get(domain);
            if (d == null) {
                throw new RaException(Reason.CONFIG_INVALID, "domain", "ZT-Domain config not found: " + domain);
            }
            if (!force && !due(domain)) {
                LOG.log(System.Logger.Level.DEBUG, "cert[" + domain + "]: does not need renewal");
                return false;
            }
            issue(d);
            return true;
        } finally {
            lock.unlock();
        }
    }

    private void issue(ZtStore.Domain d) throws RaException, InterruptedException {
        String domain = d.domain();
        ZtStore.DnsCredential cred = credentialFor(store.state(), d);
        ZtStore.Settings settings = store.state().settings();
        AcmeIssuer issuer = issuer(cred, acmeUrl(settings), Optional.empty());
        String wildcard = "*." + domain;
        LOG.log(System.Logger.Level.INFO, "cert[" + domain + "]: requesting " + wildcard + " from " + acmeUrl(settings)
                + " with a new key");
        IssuedCertificate cert = bounded(() -> issuer.issue(List.of(wildcard)), settings.renewTimeoutSecs(),
                "certificate request for " + wildcard);
        byte[] spki = cert.publicKeySpki();
        Optional<ZtStore.Attestation> att = attest(ZT_CERT_TAG, spki, spki, domain);
        long now = clock.instant().getEpochSecond();
        ZtStore.Cert stored = new ZtStore.Cert(cert.chainPem(), cert.keyPem(), cert.notAfter().getEpochSecond(),
                nodeId, now);
        Optional<ZtStore.Cert> previous = Optional.ofNullable(store.state().certs().get(domain));
        // the attestation is on disk before the key serves: /acme-info never lags the proxy
        store.update(s -> s.withCert(domain, Optional.of(stored), att));
        try {
            certs.put(domain, cert.chainPem(), cert.keyPem());
        } catch (RaException e) {
            store.update(s -> s.withCert(domain, previous, Optional.empty()));
            throw e;
        }
        LOG.log(System.Logger.Level.INFO, "cert[" + domain + "]: new certificate serving (expires "
                + cert.notAfter() + ", key " + (att.isPresent() ? "attested" : "NOT attested") + ")");
    }

    @FunctionalInterface
    private interface Call<T> {
        T call() throws RaException;
    }

    /** Runs {@code call} on its own thread, bounded by {@code secs} (0: no bound). */
    private <T> T bounded(Call<T> call, long secs, String what) throws RaException, InterruptedException {
        Future<T> f;
        try {
            f = tasks.submit(call::call);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            throw new RaException(Reason.ACME_FAILED, "certbot", what + " not started: the gateway is closing");
        }
        try {
            return secs == 0 ? f.get() : f.get(secs, java.util.concurrent.TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            f.cancel(true);
            throw new RaException(Reason.ACME_FAILED, "renew_timeout_secs", what + " timed out after " + secs + " s");
        } catch (InterruptedException e) {
            f.cancel(true);
            throw e;
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RaException r) {
                throw r;
            }
            throw new RaException(Reason.ACME_FAILED, "acme", what + " failed (" + e.getCause() + ")", e.getCause());
        }
    }

    static String acmeUrl(ZtStore.Settings s) {
        return s.acmeUrl().isEmpty() ? DEFAULT_ACME_URL : s.acmeUrl();
    }

    static ZtStore.DnsCredential credentialFor(ZtStore.State s, ZtStore.Domain d) throws RaException {
        if (d.dnsCredId().isPresent()) {
            ZtStore.DnsCredential c = s.credentials().get(d.dnsCredId().get());
            if (c == null) {
                throw new RaException(Reason.CONFIG_INVALID, "dns_cred_id", "specified DNS credential not found: "
                        + d.dnsCredId().get() + " (domain " + d.domain() + ")");
            }
            return c;
        }
        return s.defaultCredential().map(id -> s.credentials().get(id)).orElseThrow(() -> new RaException(
                Reason.CONFIG_INVALID, "dns_cred_id", "no default DNS credential configured (domain " + d.domain()
                        + ")"));
    }

    DnsProvider dns(ZtStore.DnsCredential c) throws RaException {
        try {
            URI api = c.apiUrl().filter(u -> !u.isEmpty()).map(URI::create).orElse(CloudflareDns.DEFAULT_API_URL);
            return CloudflareDns.create(api, c.apiToken(), CALL_TIMEOUT);
        } catch (IllegalArgumentException e) {
            throw new RaException(Reason.CONFIG_INVALID, "cf_api_url", "DNS credential " + c.id()
                    + ": not a usable Cloudflare API URL");
        }
    }

    /**
     * An engine for {@code cred}: with the stored account (refused when it belongs to another directory), or, when
     * none is stored, a new account registered, stored and quoted. {@code fresh}: these credentials instead.
     */
    private AcmeIssuer issuer(ZtStore.DnsCredential cred, String acmeUrl, Optional<AcmeCredentials> fresh)
            throws RaException {
        accountLock.lock();
        try {
            Optional<ZtStore.Account> acc = store.state().account();
            Optional<AcmeCredentials> creds = fresh;
            if (creds.isEmpty() && acc.isPresent()) {
                if (!acc.get().acmeUrl().equals(acmeUrl)) {
                    throw new RaException(Reason.CERTBOT_STATE_INVALID, "acme_url", "stored ACME credentials are for a "
                            + "different ACME directory (" + acc.get().acmeUrl() + ", now " + acmeUrl + "); call "
                            + "RotateAcmeCredentials to switch directories");
                }
                creds = Optional.of(AcmeCredentials.parse(acc.get().credentialsJson()));
            }
            AcmeIssuer issuer = builder(cred, acmeUrl, creds).build();
            if (creds.isEmpty()) {
                saveAccount(issuer, acmeUrl);
            }
            return issuer;
        } finally {
            accountLock.unlock();
        }
    }

    private AcmeIssuer.Builder builder(ZtStore.DnsCredential cred, String acmeUrl, Optional<AcmeCredentials> creds)
            throws RaException {
        URI dir;
        try {
            dir = URI.create(acmeUrl);
        } catch (IllegalArgumentException e) {
            throw new RaException(Reason.CONFIG_INVALID, "acme_url", "not a URL");
        }
        AcmeIssuer.Builder b = AcmeIssuer.builder().directoryUrl(dir).dns(dns(cred)).txtLookup(txt)
                .dnsTxtTtl(cred.dnsTxtTtl()).maxDnsWait(Duration.ofSeconds(cred.maxDnsWaitSecs()))
                .timeout(CALL_TIMEOUT).clock(clock);
        acmeRoots.ifPresent(b::trustedRoots);
        creds.ifPresent(b::credentials);
        return b;
    }

    private void saveAccount(AcmeIssuer issuer, String acmeUrl) throws RaException {
        String uri = issuer.accountUri();
        String json = issuer.credentials().toJson();
        LOG.log(System.Logger.Level.INFO, "certbot: new ACME account " + uri + " at " + acmeUrl);
        store.update(s -> s.withAccount(Optional.of(new ZtStore.Account(acmeUrl, uri, json)), s.accountAttestation()));
        Optional<ZtStore.Attestation> att = attest(ACME_ACCOUNT_TAG, uri.getBytes(StandardCharsets.UTF_8),
                uri.getBytes(StandardCharsets.UTF_8), "account");
        if (att.isPresent()) {
            store.update(s -> s.withAccount(s.account(), att));
        }
    }

    /** Quotes {@code content} under {@code tag}; empty (logged) without an agent or when the agent fails. */
    private Optional<ZtStore.Attestation> attest(String tag, byte[] content, byte[] subject, String what) {
        if (agent.isEmpty()) {
            synchronized (this) {
                if (!warnedNoAgent) {
                    LOG.log(System.Logger.Level.WARNING, "certbot: no guest agent, certificate keys and the ACME "
                            + "account cannot be quoted (/acme-info will not list them)");
                    warnedNoAgent = true;
                }
            }
            return Optional.empty();
        }
        byte[] rd = RaTlsCertificate.reportData(tag, content);
        String quote;
        try {
            quote = agent.get().quoteJson(rd);
        } catch (RaException e) {
            LOG.log(System.Logger.Level.WARNING, "cert[" + what + "]: failed to quote (" + tag + "): "
                    + e.getMessage());
            return Optional.empty();
        }
        String attestation;
        try {
            attestation = agent.get().attestJson(rd);
        } catch (RaException e) {
            LOG.log(System.Logger.Level.WARNING, "cert[" + what + "]: failed to get the attestation (" + tag + "): "
                    + e.getMessage());
            attestation = "";
        }
        return Optional.of(new ZtStore.Attestation(subject, quote, attestation, nodeId,
                clock.instant().getEpochSecond()));
    }

    /**
     * {@code SetCaa}: pins every ZT-domain's CAA records to the stored account (registering one when none exists),
     * best effort per domain.
     */
    public void setCaaAll() throws RaException {
        if (!caaLock.tryLock()) {
            throw new RaException(Reason.CERTBOT_STATE_INVALID, "SetCaa", "ACME credential rotation or CAA "
                    + "reconciliation is already in progress");
        }
        try {
            ZtStore.State s = store.state();
            if (s.domains().isEmpty()) {
                LOG.log(System.Logger.Level.WARNING, "no ZT-Domain configured, no CAA records to set");
                return;
            }
            List<String> failed = new ArrayList<>();
            RaException first = null;
            for (ZtStore.Domain d : s.domains().values()) {
                try {
                    issuer(credentialFor(store.state(), d), acmeUrl(store.state().settings()), Optional.empty())
                            .setCaa(d.domain());
                    LOG.log(System.Logger.Level.INFO, "cert[" + d.domain() + "]: CAA records reconciled");
                } catch (RaException e) {
                    LOG.log(System.Logger.Level.ERROR, "cert[" + d.domain() + "]: failed to set CAA records: "
                            + e.getMessage());
                    failed.add(d.domain());
                    first = first == null ? e : first;
                }
            }
            if (!failed.isEmpty()) {
                throw new RaException(first.raReason(), "SetCaa", "failed to set CAA records for " + failed.size() + "/"
                        + s.domains().size() + " domains: " + String.join(", ", failed) + " (first: "
                        + GatewayRpc.words(first) + "); they may retain guard CAA records that block issuance until "
                        + "a rerun succeeds");
            }
        } finally {
            caaLock.unlock();
        }
    }

    /** {@code RotateAcmeCredentials}' answer. */
    public record Rotation(String accountUri, int domainsUpdated) {
    }

    /**
     * {@code RotateAcmeCredentials}: checks every domain's DNS credential (its zone must resolve), registers a new
     * account, stores it, re-pins every domain's CAA records to it (best effort), then quotes it.
     */
    public Rotation rotate() throws RaException {
        if (!caaLock.tryLock()) {
            throw new RaException(Reason.CERTBOT_STATE_INVALID, "RotateAcmeCredentials", "ACME credential rotation or "
                    + "CAA reconciliation is already in progress");
        }
        try {
            ZtStore.State s = store.state();
            String acmeUrl = acmeUrl(s.settings());
            List<Map.Entry<ZtStore.Domain, ZtStore.DnsCredential>> prepared = new ArrayList<>();
            for (ZtStore.Domain d : s.domains().values()) {
                ZtStore.DnsCredential c = credentialFor(s, d);
                try {
                    dns(c).zoneIdFor(d.domain());
                } catch (RaException e) {
                    throw new RaException(e.raReason(), "dns_cred_id", "DNS credential check failed for "
                            + d.domain() + ": " + GatewayRpc.words(e));
                }
                prepared.add(Map.entry(d, c));
            }
            if (prepared.isEmpty()) {
                throw new RaException(Reason.CONFIG_INVALID, "RotateAcmeCredentials", "no ZT-Domain configured for "
                        + "ACME credential rotation");
            }
            AcmeIssuer first;
            accountLock.lock();
            try {
                first = builder(prepared.get(0).getValue(), acmeUrl, Optional.empty()).build();
                String uri = first.accountUri();
                String json = first.credentials().toJson();
                store.update(x -> x.withAccount(Optional.of(new ZtStore.Account(acmeUrl, uri, json)),
                        Optional.empty()));
            } finally {
                accountLock.unlock();
            }
            String uri = first.accountUri();
            AcmeCredentials creds = first.credentials();
            List<String> failed = new ArrayList<>();
            for (int i = 0; i < prepared.size(); i++) {
                ZtStore.Domain d = prepared.get(i).getKey();
                try {
                    AcmeIssuer is = i == 0 ? first : builder(prepared.get(i).getValue(), acmeUrl, Optional.of(creds))
                            .build();
                    is.setCaa(d.domain());
                    LOG.log(System.Logger.Level.INFO, "cert[" + d.domain() + "]: CAA re-pinned to " + uri);
                } catch (RaException e) {
                    LOG.log(System.Logger.Level.ERROR, "cert[" + d.domain() + "]: failed to re-pin CAA: "
                            + e.getMessage());
                    failed.add(d.domain());
                }
            }
            Optional<ZtStore.Attestation> att = attest(ACME_ACCOUNT_TAG, uri.getBytes(StandardCharsets.UTF_8),
                    uri.getBytes(StandardCharsets.UTF_8), "account");
            if (att.isPresent()) {
                store.update(x -> x.withAccount(x.account(), att));
            }
            if (!failed.isEmpty()) {
                throw new RaException(Reason.DNS_API_FAILED, "RotateAcmeCredentials", "rotated to " + uri + " and "
                        + "published the new credentials, but failed to re-pin CAA for " + failed.size() + "/"
                        + prepared.size() + " domains: " + String.join(", ", failed) + "; rerun SetCaa until it "
                        + "succeeds - retrying the rotation would register yet another account");
            }
            return new Rotation(uri, prepared.size());
        } finally {
            caaLock.unlock();
        }
    }

    /** What {@code /acme-info} shows of the certbot. */
    public record AcmeView(String accountUri, String accountQuote, String accountAttestation,
            List<ZtStore.Attestation> keys) {
    }

    /**
     * The account (its quote only when it quotes the current account) and, for each configured domain, its key
     * attestations newest first ({@code main_service.rs} {@code acme_info}).
     */
    public AcmeView acmeView() {
        ZtStore.State s = store.state();
        String uri = s.account().map(ZtStore.Account::accountUri).orElse("");
        Optional<ZtStore.Attestation> a = s.accountAttestation().filter(x -> new String(x.subject(),
                StandardCharsets.UTF_8).equals(uri));
        List<ZtStore.Attestation> keys = new ArrayList<>();
        for (String d : s.domains().keySet()) {
            List<ZtStore.Attestation> l = new ArrayList<>(s.attestations().getOrDefault(d, List.of()));
            java.util.Collections.reverse(l); // stored oldest first: newest first within one second too
            l.sort((x, y) -> Long.compare(y.generatedAt(), x.generatedAt()));
            keys.addAll(l);
        }
        return new AcmeView(uri, a.map(ZtStore.Attestation::quote).orElse(""),
                a.map(ZtStore.Attestation::attestation).orElse(""), keys);
    }

    @Override
    public void close() {
        closed = true;
        reschedule();
        tasks.shutdownNow();
        Thread t;
        synchronized (this) {
            t = scheduler;
        }
        if (t != null) {
            t.interrupt();
        }
    }
}
