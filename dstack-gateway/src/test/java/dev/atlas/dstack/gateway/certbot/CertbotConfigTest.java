package dev.atlas.dstack.gateway.certbot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** dstack's {@code certbot.toml} (upstream {@code certbot/cli/src/main.rs} {@code Config}): every key, defaults, refusals. */
class CertbotConfigTest {
    /** A certbot.toml with every key upstream documents (as its {@code cfg} writes them) plus ours. */
    static final String FULL = """
            # Path to the working directory
            workdir = "/var/lib/certbot"
            # ACME server URL
            acme_url = "https://acme-v02.api.letsencrypt.org/directory"
            # Cloudflare API token
            cf_api_token = "secret-token-value"
            # Optional Cloudflare-compatible API base URL
            cf_api_url = "https://cf.example.com/client/v4"
            # TTL for DNS TXT challenge records in seconds
            dns_txt_ttl = 120
            # Auto set CAA record
            auto_set_caa = false
            # List of domains to issue certificates for
            domains = ["*.app.example.com", "app.example.com"]
            # Renew interval in seconds
            renew_interval = 600
            # Number of days before expiration to trigger renewal
            renew_days_before = 20
            # Renew timeout in seconds
            renew_timeout = 90
            # Maximum time to wait for DNS propagation in seconds
            max_dns_wait = 45
            # Command to run after renewal
            renewed_hook = "systemctl reload nginx"
            acme_ca_cert = "/etc/atlas/acme-ca.pem"
            """;

    @Test
    void readsEveryKey(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("certbot.toml");
        Files.writeString(f, FULL);
        CertbotConfig c = CertbotConfig.load(f);
        assertEquals(Path.of("/var/lib/certbot"), c.workdir());
        assertEquals(URI.create("https://acme-v02.api.letsencrypt.org/directory"), c.acmeUrl());
        assertEquals("secret-token-value", c.cfApiToken());
        assertEquals(URI.create("https://cf.example.com/client/v4"), c.cfApiUrl());
        assertEquals(120, c.dnsTxtTtl());
        assertFalse(c.autoSetCaa());
        assertEquals(List.of("*.app.example.com", "app.example.com"), c.domains());
        assertEquals(Duration.ofSeconds(600), c.renewInterval());
        assertEquals(Duration.ofDays(20), c.renewDaysBefore());
        assertEquals(Duration.ofSeconds(90), c.renewTimeout());
        assertEquals(Duration.ofSeconds(45), c.maxDnsWait());
        assertEquals(Optional.of("systemctl reload nginx"), c.renewedHook());
        assertEquals(Optional.of(Path.of("/etc/atlas/acme-ca.pem")), c.acmeCaCert());
        assertEquals(Path.of("/var/lib/certbot/credentials.json"), c.credentialsFile());
        assertEquals(Path.of("/var/lib/certbot/live"), c.liveDir());
        assertEquals(Path.of("/var/lib/certbot/backup"), c.backupDir());
        assertFalse(c.toString().contains("secret-token-value"), "the token never in toString");
        assertEquals(c, c.toBuilder().build());
    }

    @Test
    void defaultsAreUpstreamsCfgTemplate() throws Exception {
        CertbotConfig c = CertbotConfig.parse("""
                acme_url = "https://acme-staging-v02.api.letsencrypt.org/directory"
                cf_api_token = "t"
                domains = ["example.com"]
                """, "certbot.toml");
        assertEquals(Path.of("."), c.workdir());
        assertEquals(CloudflareDns.DEFAULT_API_URL, c.cfApiUrl());
        assertEquals(60, c.dnsTxtTtl());
        assertTrue(c.autoSetCaa());
        assertEquals(Duration.ofSeconds(3600), c.renewInterval());
        assertEquals(Duration.ofDays(10), c.renewDaysBefore());
        assertEquals(Duration.ofSeconds(120), c.renewTimeout());
        assertEquals(Duration.ofSeconds(300), c.maxDnsWait());
        assertEquals(Optional.empty(), c.renewedHook());
        assertEquals(Optional.empty(), c.acmeCaCert());
    }

    @Test
    void theCfgTemplateLoadsOnceItHasAToken() throws Exception {
        CertbotConfig c = CertbotConfig.parse(CertbotConfig.template().replace("cf_api_token = \"\"",
                "cf_api_token = \"x\""), "cfg");
        assertEquals(CertbotConfig.DEFAULT_ACME_URL, c.acmeUrl());
        assertEquals(List.of("example.com"), c.domains());
        RaException e = assertThrows(RaException.class, () -> CertbotConfig.parse(CertbotConfig.template(), "cfg"));
        assertEquals("cf_api_token", e.field());
    }

    @Test
    void unknownKeysAreNamed() {
        RaException e = assertThrows(RaException.class, () -> CertbotConfig.parse(FULL + "renew_days = 3\n"
                + "[extra]\nx = 1\n", "certbot.toml"));
        assertEquals(Reason.CONFIG_INVALID, e.raReason());
        assertEquals("renew_days", e.field());
        assertTrue(e.getMessage().contains("unknown keys renew_days, extra"), e.getMessage());
        assertTrue(e.getMessage().contains("(in certbot.toml"), e.getMessage());
    }

    /** One mutation of FULL each; the field and the reason are named, the token never quoted. */
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "dns_txt_ttl = 120|dns_txt_ttl = \"120\"|dns_txt_ttl|expected an integer",
        "dns_txt_ttl = 120|dns_txt_ttl = 0|dns_txt_ttl|must be 1..86400",
        "auto_set_caa = false|auto_set_caa = 1|auto_set_caa|expected a boolean",
        "renew_interval = 600|renew_interval = \"10m\"|renew_interval|expected an integer",
        "renew_interval = 600|renew_interval = 0|renew_interval|must be",
        "renew_days_before = 20|renew_days_before = -1|renew_days_before|must be",
        "max_dns_wait = 45|max_dns_wait = 4.5|max_dns_wait|expected an integer",
        "domains = [\"*.app.example.com\", \"app.example.com\"]|domains = []|domains|at least one",
        "domains = [\"*.app.example.com\", \"app.example.com\"]|domains = \"app.example.com\"|domains|expected an array",
        "domains = [\"*.app.example.com\", \"app.example.com\"]|domains = [\"a..b.com\"]|domains[0]|not a DNS name",
        "domains = [\"*.app.example.com\", \"app.example.com\"]|domains = [\"x.com\", \"X.com\"]|domains[1]|duplicate",
        "domains = [\"*.app.example.com\", \"app.example.com\"]|domains = [\"*.*.x.com\"]|domains[0]|not a DNS name",
        "acme_url = \"https://acme-v02.api.letsencrypt.org/directory\"|acme_url = \"http://acme.example/dir\"|acme_url|must be https",
        "acme_url = \"https://acme-v02.api.letsencrypt.org/directory\"|acme_url = \"directory\"|acme_url|not an absolute URL",
        "cf_api_url = \"https://cf.example.com/client/v4\"|cf_api_url = \"ftp://cf.example.com/\"|cf_api_url|must be an https URL",
        "cf_api_token = \"secret-token-value\"|cf_api_token = \"\"|cf_api_token|missing or empty",
        "cf_api_token = \"secret-token-value\"|cf_api_token = \"secret token\"|cf_api_token|HTTP header",
        "workdir = \"/var/lib/certbot\"|workdir = 3|workdir|expected a string",
        "renewed_hook = \"systemctl reload nginx\"|renewed_hook = [\"x\"]|renewed_hook|expected a string",
    })
    void oneMutationIsRefusedWithItsField(String from, String to, String field, String why) {
        assertTrue(FULL.contains(from), from);
        RaException e = assertThrows(RaException.class, () -> CertbotConfig.parse(FULL.replace(from, to),
                "certbot.toml"));
        assertEquals(Reason.CONFIG_INVALID, e.raReason());
        assertEquals(field, e.field(), e.getMessage());
        assertTrue(e.getMessage().contains(why), e.getMessage());
        assertFalse(e.getMessage().contains("secret"), e.getMessage());
    }

    @Test
    void notTomlTooLargeAndUnreadable(@TempDir Path dir) throws Exception {
        RaException e = assertThrows(RaException.class, () -> CertbotConfig.parse(
                "cf_api_token = \"secret-token-value\nx", "certbot.toml"));
        assertTrue(e.getMessage().contains("is not valid TOML"), e.getMessage());
        assertFalse(e.getMessage().contains("secret"));
        Path big = dir.resolve("big.toml");
        Files.write(big, new byte[(1 << 20) + 1]);
        assertEquals(Reason.CONFIG_INVALID, assertThrows(RaException.class, () -> CertbotConfig.load(big)).raReason());
        assertEquals(Reason.CONFIG_FILE_UNREADABLE, assertThrows(RaException.class,
                () -> CertbotConfig.load(dir.resolve("missing.toml"))).raReason());
        // http is accepted for a loopback stand-in only
        CertbotConfig local = CertbotConfig.parse(FULL.replace("https://cf.example.com/client/v4",
                "http://127.0.0.1:8080/client/v4"), "certbot.toml");
        assertEquals("127.0.0.1", local.cfApiUrl().getHost());
    }
}
