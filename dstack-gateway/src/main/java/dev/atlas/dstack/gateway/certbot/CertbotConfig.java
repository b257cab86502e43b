package dev.atlas.dstack.gateway.certbot;

import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import dev.atlas.dstack.gateway.certbot.internal.Domains;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.config.ConfigTree;
import java.net.URISyntaxException;
import java.nio.file.InvalidPathException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * dstack's {@code certbot.toml} (spec §3.9; upstream {@code certbot/cli/src/main.rs} {@code Config}), unchanged,
 * plus one key of ours: {@code acme_ca_cert} (PEM file of extra roots trusted for the ACME server's HTTPS, for a
 * private or test ACME server; the JDK's roots are always trusted too). {@code cf_api_token} never appears in
 * {@link #toString()}.
 *
 * @param workdir         {@code workdir}: holds {@code credentials.json}, {@code live/}, {@code backup/}
 * @param acmeUrl         {@code acme_url}: the ACME directory URL
 * @param cfApiToken      {@code cf_api_token} (secret)
 * @param cfApiUrl        {@code cf_api_url}, default {@link CloudflareDns#DEFAULT_API_URL}
 * @param dnsTxtTtl       {@code dns_txt_ttl} seconds, default 60
 * @param autoSetCaa      {@code auto_set_caa}: set CAA records when a new account is created, default true
 * @param domains         {@code domains}: the certificate's names (first one's base name picks the zone)
 * @param renewInterval   {@code renew_interval} seconds, default 3600
 * @param renewDaysBefore {@code renew_days_before} days, default 10 (as a Duration)
 * @param renewTimeout    {@code renew_timeout} seconds, default 120
 * @param maxDnsWait      {@code max_dns_wait} seconds, default 300
 * @param renewedHook     {@code renewed_hook}: shell command run ({@code /bin/sh -c}) after a renewal
 * @param acmeCaCert      ours: {@code acme_ca_cert}
 */
public record CertbotConfig(Path workdir, URI acmeUrl, String cfApiToken, URI cfApiUrl, int dnsTxtTtl,
        boolean autoSetCaa, List<String> domains, Duration renewInterval, Duration renewDaysBefore,
        Duration renewTimeout, Duration maxDnsWait, Optional<String> renewedHook, Optional<Path> acmeCaCert) {

    /** The default {@code acme_url} of dstack's {@code cfg} template: Let's Encrypt staging. */
    public static final URI DEFAULT_ACME_URL = URI.create("https://acme-staging-v02.api.letsencrypt.org/directory");

    public CertbotConfig {
        Objects.requireNonNull(workdir, "workdir");
        Objects.requireNonNull(acmeUrl, "acme_url");
        Objects.requireNonNull(cfApiToken, "cf_api_token");
        Objects.requireNonNull(cfApiUrl, "cf_api_url");
        domains = List.copyOf(domains);
        Objects.requireNonNull(renewInterval, "renew_interval");
        Objects.requireNonNull(renewDaysBefore, "renew_days_before");
        Objects.requireNonNull(renewTimeout, "renew_timeout");
        Objects.requireNonNull(maxDnsWait, "max_dns_wait");
        Objects.requireNonNull(renewedHook, "renewed_hook");
        Objects.requireNonNull(acmeCaCert, "acme_ca_cert");
    }

    /** Reads and validates a {@code certbot.toml}; unknown keys are refused by name (CONFIG_INVALID). */
    public static CertbotConfig load(Path file) throws RaException {
        byte[] bytes = ConfigTree.readFile(file);
        return parse(ConfigTree.text(bytes, file.toString()), file.toString());
    }

    /** Parses {@code certbot.toml} text; {@code source} names the file in messages. */
    public static CertbotConfig parse(String toml, String source) throws RaException {
        Objects.requireNonNull(toml, "toml");
        Objects.requireNonNull(source, "source");
        if (toml.length() > ConfigTree.MAX_BYTES) {
            throw new RaException(Reason.CONFIG_INVALID, source, "larger than " + ConfigTree.MAX_BYTES + " bytes");
        }
        ConfigTree tree = ConfigTree.of(ConfigTree.parseToml(toml, TOML, source), source);
        ConfigTree.Table t = tree.root();
        Builder b = builder();
        String workdir = t.string("workdir", ".");
        b.workdir(path(t, "workdir", workdir));
        b.acmeUrl(uri(t, "acme_url", t.string("acme_url")));
        b.cfApiToken(t.string("cf_api_token"));
        Optional<String> cfUrl = t.optString("cf_api_url");
        if (cfUrl.isPresent()) {
            b.cfApiUrl(uri(t, "cf_api_url", cfUrl.get()));
        }
        b.dnsTxtTtl((int) t.integer("dns_txt_ttl", 60, 1, MAX_TTL));
        b.autoSetCaa(t.bool("auto_set_caa", true));
        b.domains(t.strings("domains"));
        b.renewInterval(Duration.ofSeconds(t.integer("renew_interval", 3600, 1, MAX_SECONDS)));
        b.renewDaysBefore(Duration.ofDays(t.integer("renew_days_before", 10, 0, MAX_DAYS)));
        b.renewTimeout(Duration.ofSeconds(t.integer("renew_timeout", 120, 1, MAX_SECONDS)));
        b.maxDnsWait(Duration.ofSeconds(t.integer("max_dns_wait", 300, 0, MAX_SECONDS)));
        Optional<String> hook = t.optString("renewed_hook");
        if (hook.isPresent() && !hook.get().isBlank()) {
            b.renewedHook(hook.get());
        }
        Optional<String> ca = t.optString("acme_ca_cert");
        if (ca.isPresent() && !ca.get().isBlank()) {
            b.acmeCaCert(path(t, "acme_ca_cert", ca.get()));
        }
        List<String> unknown = tree.unknownKeys();
        if (!unknown.isEmpty()) {
            throw new RaException(Reason.CONFIG_INVALID, unknown.get(0), "unknown key" + (unknown.size() > 1
                    ? "s " + String.join(", ", unknown) : "") + " (in " + source + "; dstack's certbot.toml keys: "
                    + String.join(", ", KEYS) + ")");
        }
        return b.build(source);
    }

    /** Every key {@link #parse} reads, in dstack's order (ours last). */
    public static final List<String> KEYS = List.of("workdir", "acme_url", "cf_api_token", "cf_api_url",
            "dns_txt_ttl", "auto_set_caa", "domains", "renew_interval", "renew_days_before", "renew_timeout",
            "max_dns_wait", "renewed_hook", "acme_ca_cert");

    private static final TomlMapper TOML = new TomlMapper();
    private static final long MAX_TTL = 86_400;
    private static final long MAX_SECONDS = 10L * 365 * 86_400;
    private static final long MAX_DAYS = 3650;
    private static final int MAX_DOMAINS = 100;

    private static Path path(ConfigTree.Table t, String key, String value) throws RaException {
        try {
            if (value.isEmpty() || value.indexOf('\0') >= 0) {
                throw t.invalid(key, "not a path");
            }
            return Path.of(value);
        } catch (InvalidPathException e) {
            throw t.invalid(key, "not a path");
        }
    }

    private static URI uri(ConfigTree.Table t, String key, String value) throws RaException {
        try {
            URI u = new URI(value);
            if (u.getScheme() == null || u.getHost() == null) {
                throw t.invalid(key, "not an absolute URL with a host");
            }
            return u;
        } catch (URISyntaxException e) {
            throw t.invalid(key, "not a URL");
        }
    }

    /** The commented template {@code atlas certbot cfg} prints (dstack's {@code cfg} defaults). */
    public static String template() {
        return """
                # Working directory: credentials.json, live/cert.pem, live/key.pem, backup/<time>/
                workdir = "."
                # ACME directory URL (this default is Let's Encrypt staging)
                acme_url = "https://acme-staging-v02.api.letsencrypt.org/directory"
                # Cloudflare API token (Zone.DNS edit on the domains' zone)
                cf_api_token = ""
                # Optional Cloudflare-compatible API base URL (default https://api.cloudflare.com/client/v4)
                # cf_api_url = "https://api.cloudflare.com/client/v4"
                # TTL of the DNS-01 challenge TXT records, in seconds
                dns_txt_ttl = 60
                # Set the CAA records when a new ACME account is created
                auto_set_caa = true
                # Names of the certificate (a wildcard "*.example.com" is allowed)
                domains = ["example.com"]
                # Seconds between two renewal checks of "atlas certbot renew" without --once
                renew_interval = 3600
                # Renew when the certificate expires within this many days
                renew_days_before = 10
                # Seconds one renewal may take
                renew_timeout = 120
                # Seconds to wait for the challenge TXT records to be visible in DNS
                max_dns_wait = 300
                # Shell command run (/bin/sh -c) after a new certificate is in live/
                # renewed_hook = "systemctl reload nginx"
                # Ours: PEM file of extra CA certificates trusted for the ACME server's HTTPS (private or test CA)
                # acme_ca_cert = "/etc/atlas/acme-ca.pem"
                """;
    }

    /** {@code workdir/credentials.json}. */
    public Path credentialsFile() {
        return workdir.resolve("credentials.json");
    }

    /** {@code workdir/live}. */
    public Path liveDir() {
        return workdir.resolve("live");
    }

    /** {@code workdir/backup}. */
    public Path backupDir() {
        return workdir.resolve("backup");
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.workdir = workdir;
        b.acmeUrl = acmeUrl;
        b.cfApiToken = cfApiToken;
        b.cfApiUrl = cfApiUrl;
        b.dnsTxtTtl = dnsTxtTtl;
        b.autoSetCaa = autoSetCaa;
        b.domains = domains;
        b.renewInterval = renewInterval;
        b.renewDaysBefore = renewDaysBefore;
        b.renewTimeout = renewTimeout;
        b.maxDnsWait = maxDnsWait;
        b.renewedHook = renewedHook.orElse(null);
        b.acmeCaCert = acmeCaCert.orElse(null);
        return b;
    }

    @Override
    public String toString() {
        return "CertbotConfig[workdir=" + workdir + ", acme_url=" + acmeUrl + ", cf_api_token=<redacted>, cf_api_url="
                + cfApiUrl + ", dns_txt_ttl=" + dnsTxtTtl + ", auto_set_caa=" + autoSetCaa + ", domains=" + domains
                + ", renew_interval=" + renewInterval + ", renew_days_before=" + renewDaysBefore + ", renew_timeout="
                + renewTimeout + ", max_dns_wait=" + maxDnsWait + ", renewed_hook=" + renewedHook.orElse("")
                + ", acme_ca_cert=" + acmeCaCert.map(Path::toString).orElse("") + "]";
    }

    /** Validating builder; defaults are dstack's {@code cfg} template values. */
    public static final class Builder {
        private Path workdir = Path.of(".");
        private URI acmeUrl = DEFAULT_ACME_URL;
        private String cfApiToken;
        private URI cfApiUrl = CloudflareDns.DEFAULT_API_URL;
        private int dnsTxtTtl = 60;
        private boolean autoSetCaa = true;
        private List<String> domains = List.of();
        private Duration renewInterval = Duration.ofSeconds(3600);
        private Duration renewDaysBefore = Duration.ofDays(10);
        private Duration renewTimeout = Duration.ofSeconds(120);
        private Duration maxDnsWait = Duration.ofSeconds(300);
        private String renewedHook;
        private Path acmeCaCert;

        private Builder() {
        }

        public Builder workdir(Path v) { this.workdir = v; return this; }
        public Builder acmeUrl(URI v) { this.acmeUrl = v; return this; }
        public Builder cfApiToken(String v) { this.cfApiToken = v; return this; }
        public Builder cfApiUrl(URI v) { this.cfApiUrl = v; return this; }
        public Builder dnsTxtTtl(int v) { this.dnsTxtTtl = v; return this; }
        public Builder autoSetCaa(boolean v) { this.autoSetCaa = v; return this; }
        public Builder domains(List<String> v) { this.domains = v; return this; }
        public Builder renewInterval(Duration v) { this.renewInterval = v; return this; }
        public Builder renewDaysBefore(Duration v) { this.renewDaysBefore = v; return this; }
        public Builder renewTimeout(Duration v) { this.renewTimeout = v; return this; }
        public Builder maxDnsWait(Duration v) { this.maxDnsWait = v; return this; }
        public Builder renewedHook(String v) { this.renewedHook = v; return this; }
        public Builder acmeCaCert(Path v) { this.acmeCaCert = v; return this; }

        /** Validates (CONFIG_INVALID naming the key) and builds. */
        public CertbotConfig build() throws RaException {
            return build("CertbotConfig");
        }

        CertbotConfig build(String source) throws RaException {
            String in = " (in " + source + ")";
            if (workdir == null) {
                throw new RaException(Reason.CONFIG_INVALID, "workdir", "missing" + in);
            }
            checkUrl("acme_url", acmeUrl, in);
            if (cfApiToken == null || cfApiToken.isBlank()) {
                throw new RaException(Reason.CONFIG_INVALID, "cf_api_token", "missing or empty" + in);
            }
            if (cfApiToken.chars().anyMatch(c -> c < 0x21 || c > 0x7e)) {
                throw new RaException(Reason.CONFIG_INVALID, "cf_api_token",
                        "contains a character that cannot go in an HTTP header" + in);
            }
            checkUrl("cf_api_url", cfApiUrl, in);
            if (dnsTxtTtl < 1 || dnsTxtTtl > MAX_TTL) {
                throw new RaException(Reason.CONFIG_INVALID, "dns_txt_ttl", "must be 1.." + MAX_TTL + in);
            }
            if (domains == null || domains.isEmpty()) {
                throw new RaException(Reason.CONFIG_INVALID, "domains", "must name at least one domain" + in);
            }
            if (domains.size() > MAX_DOMAINS) {
                throw new RaException(Reason.CONFIG_INVALID, "domains", "more than " + MAX_DOMAINS + " names" + in);
            }
            List<String> norm = new java.util.ArrayList<>();
            for (int i = 0; i < domains.size(); i++) {
                String d = domains.get(i);
                String why = d == null ? "missing" : Domains.problem(d);
                if (why != null) {
                    throw new RaException(Reason.CONFIG_INVALID, "domains[" + i + "]", why + in);
                }
                String n = Domains.normalize(d);
                if (norm.contains(n)) {
                    throw new RaException(Reason.CONFIG_INVALID, "domains[" + i + "]", "duplicate name " + n + in);
                }
                norm.add(n);
            }
            positive("renew_interval", renewInterval, in);
            if (renewDaysBefore == null || renewDaysBefore.isNegative()) {
                throw new RaException(Reason.CONFIG_INVALID, "renew_days_before", "must be 0 or more" + in);
            }
            positive("renew_timeout", renewTimeout, in);
            if (maxDnsWait == null || maxDnsWait.isNegative()) {
                throw new RaException(Reason.CONFIG_INVALID, "max_dns_wait", "must be 0 or more" + in);
            }
            String hook = renewedHook == null || renewedHook.isBlank() ? null : renewedHook;
            return new CertbotConfig(workdir, acmeUrl, cfApiToken, cfApiUrl, dnsTxtTtl, autoSetCaa, norm,
                    renewInterval, renewDaysBefore, renewTimeout, maxDnsWait, Optional.ofNullable(hook),
                    Optional.ofNullable(acmeCaCert));
        }

        private static void positive(String key, Duration d, String in) throws RaException {
            if (d == null || d.isZero() || d.isNegative()) {
                throw new RaException(Reason.CONFIG_INVALID, key, "must be at least 1 second" + in);
            }
        }

        /** https, or http only to a loopback host (a local stand-in or test server). */
        private static void checkUrl(String key, URI u, String in) throws RaException {
            if (u == null) {
                throw new RaException(Reason.CONFIG_INVALID, key, "missing" + in);
            }
            String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(java.util.Locale.ROOT);
            if (u.getHost() == null || !(scheme.equals("https") || scheme.equals("http"))) {
                throw new RaException(Reason.CONFIG_INVALID, key, "must be an https URL with a host" + in);
            }
            if (scheme.equals("http") && !Domains.isLoopbackHost(u.getHost())) {
                throw new RaException(Reason.CONFIG_INVALID, key, "must be https (plain http is accepted only"
                        + " for a loopback host, got " + u.getHost() + ")" + in);
            }
            if (u.getRawUserInfo() != null) {
                throw new RaException(Reason.CONFIG_INVALID, key, "must not carry user info" + in);
            }
        }
    }
}
