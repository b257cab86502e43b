package dev.atlas.dstack.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.atlas.dstack.gateway.internal.RouteFixtures.TestClock;
import dev.atlas.dstack.ra.RaException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** §3.2.1 against a DNS responder on loopback: names asked, precedence, wildcard, caches, failures. */
class AppAddressDnsTest {
    private static final String APP = "3327603e03f5bd1f830812ca4a789277fc31f577";
    private static TinyDnsServer dns;
    private final TestClock clock = new TestClock(RouteFixtures.T0);

    @BeforeAll
    static void start() throws Exception {
        dns = new TinyDnsServer();
    }

    @AfterAll
    static void stop() {
        dns.close();
    }

    private AppAddressDns resolver(boolean compat, Duration timeout) {
        return new AppAddressDns("_dstack-app-address", compat, List.of(dns.address()), timeout, clock);
    }

    private static AppAddressDns.Target get(CompletableFuture<AppAddressDns.Target> f) throws Exception {
        return f.get(20, TimeUnit.SECONDS);
    }

    private static RaException failure(CompletableFuture<?> f) {
        try {
            f.get(20, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            assertThat(e.getCause()).isInstanceOf(RaException.class);
            return (RaException) e.getCause();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        throw new AssertionError("resolved");
    }

    @Test
    void thePrefixedRecordAnswersAndIsPreferredOverTheLegacyOne() throws Exception {
        dns.txt("_dstack-app-address.a.example", 60, APP + ":443");
        dns.txt("_tapp-address.a.example", 60, "ffff:1");
        try (AppAddressDns r = resolver(true, Duration.ofSeconds(5))) {
            assertThat(get(r.resolve("a.example"))).isEqualTo(new AppAddressDns.Target(APP, 443));
            assertThat(dns.queries("_tapp-address.a.example")).as("asked in parallel").isEqualTo(1);
        }
    }

    @Test
    void theLegacyNameAnswersInCompatModeOnly() throws Exception {
        dns.txt("_tapp-address.b.example", 60, APP + ":8080");
        try (AppAddressDns r = resolver(true, Duration.ofSeconds(5))) {
            assertThat(get(r.resolve("b.example"))).isEqualTo(new AppAddressDns.Target(APP, 8080));
        }
        try (AppAddressDns r = resolver(false, Duration.ofSeconds(5))) {
            RaException e = failure(r.resolve("b.example"));
            assertThat(e.raReason()).isEqualTo(RaException.Reason.ROUTE_DNS_FAILED);
            assertThat(e.getMessage()).contains("no txt record found for b.example via "
                    + "_dstack-app-address-wildcard.example");
        }
    }

    @Test
    void theWildcardOfTheParentIsTheFallback() throws Exception {
        dns.txt("_dstack-app-address-wildcard.w.example", 60, APP + ":80");
        try (AppAddressDns r = resolver(true, Duration.ofSeconds(5))) {
            assertThat(get(r.resolve("anything.w.example"))).isEqualTo(new AppAddressDns.Target(APP, 80));
            assertThat(dns.queries("_dstack-app-address.anything.w.example")).isEqualTo(1);
        }
    }

    @Test
    void aBadValueFailsWithTheNameItCameFrom() throws Exception {
        dns.txt("_dstack-app-address.bad1.example", 60, APP);
        dns.txt("_dstack-app-address.bad2.example", 60, APP + ":65536");
        dns.txt("_dstack-app-address.bad3.example", 60, "a-b:80");
        dns.txt("_dstack-app-address.bad4.example", 60, APP + ":+80");
        try (AppAddressDns r = resolver(false, Duration.ofSeconds(5))) {
            for (String n : List.of("bad1", "bad2", "bad3", "bad4")) {
                RaException e = failure(r.resolve(n + ".example"));
                assertThat(e.raReason()).isEqualTo(RaException.Reason.ROUTE_DNS_FAILED);
                assertThat(e.getMessage()).contains("failed to parse app address for " + n + ".example via "
                        + "_dstack-app-address." + n + ".example");
            }
        }
    }

    @Test
    void positiveAnswersAreCachedForTheirTtl() throws Exception {
        dns.txt("_dstack-app-address.c.example", 30, APP + ":1");
        try (AppAddressDns r = resolver(false, Duration.ofSeconds(5))) {
            get(r.resolve("c.example"));
            get(r.resolve("c.example"));
            assertThat(dns.queries("_dstack-app-address.c.example")).isEqualTo(1);
            dns.txt("_dstack-app-address.c.example", 30, APP + ":2");
            clock.advance(Duration.ofSeconds(29));
            assertThat(get(r.resolve("c.example")).port()).isEqualTo(1);
            clock.advance(Duration.ofSeconds(1));
            assertThat(get(r.resolve("c.example")).port()).isEqualTo(2);
            assertThat(dns.queries("_dstack-app-address.c.example")).isEqualTo(2);
        }
    }

    @Test
    void negativeAnswersAreCachedForAtMostTenSeconds() throws Exception {
        dns.answers.put("_dstack-app-address.n.example", new TinyDnsServer.NxDomain(3600, 3600));
        dns.answers.put("_dstack-app-address-wildcard.example", new TinyDnsServer.NxDomain(3600, 3600));
        try (AppAddressDns r = resolver(false, Duration.ofSeconds(5))) {
            failure(r.resolve("n.example"));
            failure(r.resolve("n.example"));
            assertThat(dns.queries("_dstack-app-address.n.example")).isEqualTo(1);
            dns.txt("_dstack-app-address.n.example", 60, APP + ":3");
            clock.advance(Duration.ofSeconds(9));
            failure(r.resolve("n.example"));
            clock.advance(Duration.ofSeconds(1));
            assertThat(get(r.resolve("n.example")).port()).isEqualTo(3);
        }
    }

    @Test
    void aServerFailureIsNotCachedAndFallsThroughToTheWildcard() throws Exception {
        dns.answers.put("_dstack-app-address.s.example", new TinyDnsServer.ServFail());
        dns.txt("_dstack-app-address-wildcard.example", 60, APP + ":4");
        try (AppAddressDns r = resolver(false, Duration.ofSeconds(5))) {
            assertThat(get(r.resolve("s.example")).port()).isEqualTo(4);
            get(r.resolve("s.example"));
            assertThat(dns.queries("_dstack-app-address.s.example")).isEqualTo(2);
        } finally {
            dns.answers.remove("_dstack-app-address-wildcard.example");
        }
    }

    @Test
    void aSilentServerEndsInTheDnsResolveTimeout() {
        dns.answers.put("_dstack-app-address.t.example", new TinyDnsServer.Silent());
        dns.answers.put("_dstack-app-address-wildcard.example", new TinyDnsServer.Silent());
        try (AppAddressDns r = resolver(false, Duration.ofMillis(300))) {
            RaException e = failure(r.resolve("t.example"));
            assertThat(e.raReason()).isEqualTo(RaException.Reason.ROUTE_DNS_FAILED);
        } finally {
            dns.answers.remove("_dstack-app-address-wildcard.example");
        }
    }

    @Test
    void theValueGrammar() throws Exception {
        assertThat(AppAddressDns.parse("abc:0")).isEqualTo(new AppAddressDns.Target("abc", 0));
        assertThat(AppAddressDns.parse("abc:65535:x".substring(0, 9))).isEqualTo(new AppAddressDns.Target("abc", 65535));
        for (String bad : List.of("", ":80", "abc", "abc:", "abc:1x", "abc:123456", "a-b:1", "abc:-1")) {
            assertThatThrownBy(() -> AppAddressDns.parse(bad)).as(bad).isInstanceOf(RaException.class);
        }
        assertThatThrownBy(() -> AppAddressDns.parse("a".repeat(300) + ":1"))
                .isInstanceOfSatisfying(RaException.class,
                        e -> assertThat(e.raReason()).isEqualTo(RaException.Reason.TOO_LARGE));
    }
}
