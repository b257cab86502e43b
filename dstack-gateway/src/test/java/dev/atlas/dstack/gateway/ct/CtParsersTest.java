package dev.atlas.dstack.gateway.ct;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.atlas.dstack.ra.RaException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import dev.atlas.dstack.ra.RaTlsCertificate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The monitor's parsers: known shapes, and one mutation each with the reason and the field named. */
class CtParsersTest {
    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static void refused(String json, String field, String message) {
        assertThatThrownBy(() -> AcmeInfo.parse(b(json), "test")).isInstanceOfSatisfying(RaException.class, e -> {
            assertThat(e.raReason()).isEqualTo(RaException.Reason.CT_SOURCE_MALFORMED);
            assertThat(e.field()).isEqualTo(field);
            assertThat(e.getMessage()).contains(message);
        });
    }

    @Test
    void acmeInfoOfTodaysGatewayAndTheOldShapeWithHistKeys() throws Exception {
        AcmeInfo now = AcmeInfo.parse(b("{\"account_uri\":\"https://acme/acct/1\",\"quoted_hist_keys\":[{\"public_key\""
                + ":\"AB01\",\"quote\":\"{}\",\"attestation\":\"\"}],\"account_quote\":\"\",\"account_attestation\":\"\""
                + ",\"future\":{\"x\":[1]}}"), "test");
        assertThat(now.accountUri()).isEqualTo("https://acme/acct/1");
        assertThat(now.quotedKeys()).singleElement().satisfies(k -> {
            assertThat(k.spkiHex()).isEqualTo("ab01");
            assertThat(k.quoteJson()).isEqualTo("{}");
        });
        AcmeInfo old = AcmeInfo.parse(b("{\"account_uri\":\"\",\"hist_keys\":[\"ab01\"],\"quoted_hist_keys\":[]}"),
                "test");
        assertThat(old.quotedKeys()).isEmpty();
        assertThat(AcmeInfo.parse(b("{\"quoted_hist_keys\":[{\"public_key\":\"00\"}]}"), "t").quotedKeys().get(0)
                .quoteJson()).isEmpty();
    }

    @Test
    void acmeInfoMutations() {
        refused("{}", "quoted_hist_keys", "is missing");
        refused("[]", "acme-info", "must be a JSON object");
        refused("{\"quoted_hist_keys\":[]} x", "acme-info", "not valid JSON");
        refused("{\"quoted_hist_keys\":[]}{}", "acme-info", "bytes after");
        refused("{\"quoted_hist_keys\":[],\"quoted_hist_keys\":[]}", "acme-info", "Duplicate field");
        refused("{\"quoted_hist_keys\":\"\"}", "quoted_hist_keys", "must be an array, got a string");
        refused("{\"quoted_hist_keys\":[1]}", "quoted_hist_keys[0]", "must be an object, got a number");
        refused("{\"quoted_hist_keys\":[{\"quote\":\"\"}]}", "quoted_hist_keys[0].public_key", "is missing");
        refused("{\"quoted_hist_keys\":[{\"public_key\":\"xyz\"}]}", "quoted_hist_keys[0].public_key", "is not hex");
        refused("{\"quoted_hist_keys\":[{\"public_key\":\"\"}]}", "quoted_hist_keys[0].public_key", "is empty");
        refused("{\"quoted_hist_keys\":[{\"public_key\":\"00\",\"quote\":{}}]}", "quoted_hist_keys[0].quote",
                "must be a string, got an object");
        refused("{\"account_uri\":5,\"quoted_hist_keys\":[]}", "account_uri", "must be a string, got a number");
        refused("{\"hist_keys\":[5],\"quoted_hist_keys\":[]}", "hist_keys[0]", "must be a string");
        refused("{\"hist_keys\":{},\"quoted_hist_keys\":[]}", "hist_keys", "must be an array");
        refused("{\"quoted_hist_keys\":[" + "{\"public_key\":\"00\"},".repeat(AcmeInfo.MAX_KEYS)
                + "{\"public_key\":\"00\"}]}", "quoted_hist_keys", "more than 1024");
        refused("{\"x\":" + "[".repeat(100) + "]".repeat(100) + ",\"quoted_hist_keys\":[]}", "acme-info",
                "nesting depth");
    }

    @Test
    void crtShListing() throws Exception {
        List<CrtShEntry> rows = CrtShEntry.parseList(b("[{\"issuer_ca_id\":16418,\"issuer_name\":\"C=US, O=Let's "
                + "Encrypt, CN=R3\",\"common_name\":\"*.example.com\",\"name_value\":\"*.example.com\\nexample.com\","
                + "\"id\":9876543210,\"entry_timestamp\":\"2024-01-01T00:00:00.123\",\"not_before\":\"2024-01-01T00:00"
                + ":00\",\"not_after\":\"2024-03-31T00:00:00\",\"serial_number\":\"03ab\",\"result_count\":3},"
                + "{\"id\":5,\"issuer_name\":null}]"), 1 << 20, "t");
        assertThat(rows).hasSize(2);
        assertThat(rows.get(0).id()).isEqualTo(9876543210L);
        assertThat(rows.get(0).nameValue()).isEqualTo("*.example.com\nexample.com");
        assertThat(rows.get(1).issuerName()).isEmpty();
        assertThat(CrtShEntry.parseList(b("[]"), 2, "t")).isEmpty();
        for (String[] c : new String[][] {
                {"{}", "crt.sh listing", "must be a JSON array, got an object"},
                {"[{}]", "[0].id", "is missing"},
                {"[{\"id\":0}]", "[0].id", "must be positive"},
                {"[{\"id\":-3}]", "[0].id", "must not be negative"},
                {"[{\"id\":1.5}]", "[0].id", "must be an integer, got a number"},
                {"[{\"id\":99999999999999999999}]", "[0].id", "out of range"},
                {"[{\"id\":1,\"issuer_name\":7}]", "[0].issuer_name", "must be a string, got a number"},
                {"[{\"id\":1,\"result_count\":\"3\"}]", "[0].result_count", "must be an integer"},
                {"[{\"id\":1,\"id\":2}]", "crt.sh listing", "Duplicate field"},
                {"[{\"id\":1}] []", "crt.sh listing", "bytes after the JSON array"},
                {"[{\"id\":1}", "crt.sh listing", "not valid JSON"},
                {"[1]", "[0]", "must be an object, got a number"}}) {
            assertThatThrownBy(() -> CrtShEntry.parseList(b(c[0]), 1 << 20, "t")).as(c[0])
                    .isInstanceOfSatisfying(RaException.class, e -> {
                        assertThat(e.raReason()).isEqualTo(RaException.Reason.CT_SOURCE_MALFORMED);
                        assertThat(e.field()).isEqualTo(c[1]);
                        assertThat(e.getMessage()).contains(c[2]);
                    });
        }
        assertThatThrownBy(() -> CrtShEntry.parseList(b("[{\"id\":1}]"), 5, "t")).hasMessageContaining("exceeds 5");
    }

    @Test
    void certificateKeyIsTheDerSpki() throws Exception {
        KeyPair k = CtMonitorTest.p256();
        X509Certificate c = RaTlsCertificate.builder().subject("a.test").publicKey(k.getPublic()).serverAuth(true)
                .selfSigned(k);
        String pem = RaTlsCertificate.pem(c);
        assertThat(CertificateKey.spkiFromPem(b(pem), "t")).isEqualTo(k.getPublic().getEncoded());
        assertThat(CertificateKey.spkiFromPem(b("subject=...\n" + pem), "t")).isEqualTo(k.getPublic().getEncoded());
        byte[] der = c.getEncoded();
        byte[] longer = java.util.Arrays.copyOf(der, der.length + 1);
        String trailing = "-----BEGIN CERTIFICATE-----\n" + Base64.getEncoder().encodeToString(longer)
                + "\n-----END CERTIFICATE-----\n";
        for (String[] bad : new String[][] {{trailing, "bytes after the certificate"}, {pem + pem, "more than one"},
                {"", "no -----BEGIN CERTIFICATE"}, {pem.replace("-----END CERTIFICATE-----", ""), "no -----END"},
                {"-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----", "not an X.509 certificate"}}) {
            assertThatThrownBy(() -> CertificateKey.spkiFromPem(b(bad[0]), "t")).isInstanceOfSatisfying(
                    RaException.class, e -> {
                        assertThat(e.raReason()).isEqualTo(RaException.Reason.CT_SOURCE_MALFORMED);
                        assertThat(e.getMessage()).contains(bad[1]);
                    });
        }
        assertThatThrownBy(() -> CertificateKey.spkiFromPem(new byte[CertificateKey.MAX_PEM_BYTES + 1], "t"))
                .hasMessageContaining("exceeds");
    }

    @Test
    void stateRoundTripAndRefusals(@TempDir Path dir) throws Exception {
        MonitorState s = new MonitorState("x.test");
        s.lastChecked = 42;
        s.entryAlarms.put(41L, new Alert(Alert.Kind.UNKNOWN_KEY, "x.test", "ab", Optional.of(new CrtShEntry(41, "i",
                "c", "n", "b", "a", "s", "t")), "CT_UNKNOWN_KEY", "d", java.time.Instant.EPOCH).toJsonNode());
        s.acknowledged.add(7L);
        s.pendingWebhook.add("{\"alert\":1}");
        Path f = dir.resolve("sub/state.json");
        s.save(f);
        MonitorState back = MonitorState.load(Optional.of(f), "x.test");
        assertThat(back.toJson()).isEqualTo(s.toJson());
        assertThat(MonitorState.load(Optional.of(dir.resolve("none.json")), "x.test").lastChecked).isZero();
        assertThat(Files.list(f.getParent())).containsExactly(f); // no temporary file left behind
        assertThatThrownBy(() -> MonitorState.load(Optional.of(f), "y.test")).isInstanceOfSatisfying(
                RaException.class, e -> assertThat(e.field()).isEqualTo("state.domain"));
        for (String[] bad : new String[][] {{"{}", "state.version"},
                {"{\"version\":1,\"domain\":\"x.test\",\"last_checked\":-1}", "state.last_checked"},
                {"{\"version\":1,\"domain\":\"x.test\",\"last_checked\":1,\"entry_alarms\":[{}]}",
                    "state.entry_alarms[].crtsh_id"},
                {"{\"version\":1,\"domain\":\"x.test\",\"last_checked\":1,\"acknowledged\":{}}", "state.acknowledged"},
                {"{\"version\":1,\"version\":1}", "state"}, {"{} {}", "state"}}) {
            assertThatThrownBy(() -> MonitorState.parse(b(bad[0]), "t", "x.test")).as(bad[0])
                    .isInstanceOfSatisfying(RaException.class, e -> {
                        assertThat(e.raReason()).isEqualTo(RaException.Reason.CONFIG_INVALID);
                        assertThat(e.field()).isEqualTo(bad[1]);
                    });
        }
        assertThat(HexFormat.of().formatHex(KeyVerifier.ztCertReportData(new byte[0]))).hasSize(128);
    }
}
