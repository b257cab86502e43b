package dev.atlas.dstack.gateway.certbot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.net.httpserver.HttpServer;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.testing.CloudflareStandIn;
import dev.atlas.dstack.testing.CloudflareStandIn.Failure;
import dev.atlas.dstack.testing.Pebble;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bad-input list of issue 19 through the whole certbot (pebble + stand-in): each failure reported with its
 * reason and cause, and the workdir left exactly as it was (no half-written live/, backup/ or credentials.json).
 */
class CertbotFailuresTest {
    static CloudflareStandIn cf;
    static Pebble pebble;

    @BeforeAll
    static void start() {
        assumeTrue(Pebble.available(), Pebble.MISSING);
        cf = AcmeFixture.cloudflare();
        pebble = AcmeFixture.pebble();
    }

    static CertbotConfig.Builder config(Path workdir, String... domains) {
        return CertbotConfig.builder().workdir(workdir).acmeUrl(pebble.directoryUrl()).cfApiToken(AcmeFixture.TOKEN)
                .cfApiUrl(cf.apiUrl()).domains(List.of(domains)).autoSetCaa(false).maxDnsWait(Duration.ofSeconds(5))
                .renewTimeout(Duration.ofSeconds(20));
    }

    static Certbot certbot(CertbotConfig c, Duration cfTimeout) throws RaException {
        return Certbot.create(c, CloudflareDns.create(c.cfApiUrl(), c.cfApiToken(), cfTimeout),
                TxtLookup.server(cf.dnsAddress()), Clock.systemUTC(), pebble.trustedRoots());
    }

    /** Every file under the workdir with its content (symlinks as their targets). */
    static Map<String, String> snapshot(Path dir) throws IOException {
        Map<String, String> out = new TreeMap<>();
        if (!Files.exists(dir)) {
            return out;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String rel = dir.relativize(p).toString();
                if (rel.isEmpty() || rel.equals(".certbot.lock")) {
                    continue;
                }
                if (Files.isSymbolicLink(p)) {
                    out.put(rel, "-> " + Files.readSymbolicLink(p));
                } else if (Files.isRegularFile(p)) {
                    out.put(rel, Files.readString(p));
                } else {
                    out.put(rel, "dir");
                }
            }
        }
        return out;
    }

    @Test
    void cloudflareFailuresDuringIssuanceLeaveTheWorkdirAsItWas(@TempDir Path dir) throws Exception {
        CertbotConfig c = config(dir, "f.fail.test").build();
        Certbot bot = certbot(c, Duration.ofMillis(1000));
        bot.renew(false).orElseThrow();
        Map<String, String> before = snapshot(dir);
        record Case(Failure failure, String call, String expect) {
        }
        for (Case k : List.of(
                new Case(Failure.SERVER_ERROR, "POST", "HTTP 500: [10000] Internal Server Error"),
                new Case(Failure.API_ERROR, "POST", "HTTP 400: [1004] DNS Validation Error"),
                new Case(Failure.TIMEOUT, "GET /zones", "timed out after 1000 ms"),
                new Case(Failure.MALFORMED, "GET /zones/", "malformed answer: is not one JSON document"),
                new Case(Failure.HUGE, "GET /zones", "answered more than " + CloudflareDns.DEFAULT_MAX_RESPONSE_BYTES
                        + " bytes"))) {
            cf.failNext(k.failure(), k.call(), 1);
            RaException e = assertThrows(RaException.class, () -> bot.renew(true), k.failure().name());
            assertEquals(Reason.DNS_API_FAILED, e.raReason(), e.getMessage());
            assertTrue(e.getMessage().contains(k.expect()), k.failure() + ": " + e.getMessage());
            assertFalse(e.getMessage().contains(AcmeFixture.TOKEN), "no token in messages");
            assertEquals(before, snapshot(dir), k.failure() + ": nothing written");
            assertTrue(cf.records("fail.test").stream().noneMatch(r -> r.type().equals("TXT")),
                    "no challenge record left after " + k.failure());
        }
    }

    @Test
    void invalidChallengeIsRejectedWithTheDomainAndCleanedUp(@TempDir Path dir) throws Exception {
        CertbotConfig c = config(dir, "bad.fail.test").maxDnsWait(Duration.ZERO).build();
        Certbot bot = certbot(c, Duration.ofSeconds(5));
        bot.init();
        Map<String, String> before = snapshot(dir);
        cf.publishDns(false);
        try {
            RaException e = assertThrows(RaException.class, () -> bot.renew(false));
            assertEquals(Reason.ACME_REJECTED, e.raReason(), e.getMessage());
            assertTrue(e.getMessage().contains("dns-01 challenge for bad.fail.test is invalid"), e.getMessage());
            assertTrue(e.getMessage().contains("not visible to"), e.getMessage());
        } finally {
            cf.publishDns(true);
        }
        assertEquals(before, snapshot(dir));
        assertTrue(cf.records("fail.test").stream().noneMatch(r -> r.type().equals("TXT")));
    }

    @Test
    void missingZoneIsNamed(@TempDir Path dir) throws Exception {
        Certbot bot = certbot(config(dir, "www.nozone.test").build(), Duration.ofSeconds(5));
        bot.init();
        Map<String, String> before = snapshot(dir);
        RaException e = assertThrows(RaException.class, () -> bot.renew(false));
        assertEquals(Reason.DNS_ZONE_NOT_FOUND, e.raReason(), e.getMessage());
        assertTrue(e.getMessage().contains("covers www.nozone.test"), e.getMessage());
        assertEquals(before, snapshot(dir));
    }

    @Test
    void badNoncesAreRetried(@TempDir Path dir) throws Exception {
        // pebble refuses 35% of good nonces; acme4j retries badNonce up to 10 times per request
        try (Pebble picky = AcmeFixture.pebbleWith(Map.of("PEBBLE_WFE_NONCEREJECT", "35"))) {
            CertbotConfig c = config(dir, "nonce.fail.test").acmeUrl(picky.directoryUrl()).build();
            Certbot bot = Certbot.create(c, CloudflareDns.create(c.cfApiUrl(), c.cfApiToken(), Duration.ofSeconds(5)),
                    TxtLookup.server(cf.dnsAddress()), Clock.systemUTC(), picky.trustedRoots());
            assertTrue(bot.renew(false).isPresent());
            String log = Files.readString(picky.logFile());
            assertTrue(log.contains("reject 35% of good nonces"), "pebble was configured to reject nonces");
        }
    }

    @Test
    void rateLimitIsReportedAndNoAccountIsWritten(@TempDir Path dir) throws Exception {
        HttpServer acme = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 8);
        String base = "http://127.0.0.1:" + acme.getAddress().getPort();
        acme.createContext("/dir", ex -> {
            byte[] b = ("{\"newNonce\":\"" + base + "/nonce\",\"newAccount\":\"" + base + "/account\",\"newOrder\":\""
                    + base + "/order\"}").getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "application/json");
            ex.sendResponseHeaders(200, b.length);
            ex.getResponseBody().write(b);
            ex.close();
        });
        acme.createContext("/nonce", ex -> {
            ex.getResponseHeaders().set("Replay-Nonce", "bm9uY2UtMQ");
            ex.getResponseHeaders().set("Cache-Control", "no-store");
            ex.sendResponseHeaders(200, -1);
            ex.close();
        });
        acme.createContext("/account", ex -> {
            ex.getRequestBody().readAllBytes();
            byte[] b = ("{\"type\":\"urn:ietf:params:acme:error:rateLimited\",\"detail\":\"too many new registrations"
                    + " from this IP\",\"status\":429}").getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "application/problem+json");
            ex.getResponseHeaders().set("Replay-Nonce", "bm9uY2UtMg");
            ex.getResponseHeaders().set("Retry-After", "3600");
            ex.sendResponseHeaders(429, b.length);
            ex.getResponseBody().write(b);
            ex.close();
        });
        acme.start();
        try {
            CertbotConfig c = config(dir, "rl.fail.test").acmeUrl(URI.create(base + "/dir")).autoSetCaa(true).build();
            RaException e = assertThrows(RaException.class, () -> certbot(c, Duration.ofSeconds(5)).renew(false));
            assertEquals(Reason.ACME_RATE_LIMITED, e.raReason(), e.getMessage());
            assertTrue(e.getMessage().contains("too many new registrations from this IP"), e.getMessage());
            assertTrue(e.getMessage().contains("register account"), e.getMessage());
            assertEquals(Map.of(), snapshot(dir), "no credentials.json, no live/");
        } finally {
            acme.stop(0);
        }
    }

    @Test
    void brokenStateIsRefusedUntilForced(@TempDir Path dir) throws Exception {
        CertbotConfig c = config(dir, "state.fail.test").build();
        Certbot bot = certbot(c, Duration.ofSeconds(5));
        bot.renew(false).orElseThrow();
        // a truncated live/cert.pem: refused (named) without --force, replaced with it
        Path live = c.liveDir().resolve("cert.pem").toRealPath();
        String good = Files.readString(live);
        Files.writeString(live, good.substring(0, good.length() / 2));
        RaException e = assertThrows(RaException.class, () -> bot.renew(false));
        assertEquals(Reason.CERTBOT_STATE_INVALID, e.raReason(), e.getMessage());
        assertTrue(e.getMessage().contains("--force"), e.getMessage());
        assertTrue(bot.renew(true).isPresent());
        // a credentials.json that does not parse is not replaced by a new account
        Files.writeString(c.credentialsFile(), "{\"account_id\": 7}");
        RaException c2 = assertThrows(RaException.class, () -> certbot(c, Duration.ofSeconds(5)).renew(true));
        assertEquals(Reason.CERTBOT_STATE_INVALID, c2.raReason(), c2.getMessage());
        assertTrue(c2.getMessage().contains("account_id"), c2.getMessage());
        assertEquals("{\"account_id\": 7}", Files.readString(c.credentialsFile()));
        // a wrong token: Cloudflare's refusal, without the token
        CertbotConfig wrong = c.toBuilder().cfApiToken("not-the-token").build();
        Files.delete(c.credentialsFile());
        RaException t = assertThrows(RaException.class, () -> certbot(wrong, Duration.ofSeconds(5)).renew(true));
        assertEquals(Reason.DNS_API_FAILED, t.raReason(), t.getMessage());
        assertTrue(t.getMessage().contains("HTTP 403: [9109] Invalid access token"), t.getMessage());
        assertFalse(t.getMessage().contains("not-the-token"));
    }
}
