package dev.atlas.dstack.gateway.certbot;

import dev.atlas.dstack.gateway.certbot.internal.Domains;
import dev.atlas.dstack.gateway.certbot.internal.WorkdirFiles;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BooleanSupplier;

/**
 * The standalone {@code certbot.toml} workflow over {@code workdir} (upstream {@code certbot/src/bot.rs},
 * {@code workdir.rs}): {@code credentials.json} (account created on first use, reused while its {@code acme_url}
 * matches), {@code live/cert.pem} + {@code live/key.pem} (replaced atomically: {@code live} is a symlink to the
 * newest {@code backup/<time>/}), renewal when {@code notAfter - renew_days_before <= now}, {@code renewed_hook},
 * CAA pinning. One renewal at a time per workdir ({@code .certbot.lock}).
 */
public final class Certbot {
    private static final Logger LOG = System.getLogger(Certbot.class.getName());
    private static final int MAX_FILE = 256 * 1024;

    private final CertbotConfig config;
    private final DnsProvider dns;
    private final TxtLookup txt;
    private final Clock clock;
    private final List<X509Certificate> roots;
    private AcmeIssuer issuer;

    private Certbot(CertbotConfig config, DnsProvider dns, TxtLookup txt, Clock clock, List<X509Certificate> roots) {
        this.config = config;
        this.dns = dns;
        this.txt = txt;
        this.clock = clock;
        this.roots = roots;
    }

    /** A certbot with the JDK's trusted roots plus {@code acme_ca_cert}. */
    public static Certbot create(CertbotConfig config, DnsProvider dns, TxtLookup txt, Clock clock) throws RaException {
        return create(config, dns, txt, clock, List.of());
    }

    /** A certbot trusting {@code trustedRoots} (plus the JDK's and {@code acme_ca_cert}) for the ACME server. */
    public static Certbot create(CertbotConfig config, DnsProvider dns, TxtLookup txt, Clock clock,
            List<X509Certificate> trustedRoots) throws RaException {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(dns, "dns");
        Objects.requireNonNull(txt, "txt");
        Objects.requireNonNull(clock, "clock");
        List<X509Certificate> roots = new ArrayList<>(trustedRoots);
        if (config.acmeCaCert().isPresent()) {
            roots.addAll(readRoots(config.acmeCaCert().get()));
        }
        return new Certbot(config, dns, txt, clock, List.copyOf(roots));
    }

    /** The configuration. */
    public CertbotConfig config() {
        return config;
    }

    /** Loads or creates the account (and, when created and {@code auto_set_caa}, sets CAA); returns it. */
    public synchronized AcmeCredentials init() throws RaException {
        return issuer().credentials();
    }

    /**
     * One renewal: issues when {@code live/} is empty, when the certificate is due, when its names are not the
     * configured {@code domains}, or when {@code force}; stores it, runs {@code renewed_hook} and returns it, or
     * returns empty when nothing was due. Nothing in {@code workdir} changes when it fails.
     */
    public synchronized Optional<IssuedCertificate> renew(boolean force) throws RaException {
        try (AutoCloseable lock = lock()) {
            Optional<IssuedCertificate> cur;
            try {
                cur = current();
            } catch (RaException e) {
                if (!force) {
                    throw new RaException(Reason.CERTBOT_STATE_INVALID, e.field(), e.detail() + " (in "
                            + config.liveDir() + "; --force replaces it)", e);
                }
                cur = Optional.empty();
            }
            Instant now = clock.instant();
            if (!force && cur.isPresent()) {
                IssuedCertificate c = cur.get();
                Instant due = c.notAfter().minus(config.renewDaysBefore());
                boolean sameNames = normalized(c.domains()).equals(normalized(config.domains()));
                if (due.isAfter(now) && sameNames) {
                    LOG.log(Level.INFO, "certificate {0} is up to date (expires {1}, renewal due {2})",
                            config.liveDir().resolve("cert.pem"), c.notAfter(), due);
                    return Optional.empty();
                }
                LOG.log(Level.INFO, sameNames ? "certificate expires {0}: renewing" : "certificate names {1}"
                        + " differ from domains {2}: renewing", c.notAfter(), c.domains(), config.domains());
            }
            IssuedCertificate fresh = issuer().issue(config.domains());
            Path dir;
            try {
                dir = WorkdirFiles.store(config.workdir(), now, fresh.chainPem(), fresh.keyPem());
            } catch (IOException e) {
                throw new RaException(Reason.CERTBOT_STATE_INVALID, "live", "cannot store the new certificate in "
                        + config.workdir() + " (" + e.getMessage() + ")", e);
            }
            LOG.log(Level.INFO, "new certificate for {0} in {1} (live -> {2}), expires {3}", fresh.domains(),
                    config.liveDir(), dir.getFileName(), fresh.notAfter());
            runHook();
            return Optional.of(fresh);
        } catch (RaException e) {
            throw e;
        } catch (Exception e) {
            throw new RaException(Reason.CERTBOT_STATE_INVALID, "workdir", "lock of " + config.workdir()
                    + " failed (" + e.getClass().getSimpleName() + ")", e);
        }
    }

    /** The certificate in {@code live/}, if any (CERTBOT_STATE_INVALID when it does not parse or only half exists). */
    public Optional<IssuedCertificate> current() throws RaException {
        Path cert = config.liveDir().resolve("cert.pem");
        Path key = config.liveDir().resolve("key.pem");
        String c = readOptional(cert);
        String k = readOptional(key);
        if (c == null && k == null) {
            return Optional.empty();
        }
        if (c == null || k == null) {
            throw new RaException(Reason.CERTBOT_STATE_INVALID, c == null ? "cert" : "key", (c == null ? cert : key)
                    + " is missing while " + (c == null ? key : cert) + " exists");
        }
        try {
            return Optional.of(IssuedCertificate.of(c, k));
        } catch (RaException e) {
            throw new RaException(e.raReason(), e.field(), e.detail() + " (" + config.liveDir() + ")", e);
        }
    }

    /** Pins CAA for every base name of {@code domains} (the four steps of spec §3.9, in order). */
    public synchronized void setCaa() throws RaException {
        AcmeIssuer i = issuer();
        for (String base : bases()) {
            i.setCaa(base);
        }
    }

    /**
     * The daemon loop: {@link #renew(boolean) renew(false)} then wait {@code renew_interval}, until
     * {@code stopped} returns true or the thread is interrupted; failures are logged and retried next round.
     */
    public void run(BooleanSupplier stopped) throws InterruptedException {
        while (!stopped.getAsBoolean()) {
            try {
                renew(false);
            } catch (RaException e) {
                LOG.log(Level.ERROR, "renewal failed (next try in {0} s): {1}", config.renewInterval().toSeconds(),
                        e.getMessage());
            }
            long end = System.nanoTime() + config.renewInterval().toNanos();
            while (!stopped.getAsBoolean()) {
                long left = end - System.nanoTime();
                if (left <= 0) {
                    break;
                }
                Thread.sleep(Duration.ofNanos(Math.min(left, Duration.ofSeconds(1).toNanos())));
            }
        }
    }

    private AcmeIssuer issuer() throws RaException {
        if (issuer != null) {
            return issuer;
        }
        Path file = config.credentialsFile();
        String json = readOptional(file);
        AcmeCredentials creds = null;
        if (json != null) {
            try {
                creds = AcmeCredentials.parse(json);
            } catch (RaException e) {
                throw new RaException(Reason.CERTBOT_STATE_INVALID, e.field(), e.detail() + " (" + file
                        + "; refusing to replace an account that CAA records may pin: move the file away to start"
                        + " a new account)", e);
            }
            if (!creds.acmeUrl().equals(config.acmeUrl().toString())) {
                LOG.log(Level.WARNING, "{0} belongs to {1}, not to acme_url {2}: registering a new account",
                        file, creds.acmeUrl().isEmpty() ? "no recorded ACME server" : creds.acmeUrl(),
                        config.acmeUrl());
                creds = null;
            }
        }
        AcmeIssuer.Builder b = AcmeIssuer.builder().directoryUrl(config.acmeUrl()).dns(dns).txtLookup(txt)
                .dnsTxtTtl(config.dnsTxtTtl()).maxDnsWait(config.maxDnsWait()).orderTimeout(config.renewTimeout())
                .timeout(config.renewTimeout().compareTo(Duration.ofSeconds(30)) < 0 ? config.renewTimeout()
                        : Duration.ofSeconds(30))
                .trustedRoots(roots).clock(clock);
        if (creds != null) {
            b.credentials(creds);
        }
        AcmeIssuer i = b.build();
        if (i.accountCreated()) {
            if (config.autoSetCaa()) {
                for (String base : bases()) {
                    i.setCaa(base);
                }
            }
            try {
                if (json != null) {
                    WorkdirFiles.writeAtomic(config.backupDir().resolve("credentials-" + WorkdirFiles.stamp(
                            clock.instant()) + ".json"), json, true);
                }
                WorkdirFiles.writeAtomic(file, i.credentials().toJson(), true);
            } catch (IOException e) {
                throw new RaException(Reason.CERTBOT_STATE_INVALID, "credentials", "cannot write " + file + " ("
                        + e.getMessage() + ")", e);
            }
            LOG.log(Level.INFO, "created ACME account {0}; credentials in {1}", i.accountUri(), file);
        }
        issuer = i;
        return i;
    }

    private Set<String> bases() {
        Set<String> out = new LinkedHashSet<>();
        for (String d : config.domains()) {
            out.add(Domains.base(d));
        }
        return out;
    }

    private static Set<String> normalized(List<String> names) {
        Set<String> s = new TreeSet<>();
        for (String n : names) {
            s.add(Domains.normalize(n));
        }
        return s;
    }

    private AutoCloseable lock() throws RaException {
        try {
            AutoCloseable l = WorkdirFiles.lock(config.workdir());
            if (l == null) {
                throw new RaException(Reason.CERTBOT_STATE_INVALID, "workdir", "another certbot is renewing in "
                        + config.workdir() + " (.certbot.lock is held)");
            }
            return l;
        } catch (IOException e) {
            throw new RaException(Reason.CERTBOT_STATE_INVALID, "workdir", "cannot lock " + config.workdir() + " ("
                    + e.getMessage() + ")", e);
        }
    }

    private void runHook() {
        if (config.renewedHook().isEmpty()) {
            return;
        }
        LOG.log(Level.INFO, "running renewed_hook");
        try {
            Process p = new ProcessBuilder("/bin/sh", "-c", config.renewedHook().get()).inheritIO().start();
            int rc = p.waitFor();
            if (rc != 0) {
                LOG.log(Level.ERROR, "renewed_hook exited with status {0}", rc);
            }
        } catch (IOException e) {
            LOG.log(Level.ERROR, "renewed_hook could not run: {0}", e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            LOG.log(Level.ERROR, "interrupted while renewed_hook ran");
        }
    }

    private static String readOptional(Path file) throws RaException {
        try (InputStream in = Files.newInputStream(file)) {
            byte[] b = in.readNBytes(MAX_FILE + 1);
            if (b.length > MAX_FILE) {
                throw new RaException(Reason.CERTBOT_STATE_INVALID, file.getFileName().toString(), file
                        + " is larger than " + MAX_FILE + " bytes");
            }
            return new String(b, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            if (Files.isSymbolicLink(file) || Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
                throw new RaException(Reason.CERTBOT_STATE_INVALID, file.getFileName().toString(), file
                        + " is a dangling link");
            }
            return null;
        } catch (IOException e) {
            throw new RaException(Reason.CERTBOT_STATE_INVALID, file.getFileName().toString(), file
                    + " cannot be read (" + e.getClass().getSimpleName() + ")", e);
        }
    }

    private static List<X509Certificate> readRoots(Path pem) throws RaException {
        byte[] b;
        try (InputStream in = Files.newInputStream(pem)) {
            b = in.readNBytes(MAX_FILE + 1);
        } catch (IOException e) {
            throw new RaException(Reason.CONFIG_FILE_UNREADABLE, "acme_ca_cert", pem + " cannot be read ("
                    + e.getClass().getSimpleName() + ")");
        }
        if (b.length > MAX_FILE) {
            throw new RaException(Reason.CONFIG_INVALID, "acme_ca_cert", pem + " is larger than " + MAX_FILE + " bytes");
        }
        try {
            List<X509Certificate> out = new ArrayList<>();
            for (var c : CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(b))) {
                out.add((X509Certificate) c);
            }
            if (out.isEmpty()) {
                throw new RaException(Reason.CONFIG_INVALID, "acme_ca_cert", pem + " holds no certificate");
            }
            return out;
        } catch (CertificateException e) {
            throw new RaException(Reason.CONFIG_INVALID, "acme_ca_cert", pem + " is not PEM X.509 certificates");
        }
    }
}
