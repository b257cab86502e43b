package dev.atlas.dstack.gateway.certbot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.testing.CloudflareStandIn;
import dev.atlas.dstack.testing.Pebble;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.interfaces.ECPublicKey;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole certbot against Debian's pebble and the Cloudflare stand-in (one of each for the class): wildcard +
 * base issuance chaining to pebble's root with a fresh P-256 key each time, account reuse, renewal by the
 * injected clock and --force, live/ and backup/ layout, renewed_hook, auto CAA, CAA pinning's four steps.
 */
class CertbotPebbleTest {
    static final String TOKEN = AcmeFixture.TOKEN;
    static CloudflareStandIn cf;
    static Pebble pebble;

    @BeforeAll
    static void start() {
        assumeTrue(Pebble.available(), Pebble.MISSING);
        cf = AcmeFixture.cloudflare();
        pebble = AcmeFixture.pebble();
    }

    static CertbotConfig.Builder config(Path workdir, String... domains) {
        return CertbotConfig.builder().workdir(workdir).acmeUrl(pebble.directoryUrl()).cfApiToken(TOKEN)
                .cfApiUrl(cf.apiUrl()).domains(List.of(domains)).maxDnsWait(Duration.ofSeconds(5))
                .renewTimeout(Duration.ofSeconds(20));
    }

    static Certbot certbot(CertbotConfig c, Clock clock) throws RaException {
        return Certbot.create(c, CloudflareDns.create(c.cfApiUrl(), c.cfApiToken(), Duration.ofSeconds(5)),
                TxtLookup.server(cf.dnsAddress()), clock, pebble.trustedRoots());
    }

    @Test
    void issuesWildcardAndBaseRenewsWithFreshKeysAndReusesTheAccount(@TempDir Path dir) throws Exception {
        Path hookOut = dir.resolve("hook-ran");
        CertbotConfig c = config(dir.resolve("work"), "*.example.test", "example.test")
                .renewedHook("echo renewed >> " + hookOut).build();
        Certbot bot = certbot(c, Clock.systemUTC());
        IssuedCertificate first = bot.renew(false).orElseThrow();

        // the names, the key (P-256, ours), the chain up to pebble's issuing root
        assertEquals(List.of("*.example.test", "example.test"), first.domains().stream().sorted().toList());
        X509Certificate leaf = first.chain().get(0);
        assertTrue(leaf.getPublicKey() instanceof ECPublicKey ec
                && ec.getParams().getCurve().getField().getFieldSize() == 256, "a P-256 leaf key");
        List<X509Certificate> chain = first.chain();
        for (int i = 0; i + 1 < chain.size(); i++) {
            chain.get(i).verify(chain.get(i + 1).getPublicKey());
        }
        X509Certificate root = pebble.issuingRoot();
        chain.get(chain.size() - 1).verify(root.getPublicKey());
        assertArrayEquals(leaf.getPublicKey().getEncoded(), first.publicKeySpki());

        // the files: live -> backup/<time>, credentials.json, and the hook ran once
        assertEquals(first.chainPem(), Files.readString(c.liveDir().resolve("cert.pem")));
        assertEquals(first.keyPem(), Files.readString(c.liveDir().resolve("key.pem")));
        assertTrue(Files.isSymbolicLink(c.liveDir()));
        assertEquals("renewed\n", Files.readString(hookOut));
        AcmeCredentials creds = AcmeCredentials.parse(Files.readString(c.credentialsFile()));
        assertEquals(pebble.directoryUrl().toString(), creds.acmeUrl());

        // no challenge record left behind; auto_set_caa pinned the new account
        assertTrue(cf.records("example.test").stream().noneMatch(r -> r.type().equals("TXT")));
        List<String> caa = cf.records("example.test").stream().filter(r -> r.type().equals("CAA"))
                .map(r -> r.content()).sorted().toList();
        String pin = "letsencrypt.org;validationmethods=dns-01;accounturi=" + creds.accountUri();
        assertEquals(List.of("0 issue \"" + pin + "\"", "0 issuewild \"" + pin + "\""), caa);

        // not due: nothing happens
        assertEquals(Optional.empty(), bot.renew(false));

        // a new process (new Certbot) reuses credentials.json; --force renews with a fresh key
        String credsJson = Files.readString(c.credentialsFile());
        Certbot again = certbot(c, Clock.systemUTC());
        IssuedCertificate second = again.renew(true).orElseThrow();
        assertEquals(credsJson, Files.readString(c.credentialsFile()));
        assertEquals(creds.accountUri(), again.init().accountUri());
        assertFalse(java.util.Arrays.equals(first.publicKeySpki(), second.publicKeySpki()), "a fresh key");
        assertNotEquals(first.keyPem(), Files.readString(c.liveDir().resolve("key.pem")));
        assertEquals(second.chainPem(), Files.readString(c.liveDir().resolve("cert.pem")));
        try (Stream<Path> s = Files.list(c.backupDir())) {
            assertEquals(2, s.filter(p -> Files.exists(p.resolve("cert.pem"))).count(), "one backup per issuance");
        }
        assertEquals("renewed\nrenewed\n", Files.readString(hookOut));
    }

    @Test
    void renewalIsDueByTheInjectedClock(@TempDir Path dir) throws Exception {
        CertbotConfig c = config(dir, "due.example.test").autoSetCaa(false).renewDaysBefore(Duration.ofDays(10))
                .build();
        IssuedCertificate cert = certbot(c, Clock.systemUTC()).renew(false).orElseThrow();
        Instant due = cert.notAfter().minus(Duration.ofDays(10));
        Clock before = Clock.fixed(due.minusSeconds(1), ZoneOffset.UTC);
        Clock at = Clock.fixed(due, ZoneOffset.UTC);
        assertEquals(Optional.empty(), certbot(c, before).renew(false), "one second before the renewal window");
        IssuedCertificate renewed = certbot(c, at).renew(false).orElseThrow();
        assertFalse(java.util.Arrays.equals(cert.publicKeySpki(), renewed.publicKeySpki()));
        assertEquals(renewed, certbot(c, at).current().orElseThrow());
        // names changed in certbot.toml: renewed although not due
        CertbotConfig more = c.toBuilder().domains(List.of("due.example.test", "due2.example.test")).build();
        IssuedCertificate widened = certbot(more, before).renew(false).orElseThrow();
        assertEquals(List.of("due.example.test", "due2.example.test"), widened.domains().stream().sorted().toList());
    }

    @Test
    void caaPinningRunsTheFourStepsInOrder(@TempDir Path dir) throws Exception {
        CertbotConfig c = config(dir, "*.other.test").autoSetCaa(false).build();
        Certbot bot = certbot(c, Clock.systemUTC());
        String account = bot.init().accountUri();
        cf.putRecord("other.test", "other.test", "CAA", "0 issue \"ca.example\"");
        cf.putRecord("other.test", "other.test", "CAA", "0 issuewild \"ca.example\"");
        cf.putRecord("other.test", "other.test", "CAA", "0 iodef \"mailto:sec@other.test\"");
        cf.putRecord("other.test", "other.test", "TXT", "v=spf1 -all");
        cf.clearLog();
        bot.setCaa();
        String pin = "letsencrypt.org;validationmethods=dns-01;accounturi=" + account;
        List<String> calls = cf.requestLog().stream().filter(l -> !l.startsWith("GET /zones")).toList();
        assertEquals(List.of(
                "POST CAA other.test 0 issue \";\"",
                "POST CAA other.test 0 issuewild \";\"",
                "GET records other.test CAA",
                "DELETE CAA other.test 0 issue \"ca.example\"",
                "DELETE CAA other.test 0 issuewild \"ca.example\"",
                "POST CAA other.test 0 issue \"" + pin + "\"",
                "POST CAA other.test 0 issuewild \"" + pin + "\"",
                "DELETE CAA other.test 0 issue \";\"",
                "DELETE CAA other.test 0 issuewild \";\""), calls);
        List<String> left = cf.records("other.test").stream().map(r -> r.type() + " " + r.content()).sorted()
                .toList();
        assertEquals(List.of("CAA 0 iodef \"mailto:sec@other.test\"", "CAA 0 issue \"" + pin + "\"",
                "CAA 0 issuewild \"" + pin + "\"", "TXT v=spf1 -all"), left);
        // a failure names the step, and an issuance with the pinned account still works
        cf.failNext(CloudflareStandIn.Failure.SERVER_ERROR, "DELETE", 1);
        RaException e = assertThrows(RaException.class, bot::setCaa);
        assertEquals(RaException.Reason.DNS_API_FAILED, e.raReason());
        assertTrue(e.getMessage().contains("step 2 (remove the other issue/issuewild records)"), e.getMessage());
        assertTrue(bot.renew(false).isPresent());
    }
}
