package dev.atlas.dstack.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.atlas.dstack.gateway.GatewayConfig;
import dev.atlas.dstack.ra.RaException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ZtStore}'s file (round trip, mode, atomic replacement, one-mutation refusals naming the field),
 * {@link ZtDomains} (dstack's normalization and default-domain choice) and {@code [core.certbot]}.
 */
class ZtStoreTest {
    @TempDir
    Path dir;

    static ZtStore.State sample() {
        ZtStore.DnsCredential c = new ZtStore.DnsCredential("18c0ffee0a1b2c3d", "cf", "secret-token-0123456789",
                Optional.of("http://127.0.0.1:9/client/v4"), 60, 300, 1700000000, 1700000001);
        ZtStore.Domain d = new ZtStore.Domain("zt.test", Optional.empty(), 443, Optional.empty(), 1);
        ZtStore.Attestation a = new ZtStore.Attestation(new byte[] {1, 2, 3}, "{\"quote\":\"00\"}", "", 0, 1700000002);
        ZtStore.Attestation acc = new ZtStore.Attestation("https://acme/acct/1".getBytes(StandardCharsets.UTF_8),
                "{}", "{}", 0, 1700000003);
        return ZtStore.State.EMPTY.withCredentials(Map.of(c.id(), c), Optional.of(c.id()))
                .withDomains(Map.of(d.domain(), d))
                .withAccount(Optional.of(new ZtStore.Account("https://acme/dir", "https://acme/acct/1", "{\"k\":1}")),
                        Optional.of(acc))
                .withCert("zt.test", Optional.of(new ZtStore.Cert("CHAIN", "KEY", 1800000000, 0, 1700000002)),
                        Optional.of(a));
    }

    @Test
    void roundTripsAtomicallyWithMode0600() throws Exception {
        ZtStore s = ZtStore.open(dir);
        assertThat(s.state()).isEqualTo(ZtStore.State.EMPTY);
        ZtStore.State want = sample();
        s.update(x -> want);
        Path f = dir.resolve(ZtStore.FILE);
        assertThat(Files.getPosixFilePermissions(f)).containsExactlyInAnyOrder(PosixFilePermission.OWNER_READ,
                PosixFilePermission.OWNER_WRITE);
        try (var l = Files.list(dir)) {
            assertThat(l.map(p -> p.getFileName().toString()).toList()).containsExactly(ZtStore.FILE);
        }
        ZtStore.State got = ZtStore.open(dir).state();
        assertThat(got).isEqualTo(want);
        assertThat(got.attestations().get("zt.test").get(0).subject()).containsExactly(1, 2, 3);
    }

    @Test
    void aRefusedChangeWritesNothing() throws Exception {
        ZtStore s = ZtStore.open(dir);
        s.update(x -> sample());
        byte[] before = Files.readAllBytes(dir.resolve(ZtStore.FILE));
        assertThatThrownBy(() -> s.update(x -> {
            throw new IllegalStateException("refused");
        })).hasMessage("refused");
        assertThat(Files.readAllBytes(dir.resolve(ZtStore.FILE))).isEqualTo(before);
        assertThat(s.state()).isEqualTo(sample());
    }

    @Test
    void tokensAndKeysStayOutOfToString() {
        ZtStore.State s = sample();
        assertThat(s.toString()).doesNotContain("secret-token-0123456789").doesNotContain("KEY\"")
                .doesNotContain("{\"k\":1}");
        assertThat(s.credentials().values().iterator().next().redactedToken()).isEqualTo("secr...6789");
        assertThat(ZtStore.DnsCredential.redact("12345678")).isEqualTo("********");
    }

    static String text() {
        return new String(ZtStore.serialize(sample()), StandardCharsets.UTF_8);
    }

    static void refused(String json, String field) {
        assertThatThrownBy(() -> ZtStore.parse(json.getBytes(StandardCharsets.UTF_8), "zt-state.json"))
                .isInstanceOfSatisfying(RaException.class, e -> {
                    assertThat(e.raReason()).isEqualTo(RaException.Reason.CERTBOT_STATE_INVALID);
                    assertThat(e.field()).isEqualTo(field);
                });
    }

    @Test
    void oneMutationRefusalsNameTheField() throws Exception {
        String t = text();
        assertThat(ZtStore.parse(t.getBytes(StandardCharsets.UTF_8), "x")).isEqualTo(sample());
        refused(t.replace("\"version\" : 1", "\"version\" : 2"), "version");
        refused(t.replace("\"port\" : 443", "\"port\" : \"443\""), "zt_domains[0].port");
        refused(t.replace("\"port\" : 443", "\"port\" : 0"), "zt_domains[0].port");
        refused(t.replace("\"domain\" : \"zt.test\"", "\"domain\" : \"ZT.test\""), "zt_domains[0].domain");
        refused(t.replace("\"type\" : \"cloudflare\"", "\"type\" : \"route53\""), "dns_credentials[0].provider.type");
        refused(t.replace("\"dns_txt_ttl\" : 60", "\"dns_txt_ttl\" : 60, \"extra\" : 1"),
                "dns_credentials[0].extra");
        refused(t.replace("\"default_dns_credential\" : \"18c0ffee0a1b2c3d\"", "\"default_dns_credential\" : \"x\""),
                "default_dns_credential");
        refused(t.replace("\"public_key\" : \"010203\"", "\"public_key\" : \"0g\""),
                "cert_attestations.zt.test[0].public_key");
        refused(t.replace("\"not_after\" : 1800000000", "\"not_after\" : -1"), "certs.zt.test.not_after");
        refused(t + "{}", "(file)");
        refused(t.replace("\"version\" : 1,", "\"version\" : 1, \"version\" : 1,"), "(file)");
        refused("[]", "(root)");
        assertThatThrownBy(() -> ZtStore.parse(new byte[ZtStore.MAX_FILE_BYTES + 1], "big"))
                .hasMessageContaining("larger than");
        assertThatThrownBy(() -> ZtStore.parse(new byte[] {'{', (byte) 0xff, '}'}, "bin"))
                .hasMessageContaining("not UTF-8");
    }

    @Test
    void domainsNormalizeAsDstack() {
        assertThat(ZtDomains.normalize(" *.Example.COM. ")).isEqualTo("example.com");
        for (String bad : List.of("", ".example.com", "example..com", "-bad.example", "bad-.example", "a_b.test",
                "é.test", "x".repeat(64) + ".test")) {
            assertThatThrownBy(() -> ZtDomains.normalize(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
        }
        assertThatThrownBy(() -> ZtDomains.normalize("a..b")).hasMessage(ZtDomains.BAD_LABEL);
        assertThatThrownBy(() -> ZtDomains.normalize("")).hasMessage(ZtDomains.BAD_NAME);
        var a = new ZtStore.Domain("a.test", Optional.empty(), 443, Optional.empty(), 1);
        var b = new ZtStore.Domain("b.test", Optional.empty(), 443, Optional.of(7L), 1);
        var c = new ZtStore.Domain("c.test", Optional.empty(), 443, Optional.of(8L), 5);
        assertThat(ZtDomains.best(List.of(a, b, c), 7)).contains(a); // tie: the domain bound to no node wins
        assertThat(ZtDomains.best(List.of(a, b, c), 8)).contains(c); // higher priority, bound to this node
        assertThat(ZtDomains.best(List.of(b), 9)).isEmpty();
    }

    @Test
    void certbotTableIsOursAndNamed() throws Exception {
        Path ca = Files.writeString(dir.resolve("ca.pem"), "x");
        GatewayConfig c = GatewayConfig.parse("""
                [core.certbot]
                acme_ca_cert = "ca.pem"
                dns_resolver = "127.0.0.1:5353"
                renew_interval = "1h"
                """, dir);
        assertThat(c.certbot().acmeCaCert()).contains(ca);
        assertThat(c.certbot().dnsResolver()).hasValueSatisfying(a -> assertThat(a.getPort()).isEqualTo(5353));
        assertThat(c.warnings()).anyMatch(w -> w.contains("core.certbot.renew_interval") && w.contains("0.5.x"))
                .anyMatch(w -> w.contains("acme_ca_cert"));
        assertThat(GatewayConfig.parse("", dir).certbot()).isEqualTo(GatewayConfig.Certbot.DEFAULT);
        assertThatThrownBy(() -> GatewayConfig.parse("[core.certbot]\nacme_ca = \"x\"\n", dir))
                .isInstanceOfSatisfying(RaException.class, e -> assertThat(e.field())
                        .isEqualTo("core.certbot.acme_ca"));
        assertThatThrownBy(() -> GatewayConfig.parse("[core.certbot]\ndns_resolver = \"localhost:53\"\n", dir))
                .isInstanceOfSatisfying(RaException.class, e -> assertThat(e.field())
                        .isEqualTo("core.certbot.dns_resolver"));
        assertThatThrownBy(() -> GatewayConfig.parse("[core.certbot]\nacme_ca_cert = \"missing.pem\"\n", dir))
                .isInstanceOfSatisfying(RaException.class, e -> assertThat(e.raReason())
                        .isEqualTo(RaException.Reason.CONFIG_FILE_UNREADABLE));
    }
}
