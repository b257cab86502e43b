package dev.atlas.dstack.gateway.certbot;

import dev.atlas.dstack.ra.RaException;
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
        throw new UnsupportedOperationException("skeleton");
    }

    /** Parses {@code certbot.toml} text; {@code source} names the file in messages. */
    public static CertbotConfig parse(String toml, String source) throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }

    /** The commented template {@code atlas certbot cfg} prints (dstack's defaults). */
    public static String template() {
        throw new UnsupportedOperationException("skeleton");
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
            throw new UnsupportedOperationException("skeleton");
        }
    }
}
