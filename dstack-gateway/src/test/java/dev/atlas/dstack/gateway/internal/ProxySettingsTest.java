package dev.atlas.dstack.gateway.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atlas.dstack.gateway.GatewayConfig;
import dev.atlas.testing.SharedTestData;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The proxy's part of gateway.toml: the shipped file's values and the 0.5.x static certificate. */
class ProxySettingsTest {
    private static final String TLS = """
            [tls]
            key = "certs/gateway-rpc.key"
            certs = "certs/gateway-rpc.cert"
            [tls.mutual]
            ca_certs = "certs/gateway-ca.cert"
            """;

    @Test
    void shippedGatewayToml() throws Exception {
        Path shipped = SharedTestData.dir().resolve("dstack/configs/gateway.toml");
        Assumptions.assumeTrue(Files.isRegularFile(shipped),
                "../shared/testdata/dstack/configs/gateway.toml is absent: skipping");
        ProxySettings s = ProxySettings.from(GatewayConfig.load(shipped));
        assertEquals(InetAddress.ofLiteral("0.0.0.0"), s.listenAddr());
        assertEquals(List.of(8443), s.listenPorts());
        assertEquals(65536, s.bufferSize());
        assertFalse(s.inboundPpEnabled());
        assertEquals(List.of("1.2"), s.tlsVersions());
        assertEquals(Duration.ofSeconds(5), s.connect());
        assertEquals(Duration.ofSeconds(5), s.handshake());
        assertEquals(Duration.ofSeconds(5), s.ppHeader());
        assertTrue(s.dataTimeoutEnabled());
        assertEquals(Duration.ofMinutes(10), s.idle());
        assertEquals(Duration.ofSeconds(5), s.write());
        assertEquals(Duration.ofSeconds(5), s.shutdown());
        assertEquals(Duration.ofHours(5), s.total());
        assertFalse(s.insecureLocalhostBackend());
    }

    @Test
    void staticCertificateOf05x(@TempDir Path dir) throws Exception {
        ProxyTestPki pki = new ProxyTestPki();
        ProxyTestPki.Leaf leaf = pki.leaf("app.example.com");
        Files.writeString(dir.resolve("cert.pem"), leaf.chainPem());
        Files.writeString(dir.resolve("key.pem"), leaf.keyPem());
        GatewayConfig c = GatewayConfig.parse(TLS + """
                [core.proxy]
                cert_chain = "cert.pem"
                cert_key = "key.pem"
                base_domain = "app.example.com"
                tls_versions = ["1.2", "1.3"]
                """, dir);
        CertStore store = CertStore.fromConfig(c.proxy(), Clock.systemUTC());
        assertEquals(List.of("app.example.com"), store.ztDomains());
        assertTrue(store.staticCert().isPresent());

        Files.delete(dir.resolve("key.pem"));
        assertThrows(dev.atlas.dstack.ra.RaException.class, () -> CertStore.fromConfig(c.proxy(),
                Clock.systemUTC()));
    }
}
