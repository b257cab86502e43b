package dev.atlas.dstack.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.testing.SharedTestData;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code gateway.toml} as dstack-gateway reads it ({@code gateway/src/config.rs}, {@code main.rs}). */
class GatewayConfigTest {
    @TempDir
    Path dir;

    private static final String TLS = """
            [tls]
            key = "certs/gateway-rpc.key"
            certs = "certs/gateway-rpc.cert"
            [tls.mutual]
            ca_certs = "certs/gateway-ca.cert"
            """;

    private GatewayConfig parse(String toml) throws RaException {
        return GatewayConfig.parse(toml, dir);
    }

    private RaException refused(String toml) {
        try {
            parse(toml);
        } catch (RaException e) {
            return e;
        }
        throw new AssertionError("accepted: " + toml);
    }

    @Test
    void shippedGatewayTomlLoadsAsWritten() throws Exception {
        Path shipped = SharedTestData.dir().resolve("dstack/configs/gateway.toml");
        Assumptions.assumeTrue(Files.isRegularFile(shipped),
                "../shared/testdata/dstack/configs/gateway.toml is absent: skipping");
        GatewayConfig c = GatewayConfig.load(shipped);
        assertThat(c.rpc().address()).isEqualTo(new InetSocketAddress("127.0.0.1", 8010));
        assertThat(c.rpc().tlsKey()).isEmpty();
        assertThat(c.setUlimit()).isTrue();
        assertThat(c.rpcDomain()).isEmpty();
        assertThat(c.attestation().insecureAllowExternalTrustAnchors()).isFalse();
        assertThat(c.attestation().pccsUrl()).isEqualTo("https://pccs.phala.network");
        assertThat(c.auth()).isEqualTo(new GatewayConfig.Auth(false, URI.create("http://localhost/app-auth"),
                Duration.ofSeconds(5)));
        assertThat(c.admin().enabled()).isFalse();
        assertThat(c.admin().address()).isEqualTo(new InetSocketAddress("127.0.0.1", 8011));
        assertThat(c.admin().authToken()).isEmpty();
        assertThat(c.admin().htpasswdFile()).isEmpty();
        assertThat(c.debug()).isEqualTo(new GatewayConfig.Debug(false, false, false, Optional.empty(),
                new InetSocketAddress("127.0.0.1", 8012), false));
        GatewayConfig.Wg wg = c.wg();
        assertThat(wg.listenPort()).isEqualTo(51820);
        assertThat(wg.ip()).hasToString("10.0.0.1/24");
        assertThat(wg.reservedNet()).extracting(Object::toString).containsExactly("10.0.0.1/32");
        assertThat(wg.clientIpRange()).hasToString("10.0.0.0/25");
        assertThat(wg.configPath()).isEqualTo(Path.of("/etc/wireguard/wg0.conf"));
        assertThat(wg.iface()).isEqualTo("wg0");
        assertThat(wg.endpoint()).isEqualTo("10.0.2.2:51820");
        GatewayConfig.Proxy p = c.proxy();
        assertThat(p.listenAddr()).isEqualTo(InetAddress.getByName("0.0.0.0"));
        assertThat(p.listenPorts()).containsExactly(8443);
        assertThat(p.agentPort()).isEqualTo(8090);
        assertThat(p.externalPort()).isEqualTo(443);
        assertThat(p.bufferSize()).isEqualTo(65536);
        assertThat(p.connectTopN()).isEqualTo(3);
        assertThat(p.appAddressNsPrefix()).isEqualTo("_dstack-app-address");
        assertThat(p.appAddressNsCompat()).isTrue();
        assertThat(p.maxConnectionsPerApp()).isEqualTo(2000);
        assertThat(p.inboundPpEnabled()).isFalse();
        assertThat(p.tlsVersions()).containsExactly("1.2");
        assertThat(p.certChain()).isEmpty();
        assertThat(p.baseDomain()).isEmpty();
        assertThat(p.timeouts()).isEqualTo(new GatewayConfig.Timeouts(Duration.ofSeconds(5), Duration.ofSeconds(5),
                Duration.ofSeconds(30), Duration.ofMinutes(30), Duration.ofSeconds(5), true, Duration.ofMinutes(10),
                Duration.ofSeconds(5), Duration.ofSeconds(5), Duration.ofHours(5), Duration.ofSeconds(5)));
        assertThat(p.portPolicyFetch()).isEqualTo(new GatewayConfig.PortPolicyFetch(Duration.ofSeconds(10), 5,
                Duration.ofSeconds(1), Duration.ofSeconds(30)));
        assertThat(c.recycle()).isEqualTo(new GatewayConfig.Recycle(true, Duration.ofMinutes(5), Duration.ofHours(10),
                Duration.ofMinutes(10)));
        assertThat(c.sync().dataDir()).isEqualTo(Path.of("/dstack-gateway/data"));
        assertThat(c.sync().myUrl()).isEqualTo("https://localhost:8011");
        // the shipped file sets Rocket and Tokio knobs this gateway does not have: named, not refused
        assertThat(c.warnings()).anyMatch(w -> w.startsWith("workers: Rocket setting, not supported"));
        assertThat(c.warnings()).anyMatch(w -> w.startsWith("core.proxy.thread_per_core: not supported"));
        assertThat(c.warnings()).anyMatch(w -> w.startsWith("[tls]: missing"));
        assertThat(c.warnings()).anyMatch(w -> w.startsWith("core.wg.private_key/public_key: empty"));
        assertThat(c.warnings()).noneMatch(w -> w.contains("unknown key"));
    }

    @Test
    void guideDevTweakAndOurLoopbackKey() throws Exception {
        GatewayConfig c = parse(TLS + """
                [core.debug]
                insecure_skip_attestation = true
                key_file = ""
                insecure_loopback_transport = true
                """);
        assertThat(c.debug().insecureSkipAttestation()).isTrue();
        assertThat(c.debug().keyFile()).isEmpty();
        assertThat(c.debug().insecureLoopbackTransport()).isTrue();
        assertThat(c.rpc().tlsKey()).contains(dir.resolve("certs/gateway-rpc.key"));
        assertThat(c.rpc().mutualCaCerts()).contains(dir.resolve("certs/gateway-ca.cert"));
        assertThat(c.warnings()).anyMatch(w -> w.startsWith("core.debug.insecure_skip_attestation = true: INSECURE"));
        assertThat(c.warnings()).anyMatch(w -> w.startsWith("core.debug.insecure_loopback_transport = true: INSECURE"));
        // with the loopback transport the empty WireGuard keys are no concern
        assertThat(c.warnings()).noneMatch(w -> w.startsWith("core.wg.private_key"));
        assertThat(c.warnings()).noneMatch(w -> w.contains("key_file"));
    }

    @Test
    void layoutOf05xStaticCertificate() throws Exception {
        GatewayConfig c = parse(TLS + """
                [core.proxy]
                cert_chain = "/etc/gateway/cert.pem"
                cert_key = "key.pem"
                base_domain = "app.example.com"
                listen_port = "8443-8445"
                tls_versions = ["1.2", "1.3"]
                """);
        assertThat(c.proxy().certChain()).contains(Path.of("/etc/gateway/cert.pem"));
        assertThat(c.proxy().certKey()).contains(dir.resolve("key.pem"));
        assertThat(c.proxy().baseDomain()).contains("app.example.com");
        assertThat(c.proxy().listenPorts()).containsExactly(8443, 8444, 8445);
        assertThat(c.proxy().tlsVersions()).containsExactly("1.2", "1.3");
    }

    @Test
    void unknownAndIgnoredKeysAreNamed() throws Exception {
        GatewayConfig c = parse(TLS + """
                [core]
                shiny = 1
                [core.proxy]
                workers = 4
                [core.proxy.tcp_splice]
                after_bytes = 65536
                [core.certbot]
                enabled = true
                [core.admin]
                enabled = true
                admin_token = "legacy-secret-token"
                """);
        // issue19-zt: [core.certbot] is read now (ours + the 0.5.x keys, named as not used)
        assertThat(c.warnings()).contains("core.shiny: unknown key, ignored", "core.certbot.enabled: 0.5.x certbot "
                + "setting, not used: ZT-domains are managed with Admin.CreateDnsCredential, AddZtDomain and "
                + "SetCertbotConfig");
        assertThat(c.warnings()).anyMatch(w -> w.startsWith("core.proxy.workers: not supported"));
        assertThat(c.warnings()).anyMatch(w -> w.startsWith("core.proxy.tcp_splice: not supported"));
        assertThat(c.admin().authToken()).contains("legacy-secret-token");
        assertThat(c.toString()).doesNotContain("legacy-secret-token");
        assertThat(String.join("\n", c.warnings())).doesNotContain("legacy-secret-token");
    }

    @Test
    void rocketAddressForms() throws Exception {
        GatewayConfig c = parse("""
                address = "0.0.0.0"
                port = 9012
                """ + TLS + """
                [core.admin]
                address = "[::1]:9013"
                [core.debug]
                address = "127.0.0.1"
                port = 9014
                """);
        assertThat(c.rpc().address()).isEqualTo(new InetSocketAddress("0.0.0.0", 9012));
        assertThat(c.admin().address()).isEqualTo(new InetSocketAddress("::1", 9013));
        assertThat(c.debug().address()).isEqualTo(new InetSocketAddress("127.0.0.1", 9014));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "[core.wg]\\nreserved_net = [\"10.1.0.1/32\"]|core.wg.reserved_net|Reserved net is not in the network",
        "[core.wg]\\nreserved_net = [\"10.0.0.2/32\"]|core.wg.ip|Wg peer IP is not in the reserved net",
        "[core.wg]\\nclient_ip_range = \"10.0.1.0/25\"|core.wg.client_ip_range|Client IP range is not in the network",
        "[core.wg]\\nip = \"10.0.0.256/24\"|core.wg.ip|expected an IPv4 network",
        "[core.wg]\\nprivate_key = \"c2hvcnQ=\"|core.wg.private_key|base64 WireGuard key",
        "[core.wg]\\nlisten_port = \"51820\"|core.wg.listen_port|expected an integer, got a string",
        "[core.proxy]\\nlisten_port = \"9000-8000\"|core.proxy.listen_port|invalid port range: 9000 > 8000",
        "[core.proxy]\\nlisten_port = 70000|core.proxy.listen_port|a port is 0..65535",
        "[core.proxy]\\ntls_versions = [\"1.1\"]|core.proxy.tls_versions|unknown variant",
        "[core.proxy]\\nlisten_addr = \"::\"|core.proxy.listen_addr|IPv4",
        "[core.proxy]\\ncert_chain = \"c.pem\"|core.proxy.cert_key|go together",
        "[core.proxy]\\ncert_chain = \"c.pem\"\\ncert_key = \"k.pem\"|core.proxy.base_domain|required",
        "[core.proxy.timeouts]\\nconnect = \"5ms\"|core.proxy.timeouts.connect|whole number",
        "[core.proxy.timeouts]\\nidle = \"5x\"|core.proxy.timeouts.idle|invalid time unit",
        "[core.auth]\\nurl = \"ftp://x\"|core.auth.url|http",
        "[core.attestation.urls]\\nfoo = \"x\"|core.attestation.urls.foo|unknown key",
        "[core.attestation.root_ca]\\ntdx = \"/nonexistent\"|core.attestation.root_ca|insecure_allow_external_trust_anchors is false",
        "[core.admin]\\naddress = \"unix:/run/gw.sock\"|core.admin.address|Unix sockets",
        "[core.admin.tls]\\nkey = \"k\"|core.admin.tls|not supported",
        "[tls]\\nkey = \"k\"\\ncerts = \"c\"|tls.mutual|KMS root CA",
        "[core]\\nrpc_domain = \"gw.example.com\"|tls|guest agent",
        "[core.sync]\\nenabled = true|core.sync.enabled|one node",
        "[core]\\nwg = 3|core.wg|expected a table, got an integer",
    })
    void refusalsNameTheKey(String toml, String field, String words) {
        RaException e = refused(toml.replace("\\n", "\n").replace("\\\"", "\""));
        assertThat(e.field()).isEqualTo(field);
        assertThat(e.getMessage()).contains(words).contains("gateway.toml");
    }

    @Test
    void oversizeNonUtf8AndSyntax() {
        assertThat(refused("a = ").getMessage()).contains("is not valid TOML (line");
        byte[] big = new byte[(1 << 20) + 1];
        assertThatThrownBy(() -> dev.atlas.dstack.gateway.internal.GatewayConfigReader.read(big,
                dir.resolve("big.toml"))).hasMessageContaining("larger than");
        assertThatThrownBy(() -> dev.atlas.dstack.gateway.internal.GatewayConfigReader.read(new byte[] {'a', '=',
                '"', (byte) 0xff, '"'}, dir.resolve("bad.toml"))).hasMessageContaining("not UTF-8");
        assertThatThrownBy(() -> GatewayConfig.load(dir.resolve("missing.toml")))
                .isInstanceOfSatisfying(RaException.class,
                        e -> assertThat(e.raReason()).isEqualTo(RaException.Reason.CONFIG_FILE_UNREADABLE));
    }

    @Test
    void secretsNeverInMessages() {
        RaException e = refused("[core.wg]\nprivate_key = \"not-a-key-but-secret\"");
        assertThat(e.getMessage()).doesNotContain("not-a-key-but-secret");
        assertThat(List.of(e.field())).containsExactly("core.wg.private_key");
    }
}
