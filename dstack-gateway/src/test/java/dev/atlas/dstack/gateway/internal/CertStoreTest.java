package dev.atlas.dstack.gateway.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atlas.dstack.ra.RaException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CertStoreTest {
    private static ProxyTestPki pki;
    private static final Clock CLOCK = Clock.systemUTC();

    @BeforeAll
    static void pki() throws Exception {
        pki = new ProxyTestPki();
    }

    @Test
    void putMakesAZtDomain() throws Exception {
        CertStore s = CertStore.create(List.of("1.2", "1.3"), CLOCK);
        assertFalse(s.hasZtDomain("test.example"));
        ProxyTestPki.Leaf l = pki.leaf("test.example");
        s.put("test.example", l.chainPem(), l.keyPem());
        ProxyTestPki.Leaf o = pki.leaf("other.example");
        s.put("*.other.example", o.chainPem(), o.keyPem());
        assertTrue(s.hasZtDomain("test.example"));
        assertFalse(s.hasZtDomain("Test.example"));
        assertFalse(s.hasZtDomain("a.test.example"));
        assertEquals(List.of("other.example", "test.example"), s.ztDomains());
        assertTrue(s.sslContext("test.example", true).isPresent());
        assertTrue(s.sslContext("test.example", true).get().applicationProtocolNegotiator().protocols()
                .contains("h2"));
        assertTrue(s.sslContext("test.example", false).get().applicationProtocolNegotiator().protocols().isEmpty());
    }

    @Test
    void removeStopsServingADeletedZtDomain() throws Exception {
        CertStore s = CertStore.create(List.of("1.2", "1.3"), CLOCK);
        ProxyTestPki.Leaf l = pki.leaf("gone.example");
        s.put("gone.example", l.chainPem(), l.keyPem());
        assertTrue(s.remove("*.gone.example"));
        assertFalse(s.hasZtDomain("gone.example"));
        assertTrue(s.sslContext("gone.example", false).isEmpty());
        assertFalse(s.remove("gone.example"));
    }

    @Test
    void refusedUpdatesKeepThePreviousCertificate() throws Exception {
        CertStore s = CertStore.create(List.of("1.2"), CLOCK);
        ProxyTestPki.Leaf good = pki.leaf("keep.example");
        s.put("keep.example", good.chainPem(), good.keyPem());
        ProxyTestPki.Leaf other = pki.leaf("keep.example");
        RaException mismatch = assertThrows(RaException.class,
                () -> s.put("keep.example", good.chainPem(), other.keyPem()));
        assertEquals(RaException.Reason.CONFIG_INVALID, mismatch.raReason());
        assertTrue(mismatch.detail().contains("do not match"), mismatch.detail());
        ProxyTestPki.Leaf expired = pki.leaf("keep.example", Instant.now().minus(Duration.ofMinutes(1)));
        RaException exp = assertThrows(RaException.class,
                () -> s.put("keep.example", expired.chainPem(), expired.keyPem()));
        assertTrue(exp.detail().contains("expired"), exp.detail());
        assertThrows(RaException.class, () -> s.put("keep.example", "not a pem", good.keyPem()));
        assertThrows(RaException.class, () -> s.put("keep.example", good.chainPem(), "not a key"));
        assertThrows(RaException.class, () -> s.put("Bad..Domain", good.chainPem(), good.keyPem()));
        assertEquals(good.cert(), s.entry("keep.example").get().leaf());
    }

    @Test
    void theInjectedClockDecidesExpiry() throws Exception {
        ProxyTestPki.Leaf l = pki.leaf("clock.example", Instant.now().plus(Duration.ofDays(1)));
        CertStore later = CertStore.create(List.of("1.2"),
                Clock.fixed(Instant.now().plus(Duration.ofDays(2)), ZoneOffset.UTC));
        assertThrows(RaException.class, () -> later.put("clock.example", l.chainPem(), l.keyPem()));
    }

    @Test
    void tlsVersionsAreChecked() {
        RaException e = assertThrows(RaException.class, () -> CertStore.create(List.of("1.1"), CLOCK));
        assertEquals("core.proxy.tls_versions", e.field());
        assertThrows(RaException.class, () -> CertStore.create(List.of(), CLOCK));
    }

    @Test
    void staticCertificateReloadsWhenItsFilesChange(@TempDir Path dir) throws Exception {
        ProxyTestPki.Leaf first = pki.leaf("static.example");
        Path chain = dir.resolve("cert.pem");
        Path key = dir.resolve("key.pem");
        Files.writeString(chain, first.chainPem());
        Files.writeString(key, first.keyPem());
        CertStore s = CertStore.create(List.of("1.2", "1.3"),
                Optional.of(new CertStore.StaticCert(chain, key, "static.example")), CLOCK);
        assertTrue(s.hasZtDomain("static.example"));
        assertFalse(s.reloadIfChanged());

        ProxyTestPki.Leaf second = pki.leaf("static.example");
        Files.writeString(chain, second.chainPem());
        Files.writeString(key, second.keyPem());
        Files.setLastModifiedTime(chain, FileTime.from(Instant.now().plusSeconds(5)));
        assertTrue(s.reloadIfChanged());
        assertEquals(second.cert(), s.entry("static.example").get().leaf());

        // a broken file keeps the installed certificate
        Files.writeString(key, "garbage");
        Files.setLastModifiedTime(key, FileTime.from(Instant.now().plusSeconds(10)));
        assertThrows(RaException.class, s::reloadIfChanged);
        assertEquals(second.cert(), s.entry("static.example").get().leaf());

        Files.delete(chain);
        RaException gone = assertThrows(RaException.class, s::reload);
        assertEquals(RaException.Reason.CONFIG_FILE_UNREADABLE, gone.raReason());
    }
}
