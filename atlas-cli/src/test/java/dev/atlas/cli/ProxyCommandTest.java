package dev.atlas.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.atlas.proxy.ProxyConfigReader;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.util.Base64;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProxyCommandTest {
    static final String SECRET = "a-long-enough-secret-token";

    @Test
    void checkPrintsTheNormalizedSettingsInTheConfigsOwnForm(@TempDir Path dir) throws Exception {
        Path cfg = dir.resolve("proxy.env");
        Path token = dir.resolve("token");
        Files.writeString(token, SECRET + "\n");
        Files.writeString(cfg, "ATLS_PROXY_ALLOWLIST=Example.COM.:443,127.0.0.1:8443, *.Wild.example:8443\n"
                + "ATLS_PROXY_TOKEN_FILE=" + token + "\nATLS_PROXY_IDLE_TIMEOUT=5m\nATLS_PROXY_MAX_FRAME_BYTES=65536\n"
                + "ATLS_PROXY_ALLOWED_CIDRS=127.0.0.0/8\n");
        CliRun r = CliRun.of("proxy", "--config", cfg.toString(), "--target", "example.com",
                "--connect-timeout", "1500ms", "--rate", "2.5", "--check");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("ATLS_PROXY_LISTEN=127.0.0.1:9000\n")
                .contains("ATLS_PROXY_TARGET=example.com:443\n")
                .contains("ATLS_PROXY_ALLOWLIST=example.com:443,127.0.0.1:8443,*.wild.example:8443\n")
                .contains("ATLS_PROXY_ALLOWED_CIDRS=127.0.0.0/8\n")
                .contains("ATLS_PROXY_TOKEN=<set>\n")
                .contains("ATLS_PROXY_IDLE_TIMEOUT=300s\n")
                .contains("ATLS_PROXY_CONNECT_TIMEOUT=1500ms\n")
                .contains("ATLS_PROXY_DRAIN_TIMEOUT=30s\n")
                .contains("ATLS_PROXY_MAX_FRAME_BYTES=64KiB\n")
                .contains("ATLS_PROXY_MAX_MESSAGE_BYTES=64MiB\n")
                .contains("ATLS_PROXY_RATE_PER_CLIENT=2.5\n")
                .contains("ATLS_PROXY_TLS_CERT=\n")
                .doesNotContain(SECRET).doesNotContain("PT").doesNotContain("ProxyConfig{");
        // every line but the comment and the redacted token loads back to the same settings
        Map<String, String> back = new LinkedHashMap<>();
        for (String l : r.out().split("\n")) {
            if (!l.startsWith("#") && !l.startsWith("ATLS_PROXY_TOKEN=")) {
                back.put(l.substring(0, l.indexOf('=')), l.substring(l.indexOf('=') + 1));
            }
        }
        Map<String, String> again = new LinkedHashMap<>(ProxyConfigReader.fromSettings(back).toSettings());
        again.remove("ATLS_PROXY_TOKEN");
        assertThat(again).isEqualTo(back);
    }

    @Test
    void refusesADefaultTargetOutsideTheAllowlist() {
        CliRun r = CliRun.of("proxy", "--allowlist", "example.com:443", "--check");
        assertThat(r.code()).isEqualTo(Main.USAGE);
        assertThat(r.err()).contains("127.0.0.1:8443 is not in the allowlist");
    }

    @Test
    void checkLoadsTheTlsFilesAndNamesTheFileThatFails(@TempDir Path dir) throws Exception {
        String[] good = selfSignedPem();
        String[] other = selfSignedPem();
        Path crt = Files.writeString(dir.resolve("cert.pem"), good[0]);
        Path key = Files.writeString(dir.resolve("key.pem"), good[1]);
        Path otherKey = Files.writeString(dir.resolve("other-key.pem"), other[1]);
        Path garbage = Files.writeString(dir.resolve("garbage.pem"), "this is not PEM\n");
        Path missing = dir.resolve("missing.pem");

        CliRun ok = check("--tls-cert", crt.toString(), "--tls-key", key.toString());
        assertThat(ok.code()).as(ok.err()).isZero();
        assertThat(ok.out()).contains("ATLS_PROXY_TLS_CERT=" + crt + "\n").contains("ATLS_PROXY_TLS_KEY=" + key + "\n");

        CliRun r = check("--tls-cert", missing.toString(), "--tls-key", key.toString());
        assertThat(r.code()).isEqualTo(Main.USAGE);
        assertThat(r.err()).contains("ATLS_PROXY_TLS_CERT: " + missing + " does not exist");
        assertThat(r.out()).isEmpty();

        r = check("--tls-cert", crt.toString(), "--tls-key", missing.toString());
        assertThat(r.code()).isEqualTo(Main.USAGE);
        assertThat(r.err()).contains("ATLS_PROXY_TLS_KEY: " + missing + " does not exist");

        r = check("--tls-cert", garbage.toString(), "--tls-key", key.toString());
        assertThat(r.code()).isEqualTo(Main.USAGE);
        assertThat(r.err()).contains(garbage.toString()).contains("certificate");

        r = check("--tls-cert", crt.toString(), "--tls-key", garbage.toString());
        assertThat(r.code()).isEqualTo(Main.USAGE);
        assertThat(r.err()).contains("no unencrypted private key in " + garbage);

        r = check("--tls-cert", crt.toString(), "--tls-key", otherKey.toString());
        assertThat(r.code()).isEqualTo(Main.USAGE);
        assertThat(r.err()).contains(otherKey.toString()).contains("does not belong to the leaf certificate");

        r = check("--tls-cert", dir.toString(), "--tls-key", key.toString());
        assertThat(r.code()).isEqualTo(Main.USAGE);
        assertThat(r.err()).contains("ATLS_PROXY_TLS_CERT: " + dir + " is not a regular file");
        assertThat(r.err()).doesNotContain("Exception");
    }

    @Test
    void checkRefusesListenAddressesTheStartCouldNotBind() {
        CliRun r = check("--admin-listen", "127.0.0.1:9000");
        assertThat(r.code()).isEqualTo(Main.USAGE);
        assertThat(r.err()).contains("ATLS_PROXY_ADMIN_LISTEN: 127.0.0.1:9000 is also ATLS_PROXY_LISTEN");
        r = check("--listen", "192.0.2.1:9000"); // TEST-NET-1: never this machine's
        assertThat(r.code()).isEqualTo(Main.USAGE);
        assertThat(r.err()).contains("ATLS_PROXY_LISTEN: 192.0.2.1 is not an address of this machine");
    }

    static CliRun check(String... extra) {
        String[] args = new String[extra.length + 4];
        args[0] = "proxy";
        args[1] = "--allowlist";
        args[2] = "127.0.0.1:8443";
        System.arraycopy(extra, 0, args, 3, extra.length);
        args[args.length - 1] = "--check";
        return CliRun.of(args);
    }

    /** A throwaway self-signed P-256 certificate and its PKCS#8 key, as PEM. */
    static String[] selfSignedPem() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        KeyPair kp = g.generateKeyPair();
        long now = System.currentTimeMillis();
        X500Name name = new X500Name("CN=localhost");
        byte[] der = new JcaX509v3CertificateBuilder(name, BigInteger.valueOf(now), new Date(now - 60_000),
                new Date(now + 86_400_000L), name, kp.getPublic())
                .build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate())).getEncoded();
        return new String[] {pem("CERTIFICATE", der), pem("PRIVATE KEY", kp.getPrivate().getEncoded())};
    }

    private static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }
}
