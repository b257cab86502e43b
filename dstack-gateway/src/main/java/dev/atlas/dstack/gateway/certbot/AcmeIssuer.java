package dev.atlas.dstack.gateway.certbot;

import dev.atlas.dstack.gateway.certbot.internal.AcmeTrust;
import dev.atlas.dstack.gateway.certbot.internal.Domains;
import dev.atlas.dstack.gateway.certbot.internal.P256;
import dev.atlas.dstack.gateway.certbot.internal.Pem;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.io.IOException;
import java.io.StringWriter;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.net.MalformedURLException;
import java.net.URI;
import java.net.URL;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import org.shredzone.acme4j.Account;
import org.shredzone.acme4j.AccountBuilder;
import org.shredzone.acme4j.AcmeJsonResource;
import org.shredzone.acme4j.Authorization;
import org.shredzone.acme4j.Certificate;
import org.shredzone.acme4j.Login;
import org.shredzone.acme4j.Order;
import org.shredzone.acme4j.Problem;
import org.shredzone.acme4j.Session;
import org.shredzone.acme4j.Status;
import org.shredzone.acme4j.challenge.Dns01Challenge;
import org.shredzone.acme4j.exception.AcmeException;
import org.shredzone.acme4j.exception.AcmeLazyLoadingException;
import org.shredzone.acme4j.exception.AcmeNetworkException;
import org.shredzone.acme4j.exception.AcmeProtocolException;
import org.shredzone.acme4j.exception.AcmeRateLimitedException;
import org.shredzone.acme4j.exception.AcmeServerException;

/**
 * The ACME DNS-01 engine shared by the standalone certbot and the gateway (acme4j underneath): account
 * registration or reuse, orders with a fresh P-256 key per issuance, challenge TXT records through a
 * {@link DnsProvider} (removed afterwards), propagation checks through a {@link TxtLookup}, and CAA pinning in
 * the four steps of spec §3.9. Errors: {@link RaException} with ACME_FAILED, ACME_RATE_LIMITED, ACME_REJECTED,
 * DNS_API_FAILED or DNS_ZONE_NOT_FOUND, each naming the step.
 *
 * <p>One issuance at a time per instance ({@code issue} and {@code setCaa} are synchronized).
 */
public final class AcmeIssuer {
    private static final Logger LOG = System.getLogger(AcmeIssuer.class.getName());
    /** The CAA issuer value dstack pins (upstream {@code acme_client.rs} {@code set_caa_records}). */
    public static final String CAA_ISSUER = "letsencrypt.org";
    private static final Duration FIRST_POLL = Duration.ofMillis(50);
    private static final Duration MAX_POLL = Duration.ofSeconds(5);
    private static final Duration FIRST_DNS_POLL = Duration.ofMillis(250);
    private static final Duration MAX_DNS_POLL = Duration.ofSeconds(32);

    private final URI directoryUrl;
    private final DnsProvider dns;
    private final TxtLookup txt;
    private final int dnsTxtTtl;
    private final Duration maxDnsWait;
    private final Duration orderTimeout;
    private final Clock clock;
    private final Session session;
    private final Login login;
    private final AcmeCredentials credentials;
    private final boolean created;

    private AcmeIssuer(Builder b, Session session, Login login, AcmeCredentials credentials, boolean created) {
        this.directoryUrl = b.directoryUrl;
        this.dns = b.dns;
        this.txt = b.txtLookup;
        this.dnsTxtTtl = b.dnsTxtTtl;
        this.maxDnsWait = b.maxDnsWait;
        this.orderTimeout = b.orderTimeout;
        this.clock = b.clock;
        this.session = session;
        this.login = login;
        this.credentials = credentials;
        this.created = created;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The account's credentials (registered by {@link Builder#build()} when none were given). */
    public AcmeCredentials credentials() {
        return credentials;
    }

    /** The account URL. */
    public String accountUri() {
        return credentials.accountUri();
    }

    /** True when {@link Builder#build()} registered a new account (no credentials were given). */
    public boolean accountCreated() {
        return created;
    }

    /** The ACME directory URL. */
    public URI directoryUrl() {
        return directoryUrl;
    }

    /**
     * Orders and downloads a certificate for {@code domains} with a fresh P-256 key: challenge TXT records are
     * added through the {@link DnsProvider} (stale ones at the same names removed first), awaited with the
     * {@link TxtLookup} for at most {@code maxDnsWait} (then the ACME server is asked anyway, as upstream does:
     * its view of DNS may differ), and removed afterwards whatever happens. The whole issuance is bounded by
     * {@code orderTimeout}. The chain is checked: the leaf carries our key and exactly the names asked for.
     */
    public synchronized IssuedCertificate issue(List<String> domains) throws RaException {
        List<String> names = checkDomains(domains);
        long deadline = System.nanoTime() + orderTimeout.toNanos();
        KeyPair key = P256.generate();
        Map<String, String> zoneByBase = new LinkedHashMap<>();
        List<String[]> added = new ArrayList<>(); // {zoneId, recordId, name}
        try {
            Order order = acme("new order for " + names, () -> login.getAccount().newOrder().domains(names).create());
            List<Authorization> auths = acme("read authorizations", order::getAuthorizations);
            Map<Authorization, Dns01Challenge> pending = new LinkedHashMap<>();
            Map<String, List<String>> expected = new LinkedHashMap<>(); // TXT name -> values
            for (Authorization a : auths) {
                Status st = a.getStatus();
                String id = a.getIdentifier().getDomain();
                if (st == Status.VALID) {
                    continue;
                }
                if (st != Status.PENDING) {
                    throw new RaException(Reason.ACME_REJECTED, "authorization", "authorization for " + id
                            + " is " + st + " (" + directoryUrl + ")");
                }
                Dns01Challenge ch = a.findChallenge(Dns01Challenge.class).orElseThrow(() -> new RaException(
                        Reason.ACME_REJECTED, "authorization", "the ACME server offers no dns-01 challenge for " + id));
                pending.put(a, ch);
                expected.computeIfAbsent(Dns01Challenge.RECORD_NAME_PREFIX + "." + Domains.normalize(id),
                        k -> new ArrayList<>()).add(ch.getDigest());
            }
            // stale challenge records first (once per name: a wildcard and its base share the name)
            for (Map.Entry<String, List<String>> e : expected.entrySet()) {
                String zone = zoneFor(zoneByBase, e.getKey());
                for (DnsRecord r : dns.records(zone, e.getKey(), "TXT")) {
                    LOG.log(Level.DEBUG, "removing stale TXT record {0} at {1}", r.id(), e.getKey());
                    dns.deleteRecord(zone, r.id());
                }
            }
            for (Map.Entry<String, List<String>> e : expected.entrySet()) {
                String zone = zoneFor(zoneByBase, e.getKey());
                for (String v : e.getValue()) {
                    String rid = dns.addTxt(zone, e.getKey(), v, dnsTxtTtl);
                    added.add(new String[] {zone, rid, e.getKey()});
                }
            }
            boolean seen = expected.isEmpty() || awaitTxt(expected, deadline);
            for (Map.Entry<Authorization, Dns01Challenge> e : pending.entrySet()) {
                Dns01Challenge ch = e.getValue();
                acme("trigger dns-01 challenge for " + e.getKey().getIdentifier().getDomain(), () -> {
                    ch.trigger();
                    return null;
                });
            }
            for (Map.Entry<Authorization, Dns01Challenge> e : pending.entrySet()) {
                Authorization a = e.getKey();
                String id = (a.isWildcard() ? "*." : "") + a.getIdentifier().getDomain();
                Status st = poll("authorization for " + id, a, Set.of(Status.VALID, Status.INVALID), deadline);
                if (st != Status.VALID) {
                    Optional<Problem> p = e.getValue().getError();
                    throw new RaException(Reason.ACME_REJECTED, "challenge", "dns-01 challenge for " + id
                            + " is invalid: " + p.map(AcmeIssuer::problem).orElse("no problem given")
                            + (seen ? "" : " (the TXT record was not visible to " + txt + " within max_dns_wait "
                                    + maxDnsWait.toSeconds() + " s either)"));
                }
            }
            Status os = poll("order", order, Set.of(Status.READY, Status.INVALID, Status.VALID), deadline);
            if (os == Status.INVALID) {
                throw new RaException(Reason.ACME_REJECTED, "order", "order for " + names + " is invalid: "
                        + order.getError().map(AcmeIssuer::problem).orElse("no problem given"));
            }
            if (os == Status.READY) {
                acme("finalize order", () -> {
                    order.execute(key);
                    return null;
                });
            }
            os = poll("order", order, Set.of(Status.VALID, Status.INVALID), deadline);
            if (os != Status.VALID) {
                throw new RaException(Reason.ACME_REJECTED, "order", "order for " + names + " is " + os + " after"
                        + " finalize: " + order.getError().map(AcmeIssuer::problem).orElse("no problem given"));
            }
            Certificate cert = acme("download certificate", order::getCertificate);
            List<X509Certificate> chain = acme("download certificate", cert::getCertificateChain);
            return checked(chain, cert, key, names);
        } finally {
            for (String[] r : added) {
                try {
                    dns.deleteRecord(r[0], r[1]);
                } catch (RaException e) {
                    LOG.log(Level.WARNING, "could not remove the challenge TXT record {0} at {1}: {2}", r[1], r[2],
                            e.getMessage());
                }
            }
        }
    }

    /**
     * Pins CAA for the base name of {@code domain} ({@code *.} stripped): 1. guards {@code 0 issue ";"} and
     * {@code 0 issuewild ";"}; 2. deletes the other issue/issuewild records; 3. adds
     * {@code letsencrypt.org;validationmethods=dns-01;accounturi=<account>} for issue and issuewild; 4. deletes
     * the guards. A failure names the step.
     */
    public synchronized void setCaa(String domain) throws RaException {
        String why = domain == null ? "missing" : Domains.problem(domain);
        if (why != null) {
            throw new RaException(Reason.CONFIG_INVALID, "domain", why);
        }
        String base = Domains.base(domain);
        String zone = step(1, base, () -> dns.zoneIdFor(base));
        String value = CAA_ISSUER + ";validationmethods=dns-01;accounturi=" + accountUri();
        String g0 = step(1, base, () -> dns.addCaa(zone, base, 0, "issue", ";"));
        String g1 = step(1, base, () -> dns.addCaa(zone, base, 0, "issuewild", ";"));
        List<DnsRecord> existing = step(2, base, () -> dns.records(zone, base, "CAA"));
        for (DnsRecord r : existing) {
            if (r.id().equals(g0) || r.id().equals(g1) || !r.isCaa()) {
                continue;
            }
            String tag = r.caaTag() == null ? "" : r.caaTag().toLowerCase(Locale.ROOT);
            if (tag.equals("issue") || tag.equals("issuewild")) {
                step(2, base, () -> {
                    dns.deleteRecord(zone, r.id());
                    return null;
                });
            }
        }
        step(3, base, () -> dns.addCaa(zone, base, 0, "issue", value));
        step(3, base, () -> dns.addCaa(zone, base, 0, "issuewild", value));
        step(4, base, () -> {
            dns.deleteRecord(zone, g0);
            dns.deleteRecord(zone, g1);
            return null;
        });
    }

    private interface DnsStep<T> {
        T run() throws RaException;
    }

    private static final String[] STEPS = {"", "add the guard records", "remove the other issue/issuewild records",
        "add the pinned issue/issuewild records", "remove the guard records"};

    private static <T> T step(int n, String base, DnsStep<T> s) throws RaException {
        try {
            return s.run();
        } catch (RaException e) {
            throw new RaException(e.raReason(), "caa step " + n, "CAA pinning of " + base + " failed at step " + n
                    + " (" + STEPS[n] + "): " + e.detail(), e);
        }
    }

    private String zoneFor(Map<String, String> cache, String name) throws RaException {
        // the zone of a challenge name is the zone of the name it challenges
        String base = Domains.base(name.substring(Dns01Challenge.RECORD_NAME_PREFIX.length() + 1));
        String z = cache.get(base);
        if (z == null) {
            z = dns.zoneIdFor(base);
            cache.put(base, z);
        }
        return z;
    }

    /** Waits until every expected value is visible; false when max_dns_wait (or the deadline) passed first. */
    private boolean awaitTxt(Map<String, List<String>> expected, long deadline) throws RaException {
        long end = Math.min(deadline, System.nanoTime() + maxDnsWait.toNanos());
        Duration delay = FIRST_DNS_POLL;
        Set<String> unsettled = new LinkedHashSet<>(expected.keySet());
        while (true) {
            for (var it = unsettled.iterator(); it.hasNext();) {
                String name = it.next();
                if (txt.lookup(name).containsAll(expected.get(name))) {
                    it.remove();
                }
            }
            if (unsettled.isEmpty()) {
                return true;
            }
            long left = end - System.nanoTime();
            if (left <= 0) {
                LOG.log(Level.WARNING, "the challenge TXT records at {0} are not visible to {1} after {2} s;"
                        + " asking the ACME server anyway (its view of DNS may differ)", unsettled, txt,
                        maxDnsWait.toSeconds());
                return false;
            }
            sleep(Math.min(delay.toNanos(), left));
            delay = delay.multipliedBy(2).compareTo(MAX_DNS_POLL) > 0 ? MAX_DNS_POLL : delay.multipliedBy(2);
        }
    }

    private Status poll(String what, AcmeJsonResource r, Set<Status> done, long deadline) throws RaException {
        Duration delay = FIRST_POLL;
        while (true) {
            Optional<Instant> retryAfter = acme("poll " + what, r::fetch);
            Status st = status(r);
            if (done.contains(st)) {
                return st;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new RaException(Reason.ACME_FAILED, what, what + " still " + st + " when the order timeout of "
                        + orderTimeout.toSeconds() + " s ran out (" + directoryUrl + ")");
            }
            long wait = delay.toNanos();
            if (retryAfter.isPresent()) {
                long ra = Duration.between(Instant.now(), retryAfter.get()).toNanos();
                wait = Math.max(wait, Math.min(ra, MAX_POLL.toNanos()));
            }
            sleep(Math.min(wait, left));
            delay = delay.multipliedBy(2).compareTo(MAX_POLL) > 0 ? MAX_POLL : delay.multipliedBy(2);
        }
    }

    private static Status status(AcmeJsonResource r) {
        if (r instanceof Order o) {
            return o.getStatus();
        }
        if (r instanceof Authorization a) {
            return a.getStatus();
        }
        throw new IllegalArgumentException(r.getClass().getName());
    }

    private static void sleep(long nanos) throws RaException {
        try {
            Thread.sleep(Duration.ofNanos(Math.max(nanos, 1_000_000)));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RaException(Reason.ACME_FAILED, "issue", "interrupted");
        }
    }

    private IssuedCertificate checked(List<X509Certificate> chain, Certificate cert, KeyPair key, List<String> names)
            throws RaException {
        if (chain.isEmpty()) {
            throw new RaException(Reason.ACME_FAILED, "certificate", "the ACME server sent an empty chain");
        }
        X509Certificate leaf = chain.get(0);
        if (!Arrays.equals(leaf.getPublicKey().getEncoded(), key.getPublic().getEncoded())) {
            throw new RaException(Reason.ACME_FAILED, "certificate", "the issued certificate does not carry our key");
        }
        for (int i = 0; i + 1 < chain.size(); i++) {
            try {
                chain.get(i).verify(chain.get(i + 1).getPublicKey());
            } catch (GeneralSecurityException e) {
                throw new RaException(Reason.ACME_FAILED, "certificate", "chain certificate " + i
                        + " is not signed by certificate " + (i + 1));
            }
        }
        Set<String> got = new TreeSet<>();
        for (String n : IssuedCertificate.dnsNames(leaf)) {
            got.add(Domains.normalize(n));
        }
        if (!got.equals(new TreeSet<>(names))) {
            throw new RaException(Reason.ACME_FAILED, "certificate", "the issued certificate names " + got
                    + ", not the " + names + " ordered");
        }
        StringWriter w = new StringWriter();
        try {
            cert.writeCertificate(w);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        String keyPem = Pem.encode("PRIVATE KEY", P256.pkcs8(key));
        LOG.log(Level.INFO, "issued a certificate for {0} (not after {1}) from {2}", names,
                leaf.getNotAfter().toInstant(), directoryUrl);
        return new IssuedCertificate(w.toString(), keyPem, leaf.getNotBefore().toInstant(),
                leaf.getNotAfter().toInstant(), IssuedCertificate.dnsNames(leaf));
    }

    private static List<String> checkDomains(List<String> domains) throws RaException {
        if (domains == null || domains.isEmpty()) {
            throw new RaException(Reason.CONFIG_INVALID, "domains", "no domain to issue for");
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i < domains.size(); i++) {
            String why = Domains.problem(domains.get(i));
            if (why != null) {
                throw new RaException(Reason.CONFIG_INVALID, "domains[" + i + "]", why);
            }
            String n = Domains.normalize(domains.get(i));
            if (!out.contains(n)) {
                out.add(n);
            }
        }
        return out;
    }

    private interface AcmeCall<T> {
        T run() throws AcmeException;
    }

    private <T> T acme(String step, AcmeCall<T> call) throws RaException {
        return acme(directoryUrl, step, call);
    }

    private static <T> T acme(URI server, String step, AcmeCall<T> call) throws RaException {
        try {
            return call.run();
        } catch (AcmeLazyLoadingException e) {
            throw e.getCause() instanceof AcmeException ae ? mapped(server, step, ae)
                    : new RaException(Reason.ACME_FAILED, step, step + " failed at " + server + ": "
                            + e.getClass().getSimpleName(), e);
        } catch (AcmeException e) {
            throw mapped(server, step, e);
        } catch (AcmeProtocolException e) {
            throw new RaException(Reason.ACME_FAILED, step, step + ": the ACME server " + server
                    + " answered something acme4j cannot use (" + e.getMessage() + ")", e);
        }
    }

    private static RaException mapped(URI server, String step, AcmeException e) {
        if (e instanceof AcmeRateLimitedException rl) {
            return new RaException(Reason.ACME_RATE_LIMITED, step, step + ": rate limited by " + server + ": "
                    + problem(rl.getProblem()) + rl.getRetryAfter().map(t -> " (retry after " + t + ")").orElse(""),
                    e);
        }
        if (e instanceof AcmeServerException se) {
            String type = String.valueOf(se.getType());
            boolean rejected = type.startsWith("urn:ietf:params:acme:error:") && Set.of("unauthorized",
                    "rejectedIdentifier", "caa", "dns", "accountDoesNotExist", "badCSR", "unsupportedIdentifier",
                    "incorrectResponse", "connection", "userActionRequired", "externalAccountRequired",
                    "malformed", "badPublicKey", "badSignatureAlgorithm", "unsupportedContact", "invalidContact")
                    .contains(type.substring(type.lastIndexOf(':') + 1));
            return new RaException(rejected ? Reason.ACME_REJECTED : Reason.ACME_FAILED, step, step + ": "
                    + server + " answered " + problem(se.getProblem()), e);
        }
        if (e instanceof AcmeNetworkException) {
            return new RaException(Reason.ACME_FAILED, step, step + ": " + server + " unreachable ("
                    + (e.getCause() == null ? e.getMessage() : e.getCause().getClass().getSimpleName() + ": "
                            + e.getCause().getMessage()) + ")", e);
        }
        return new RaException(Reason.ACME_FAILED, step, step + " failed at " + server + ": " + e.getMessage(), e);
    }

    private static String problem(Problem p) {
        if (p == null) {
            return "no problem document";
        }
        StringBuilder sb = new StringBuilder(String.valueOf(p.getType()));
        p.getDetail().ifPresent(d -> sb.append(": ").append(d.length() > 300 ? d.substring(0, 300) + "..." : d));
        for (Problem sub : p.getSubProblems()) {
            sb.append("; ").append(sub.getIdentifier().map(i -> i.getValue() + ": ").orElse(""))
                    .append(sub.getType()).append(sub.getDetail().map(d -> " " + d).orElse(""));
        }
        return sb.toString();
    }

    /** Builder; {@code directoryUrl} and {@code dns} are required. */
    public static final class Builder {
        private URI directoryUrl;
        private AcmeCredentials credentials;
        private DnsProvider dns;
        private TxtLookup txtLookup;
        private int dnsTxtTtl = 60;
        private Duration maxDnsWait = Duration.ofSeconds(300);
        private Duration timeout = Duration.ofSeconds(30);
        private Duration orderTimeout = Duration.ofSeconds(120);
        private List<X509Certificate> trustedRoots = List.of();
        private Clock clock = Clock.systemUTC();

        private Builder() {
        }

        /** The ACME directory (https; plain http only to a loopback host). */
        public Builder directoryUrl(URI v) { this.directoryUrl = v; return this; }
        /** The account to use; absent: {@link #build()} registers one. */
        public Builder credentials(AcmeCredentials v) { this.credentials = v; return this; }
        public Builder dns(DnsProvider v) { this.dns = v; return this; }
        /** Default {@link TxtLookup#system()}. */
        public Builder txtLookup(TxtLookup v) { this.txtLookup = v; return this; }
        /** TTL of challenge TXT records, default 60. */
        public Builder dnsTxtTtl(int v) { this.dnsTxtTtl = v; return this; }
        /** How long to wait for the challenge records to be visible, default 300 s. */
        public Builder maxDnsWait(Duration v) { this.maxDnsWait = v; return this; }
        /** Timeout of one HTTP request to the ACME server, default 30 s. */
        public Builder timeout(Duration v) { this.timeout = v; return this; }
        /** Bound on one whole issuance (renew_timeout), default 120 s. */
        public Builder orderTimeout(Duration v) { this.orderTimeout = v; return this; }
        /** Extra roots trusted for the ACME server's HTTPS (the JDK's are trusted too). */
        public Builder trustedRoots(List<X509Certificate> v) { this.trustedRoots = List.copyOf(v); return this; }
        public Builder clock(Clock v) { this.clock = v; return this; }

        /** Logs in with the credentials (checking the account with the server), or registers a new account. */
        public AcmeIssuer build() throws RaException {
            Objects.requireNonNull(directoryUrl, "directoryUrl");
            Objects.requireNonNull(dns, "dns");
            Objects.requireNonNull(clock, "clock");
            if (txtLookup == null) {
                txtLookup = TxtLookup.system();
            }
            String scheme = String.valueOf(directoryUrl.getScheme()).toLowerCase(Locale.ROOT);
            if (directoryUrl.getHost() == null || !(scheme.equals("https") || scheme.equals("http")
                    && Domains.isLoopbackHost(directoryUrl.getHost()))) {
                throw new RaException(Reason.CONFIG_INVALID, "acme_url", "must be https (plain http only to a"
                        + " loopback host): " + directoryUrl);
            }
            if (dnsTxtTtl < 1 || maxDnsWait.isNegative() || timeout.isNegative() || timeout.isZero()
                    || orderTimeout.isNegative() || orderTimeout.isZero()) {
                throw new RaException(Reason.CONFIG_INVALID, "acme", "dns_txt_ttl, max_dns_wait and timeouts must"
                        + " be positive");
            }
            Session session;
            try {
                session = new Session(directoryUrl, AcmeTrust.with(trustedRoots));
            } catch (IllegalArgumentException e) {
                throw new RaException(Reason.CONFIG_INVALID, "acme_url", "not usable by acme4j: " + directoryUrl);
            }
            session.networkSettings().setTimeout(timeout);
            if (credentials != null) {
                if (!P256.isP256(credentials.keyPair())) {
                    throw new RaException(Reason.CERTBOT_STATE_INVALID, "credentials", "the account key is not P-256");
                }
                URL account;
                try {
                    account = URI.create(credentials.accountUri()).toURL();
                } catch (MalformedURLException | IllegalArgumentException e) {
                    throw new RaException(Reason.CERTBOT_STATE_INVALID, "account_id", "not a URL");
                }
                Login login = session.login(account, credentials.keyPair());
                Account acct = login.getAccount();
                acme(directoryUrl, "check account " + credentials.accountUri(), () -> {
                    acct.fetch();
                    return null;
                });
                Status st = acct.getStatus();
                if (st != Status.VALID) {
                    throw new RaException(Reason.ACME_REJECTED, "account", "ACME account " + credentials.accountUri()
                            + " is " + st);
                }
                return new AcmeIssuer(this, session, login, credentials, false);
            }
            KeyPair kp = P256.generate();
            Login login = acme(directoryUrl, "register account", () -> new AccountBuilder().agreeToTermsOfService()
                    .useKeyPair(kp).createLogin(session));
            String uri = login.getAccountLocation().toString();
            LOG.log(Level.INFO, "registered ACME account {0} at {1}", uri, directoryUrl);
            return new AcmeIssuer(this, session, login, AcmeCredentials.of(uri, directoryUrl.toString(), kp), true);
        }
    }
}
