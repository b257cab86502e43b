package dev.atlas.dstack.kms;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.atlas.dstack.kms.internal.KmsConfigReader;
import dev.atlas.dstack.ra.config.ConfigTree;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.testing.SharedTestData;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code kms.toml} as dstack-kms reads it ({@code kms/src/config.rs}, {@code load_config}, {@code serde-duration}). */
class KmsConfigTest {
    @TempDir
    Path dir;

    @Test
    void shippedKmsTomlLoadsAsWritten() throws Exception {
        Path shipped = SharedTestData.dir().resolve("dstack/configs/kms.toml");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isRegularFile(shipped),
                "../shared/testdata/dstack/configs/kms.toml is absent: skipping");
        KmsConfig c = KmsConfig.load(shipped);
        assertThat(c.certDir()).isEqualTo(Path.of("/etc/kms/certs"));
        assertThat(c.subjectPostfix()).isEqualTo(".dstack");
        assertThat(c.siteName()).isEmpty();
        assertThat(c.enforceSelfAuthorization()).isTrue();
        assertThat(c.attestRpcCert()).isTrue();
        assertThat(c.sevSnpKeyRelease()).isFalse();
        assertThat(c.awsNitroTpmKeyRelease()).isFalse();
        assertThat(c.insecureAllowExternalTrustAnchors()).isFalse();
        assertThat(c.tdxRootCa()).isEmpty();
        assertThat(c.pccsUrl()).isEqualTo("https://pccs.phala.network");
        assertThat(c.imageVerify()).isTrue();
        assertThat(c.imageCacheDir()).isEqualTo(Path.of("/usr/share/dstack/images"));
        assertThat(c.imageDownloadUrl()).isEqualTo("http://localhost:8000/{OS_IMAGE_HASH}.tar.gz");
        assertThat(c.imageDownloadTimeout()).isEqualTo(Duration.ofMinutes(2));
        assertThat(c.authApiType()).isEqualTo("webhook");
        assertThat(c.webhookUrl()).contains(URI.create("http://auth-api:8000"));
        assertThat(c.onboardEnabled()).isTrue();
        assertThat(c.autoBootstrapDomain()).isEmpty();
        assertThat(c.onboardAddress()).isEqualTo(new InetSocketAddress("0.0.0.0", 8000));
        assertThat(c.rpcAddress()).isEqualTo(new InetSocketAddress("0.0.0.0", 8000));
        assertThat(c.rpcTlsKey()).isEqualTo(Path.of("/etc/kms/certs/rpc.key"));
        assertThat(c.rpcTlsCerts()).isEqualTo(Path.of("/etc/kms/certs/rpc.crt"));
        assertThat(c.rpcTlsClientCaCerts()).contains(Path.of("/etc/kms/certs/tmp-ca.crt"));
        assertThat(c.rpcTlsClientCertMandatory()).isFalse();
        assertThat(c.metricsEnabled()).isTrue();
        assertThat(c.adminEnabled()).isFalse();
        assertThat(c.adminAddress()).isEqualTo(new InetSocketAddress("127.0.0.1", 8001));
        assertThat(c.adminAuthToken()).isEmpty();
        assertThat(c.adminHtpasswdFile()).isEmpty();
        assertThat(c.adminInsecureNoAuth()).isFalse();
        // the Rocket knobs of [default] are named as ignored, nothing else is
        assertThat(c.warnings()).hasSize(1);
        assertThat(c.warnings().get(0)).startsWith("[default] workers, max_blocking, ident, temp_dir, keep_alive, "
                + "log_level: Rocket settings, ignored");
    }

    @Test
    void anEmptyFileHasTheShippedDefaults() throws Exception {
        KmsConfig c = KmsConfig.fromToml("", "empty.toml");
        assertThat(c.certDir()).isEqualTo(Path.of("/etc/kms/certs"));
        assertThat(c.imageDownloadTimeout()).isEqualTo(Duration.ofMinutes(2));
        assertThat(c.webhookUrl()).contains(URI.create("http://auth-api:8000"));
        assertThat(c.source()).isEqualTo(Path.of("empty.toml"));
    }

    @Test
    void theFileOverridesKeyByKey() throws Exception {
        KmsConfig c = KmsConfig.fromToml("""
                [rpc]
                port = 9201
                [core]
                cert_dir = "/data/certs"
                [core.auth_api]
                type = "dev"
                [core.onboard]
                auto_bootstrap_domain = "kms.example.com"
                """, "k.toml");
        assertThat(c.rpcAddress()).isEqualTo(new InetSocketAddress("0.0.0.0", 9201));
        assertThat(c.certDir()).isEqualTo(Path.of("/data/certs"));
        assertThat(c.isDev()).isTrue();
        assertThat(c.devGatewayAppId()).isEqualTo("any");
        assertThat(c.webhookUrl()).isEmpty();
        assertThat(c.autoBootstrapDomain()).isEqualTo("kms.example.com");
        assertThat(c.onboardEnabled()).isTrue();
        assertThat(c.warnings()).anyMatch(w -> w.startsWith("core.auth_api.type = \"dev\": INSECURE"));
        assertThat(c.warnings()).anyMatch(w -> w.startsWith("rpc.tls.key/certs are not /data/certs/rpc.key"));
    }

    @Test
    void unknownAndIgnoredKeysAreNamed() throws Exception {
        KmsConfig c = KmsConfig.fromToml("""
                color = "blue"
                [rpc]
                workers = 4
                [rpc.tls]
                prefer_server_cipher_order = true
                [core]
                shiny = 1
                attest_rpc_cert = false
                enforce_self_authorization = false
                sev_snp_key_release = true
                [core.admin]
                enabled = true
                insecure_no_auth = true
                """, "k.toml");
        assertThat(c.warnings()).contains("color: unknown key, ignored", "core.shiny: unknown key, ignored",
                "rpc.workers: Rocket setting, not supported, ignored",
                "rpc.tls.prefer_server_cipher_order: not supported, ignored");
        assertThat(c.warnings()).anyMatch(w -> w.startsWith("core.attest_rpc_cert = false: INSECURE"));
        assertThat(c.warnings()).anyMatch(w -> w.startsWith("core.enforce_self_authorization = false: INSECURE"));
        assertThat(c.warnings()).anyMatch(w -> w.startsWith("core.sev_snp_key_release = true"));
        assertThat(c.warnings()).anyMatch(w -> w.startsWith("core.admin.insecure_no_auth = true: INSECURE"));
    }

    @Test
    void externalTrustAnchorWithoutTheFlagIsRefusedWithDstacksText() {
        refused("""
                [core.attestation.root_ca]
                tdx = "/etc/dstack/roots/intel-sgx-root-ca.der"
                """, RaException.Reason.CONFIG_INVALID, "core.attestation.root_ca",
                "external attestation trust anchors are configured but insecure_allow_external_trust_anchors is false");
        refused("""
                [core.attestation]
                insecure_allow_external_trust_anchors = false
                [core.attestation.root_ca]
                sev_snp_milan = "/x.pem"
                """, RaException.Reason.CONFIG_INVALID, "core.attestation.root_ca",
                KmsConfigReader.EXTERNAL_ANCHORS_REFUSED);
    }

    @Test
    void externalTrustAnchorWithTheFlagIsLoadedAndNamed() throws Exception {
        Path root = Files.writeString(dir.resolve("root.pem"), "-----BEGIN CERTIFICATE-----\n");
        KmsConfig c = KmsConfig.fromToml("""
                [core.attestation]
                insecure_allow_external_trust_anchors = true
                [core.attestation.urls]
                pccs = "http://127.0.0.1:8088"
                [core.attestation.root_ca]
                tdx = "%s"
                """.formatted(root), "k.toml");
        assertThat(c.tdxRootCa()).contains(root);
        assertThat(c.pccsUrl()).isEqualTo("http://127.0.0.1:8088");
        assertThat(c.warnings()).anyMatch(w -> w.startsWith(
                "core.attestation.insecure_allow_external_trust_anchors = true: INSECURE"));
    }

    @Test
    void anUnreadableTrustAnchorIsRefusedAtLoad() {
        refused("""
                [core.attestation]
                insecure_allow_external_trust_anchors = true
                [core.attestation.root_ca]
                tdx = "%s"
                """.formatted(dir.resolve("missing.pem")), RaException.Reason.CONFIG_FILE_UNREADABLE,
                "core.attestation.root_ca.tdx", "failed to read TDX root CA from");
    }

    @Test
    void unknownKeysInTheAttestationTablesAreRefusedAsDstackDoes() {
        refused("[core.attestation]\ninsecure_allow_external_trust_anchors = false\nextra = 1\n",
                RaException.Reason.CONFIG_INVALID, "core.attestation.extra", "unknown key");
        refused("[core.attestation.urls]\npcs = \"http://x\"\n", RaException.Reason.CONFIG_INVALID,
                "core.attestation.urls.pcs", "unknown key");
        refused("[core.attestation.root_ca]\nsgx = \"/x\"\n", RaException.Reason.CONFIG_INVALID,
                "core.attestation.root_ca.sgx", "unknown key");
    }

    @Test
    void settingsThatWouldWeakenAChecksIfIgnoredAreRefused() {
        refused("[rpc.tls]\nciphers = [\"TLS_AES_128_GCM_SHA256\"]\n", RaException.Reason.CONFIG_UNSUPPORTED,
                "rpc.tls.ciphers", "cipher-suite restriction is not supported");
        refused("[core.admin.tls]\nkey = \"/k\"\ncerts = \"/c\"\n", RaException.Reason.CONFIG_UNSUPPORTED,
                "core.admin.tls", "TLS on the admin listener is not supported");
        refused("[core.onboard.tls]\nkey = \"/k\"\n", RaException.Reason.CONFIG_UNSUPPORTED, "core.onboard.tls",
                "TLS on the onboard listener");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "[core]; attest_rpc_cert = \"yes\"|core.attest_rpc_cert|expected a boolean, got a string",
        "[core]; cert_dir = 7|core.cert_dir|expected a string, got an integer",
        "[core]; cert_dir = \"\"|core.cert_dir|must not be empty",
        "[rpc]; port = 70000|rpc.port|a port is 0..65535",
        "[rpc]; address = \"kms.example.com\"|rpc.address|expected an IPv4 or IPv6 address literal",
        "[core.image]; download_timeout = \"2x\"|core.image.download_timeout|invalid time unit",
        "[core.image]; download_timeout = 120|core.image.download_timeout|expected a string, got an integer",
        "[core.auth_api]; type = \"eth\"|core.auth_api.type|unknown variant",
        "[core.auth_api.webhook]; url = \"ftp://x\"|core.auth_api.webhook.url|http:// or https://",
        "[core.metrics]; enabled = 1|core.metrics.enabled|expected a boolean, got an integer",
        "[core]; image = 3|core.image|expected a table, got an integer",
        "[rpc.tls.mutual]; ca_certs = \"\"; mandatory = true|rpc.tls.mutual.ca_certs|required when mandatory"})
    void wrongValuesNameTheKeyAndTheFile(String toml, String key, String text) {
        refused(toml.replace("; ", "\n"), RaException.Reason.CONFIG_INVALID, key, text);
    }

    @Test
    void syntaxErrorsSayWhereButNeverQuoteTheText() {
        RaException e = catchRa(() -> KmsConfig.fromToml("[core.admin]\nauth_token = \"s3cret\n", "k.toml"));
        assertThat(e.raReason()).isEqualTo(RaException.Reason.CONFIG_INVALID);
        assertThat(e.field()).isEqualTo("k.toml");
        assertThat(e.getMessage()).contains("is not valid TOML").doesNotContain("s3cret");
    }

    @Test
    void notUtf8AndOversizedFilesAreRefused() {
        assertThat(catchRa(() -> KmsConfigReader.read(new byte[] {'a', '=', (byte) 0xff}, Path.of("k.toml")))
                .getMessage()).contains("is not UTF-8 text");
        assertThat(catchRa(() -> KmsConfigReader.read(new byte[ConfigTree.MAX_BYTES + 1], Path.of("k.toml")))
                .getMessage()).contains("larger than");
    }

    @Test
    void aMissingFileIsUnreadable() {
        RaException e = catchRa(() -> KmsConfig.load(dir.resolve("nope.toml")));
        assertThat(e.raReason()).isEqualTo(RaException.Reason.CONFIG_FILE_UNREADABLE);
        assertThat(e.field()).isEqualTo(dir.resolve("nope.toml").toString());
    }

    @Test
    void toStringHidesTheAdminToken() throws Exception {
        KmsConfig c = KmsConfig.fromToml("[core.admin]\nauth_token = \"s3cret\"\n", "k.toml");
        assertThat(c.adminAuthToken()).contains("s3cret");
        assertThat(c.toString()).contains("adminAuthToken=set").doesNotContain("s3cret");
    }

    @ParameterizedTest
    @CsvSource({"30s,30", "5m,300", "2h,7200", "1d,86400", "0s,0", "+5m,300"})
    void durationsAsSerdeDuration(String text, long seconds) {
        assertThat(ConfigTree.parseDuration(text)).isEqualTo(Duration.ofSeconds(seconds));
    }

    @Test
    void neverIsTheLongestDuration() {
        assertThat(ConfigTree.parseDuration("never")).isGreaterThan(Duration.ofDays(365L * 1_000_000_000));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "5", "s", "5x", "abcs", "5\u5206", "\u5206", "-5s", "5 s", "18446744073709551615d",
        "9223372036854775807m"})
    void badDurationsAreErrors(String text) {
        assertThatThrownBy(() -> ConfigTree.parseDuration(text)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void optionalValuesAbsentOrEmptyAreEmpty() throws Exception {
        KmsConfig c = KmsConfig.fromToml("[core.admin]\nhtpasswd_file = \"\"\n", "k.toml");
        assertThat(c.adminHtpasswdFile()).isEqualTo(Optional.empty());
    }

    private static void refused(String toml, RaException.Reason reason, String key, String text) {
        RaException e = catchRa(() -> KmsConfig.fromToml(toml, "/etc/kms/kms.toml"));
        assertThat(e.raReason()).as(e.getMessage()).isEqualTo(reason);
        assertThat(e.field()).isEqualTo(key);
        assertThat(e.getMessage()).contains(text).contains("/etc/kms/kms.toml");
    }

    private static RaException catchRa(ThrowingCallable c) {
        Throwable t = org.assertj.core.api.Assertions.catchThrowable(c);
        assertThat(t).isInstanceOf(RaException.class);
        return (RaException) t;
    }
}
