package dev.atlas.dstack.vmm.internal.web;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import dev.atlas.dstack.ra.EnvCrypt;
import dev.atlas.dstack.ra.K256PrivateKey;
import dev.atlas.dstack.ra.KmsSignatures;
import dev.atlas.dstack.ra.RecoverableSignature;
import dev.atlas.dstack.ra.SecretBytes;
import dev.atlas.testing.HeadlessChromium;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dashboard's JavaScript crypto in a real browser (Debian's headless Chromium; skipped without it), cross-checked
 * against dstack-ra: Keccak-256 and secp256k1 recovery (vmm-cli.py's legacy vector, signatures made by
 * {@link KmsSignatures}), and the §2.12 env encryption decrypted by {@link EnvCrypt}. The page is served by a JDK
 * HttpServer on loopback (a secure context, so Web Crypto is there); no VMM is needed.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class DashboardCryptoBrowserTest {
    static final HexFormat HEX = HexFormat.of();

    @TempDir
    static Path tmp;
    static HttpServer http;
    static HeadlessChromium browser;

    @BeforeAll
    static void start() throws Exception {
        assumeTrue(HeadlessChromium.available(), "chromium not installed at " + HeadlessChromium.CHROMIUM);
        Dashboard dashboard = new Dashboard();
        http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        http.createContext("/", ex -> {
            byte[] body;
            int status = 200;
            if (ex.getRequestURI().getPath().equals("/")) {
                body = dashboard.page();
                ex.getResponseHeaders().set("Content-Type", "text/html; charset=utf-8");
                // the page runs under its own CSP (the inlined script and style admitted by hash)
                ex.getResponseHeaders().set("Content-Security-Policy", dashboard.contentSecurityPolicy());
            } else {
                status = 400;
                body = "{\"error\":\"no VMM behind this test server\"}".getBytes(StandardCharsets.UTF_8);
                ex.getResponseHeaders().set("Content-Type", "application/json");
            }
            ex.sendResponseHeaders(status, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        http.start();
        browser = HeadlessChromium.open(tmp, "http://127.0.0.1:" + http.getAddress().getPort() + "/");
        browser.waitFor("window.dstackVmm !== undefined && document.body.dataset.ready === 'true'", "true",
                Duration.ofSeconds(30));
    }

    @AfterAll
    static void stop() {
        if (browser != null) {
            browser.close();
        }
        if (http != null) {
            http.stop(0);
        }
    }

    static String js(String expr) throws Exception {
        JsonNode v = browser.eval("(async () => { const D = window.dstackVmm; try { return String(await (" + expr
                + ")); } catch (e) { return 'ERROR: ' + e.message; } })()");
        return v.asText();
    }

    @Test
    void keccak256KnownAnswers() throws Exception {
        assertThat(js("D.Hex.encode(D.Keccak.hash256(new Uint8Array(0)))"))
                .isEqualTo("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
        assertThat(js("D.Hex.encode(D.Keccak.hash256(new TextEncoder().encode('abc')))"))
                .isEqualTo("4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
    }

    @Test
    void recoversVmmCliLegacyVector() throws Exception {
        // vmm-cli.py verify_signature's doctest: app_id = 20 zero bytes.
        String r = js("D.EnvKey.verify({public_key: 'e33a1832c6562067ff8f844a61e51ad051f1180b66ec2551fb0251735f3ee90a',"
                + " signature: '8542c49081fbf4e03f62034f13fbf70630bdf256a53032e38465a27c36fd6bed7a5e7111652004aef37f7fd92fbfc1285212c4ae6a6154203a48f5e16cad2cef00'},"
                + " new Uint8Array(20), 0).signer");
        assertThat(r).isEqualTo("0217610d74cbd39b6143842c6d8bc310d79da1d82cc9d17f8876376221eda0c38f");
    }

    @Test
    void recoversSignaturesMadeByKmsSignatures() throws Exception {
        byte[] scalar = new byte[32];
        byte[] envPub = new byte[32];
        byte[] appId = new byte[20];
        for (int i = 0; i < 8; i++) {
            Arrays.fill(scalar, (byte) (i + 1));
            scalar[0] = 0x11;
            scalar[31] = (byte) (i * 37);
            Arrays.fill(envPub, (byte) (0x40 + i));
            Arrays.fill(appId, (byte) (0x90 + i));
            K256PrivateKey kms = K256PrivateKey.fromScalar(scalar);
            long ts = 1_800_000_000L + i;
            RecoverableSignature legacy = KmsSignatures.signEnvPublicKey(kms, appId, envPub);
            RecoverableSignature v1 = KmsSignatures.signEnvPublicKeyV1(kms, appId, ts, envPub);
            String response = "{public_key: '" + HEX.formatHex(envPub) + "', signature: '" + legacy.toHex()
                    + "', signature_v1: '" + v1.toHex() + "', timestamp: " + ts + "}";
            String app = "D.Hex.decode('" + HEX.formatHex(appId) + "')";
            String expected = HEX.formatHex(kms.publicKey());
            assertThat(js("D.EnvKey.verify(" + response + ", " + app + ", " + (ts + 10) + ").signer")).isEqualTo(expected);
            assertThat(js("D.EnvKey.verify(" + response + ", " + app + ", " + (ts + 10) + ").version"))
                    .isEqualTo("signature_v1");
            // without signature_v1, the legacy one decides
            String legacyOnly = "{public_key: '" + HEX.formatHex(envPub) + "', signature: '" + legacy.toHex() + "'}";
            assertThat(js("D.EnvKey.verify(" + legacyOnly + ", " + app + ", 0).signer")).isEqualTo(expected);
            // stale and future timestamps are refused (no fallback to the legacy signature)
            assertThat(js("D.EnvKey.verify(" + response + ", " + app + ", " + (ts + 301) + ").signer"))
                    .startsWith("ERROR: signature_v1: timestamp").contains("older than 300 s");
            assertThat(js("D.EnvKey.verify(" + response + ", " + app + ", " + (ts - 61) + ").signer"))
                    .contains("in the future");
            // one flipped bit in the signed key or the app id: another signer (or no point)
            byte[] other = envPub.clone();
            other[5] ^= 1;
            String tampered = response.replace(HEX.formatHex(envPub), HEX.formatHex(other));
            assertThat(js("D.EnvKey.verify(" + tampered + ", " + app + ", " + ts + ").signer")).isNotEqualTo(expected);
        }
    }

    @Test
    void refusesMalformedAnswers() throws Exception {
        String app = "new Uint8Array(20)";
        assertThat(js("D.EnvKey.verify({public_key: 'abcd', signature: '00'}, " + app + ", 0)"))
                .isEqualTo("ERROR: GetAppEnvEncryptPubKey: public_key is 2 bytes, expected 32");
        assertThat(js("D.EnvKey.verify({public_key: '" + "11".repeat(32) + "'}, " + app + ", 0)"))
                .isEqualTo("ERROR: GetAppEnvEncryptPubKey: the response carries no signature");
        assertThat(js("D.EnvKey.verify({public_key: '" + "11".repeat(32) + "', signature: '" + "22".repeat(64)
                + "05'}, " + app + ", 0)")).isEqualTo("ERROR: recovery id 5 is not 0 or 1");
        assertThat(js("D.EnvKey.verify({public_key: '" + "11".repeat(32) + "', signature: '" + "00".repeat(65)
                + "'}, " + app + ", 0)")).isEqualTo("ERROR: r or s out of range");
        assertThat(js("D.EnvKey.verify({public_key: '" + "11".repeat(32) + "', signature: 'zz'}, " + app + ", 0)"))
                .startsWith("ERROR: hex:");
    }

    @Test
    void browserEncryptedEnvDecryptsWithEnvCrypt() throws Exception {
        byte[] envKey = new byte[32];
        Arrays.fill(envKey, (byte) 7);
        byte[] pub = EnvCrypt.publicKey(SecretBytes.of(envKey));
        String hex = js("D.EnvKey.encrypt([{key: 'SECRET', value: 'hunter2 ✓'}, {key: 'EMPTY', value: ''}],"
                + " D.Hex.decode('" + HEX.formatHex(pub) + "')).then(D.Hex.encode)");
        byte[] ct = HEX.parseHex(hex);
        assertThat(ct.length).isGreaterThan(32 + 12 + 16);
        List<EnvCrypt.EnvVar> env = EnvCrypt.decrypt(SecretBytes.of(envKey), ct);
        assertThat(env).containsExactly(new EnvCrypt.EnvVar("SECRET", "hunter2 ✓"), new EnvCrypt.EnvVar("EMPTY", ""));
        // a fresh ephemeral key and IV each time
        String again = js("D.EnvKey.encrypt([{key: 'SECRET', value: 'hunter2 ✓'}, {key: 'EMPTY', value: ''}],"
                + " D.Hex.decode('" + HEX.formatHex(pub) + "')).then(D.Hex.encode)");
        assertThat(again.substring(0, 88)).isNotEqualTo(hex.substring(0, 88));
        // a low-order recipient key is refused before anything is encrypted
        assertThat(js("D.EnvKey.encrypt([{key: 'A', value: 'b'}], new Uint8Array(32)).then(D.Hex.encode)"))
                .startsWith("ERROR:");
    }

    @Test
    void appIdUrlAndPortsAsTheVmmComputesThem() throws Exception {
        String compose = "{\n    \"manifest_version\": 2,\n    \"name\": \"caf\u00e9\"\n}";
        byte[] sha = MessageDigest.getInstance("SHA-256").digest(compose.getBytes(StandardCharsets.UTF_8));
        assertThat(js("D.defaultAppId(" + com.fasterxml.jackson.databind.json.JsonMapper.builder().build()
                .writeValueAsString(compose) + ")")).isEqualTo(HEX.formatHex(sha).substring(0, 40));
        String id = "0123456789abcdef0123456789abcdef01234567";
        assertThat(js("D.appUrl('" + id + "', {base_domain: 'app.example.com', port: 443, agent_port: 8090})"))
                .isEqualTo("https://" + id + "-8090.app.example.com");
        assertThat(js("D.appUrl('" + id + "', {base_domain: 'app.example.com', port: 9204, agent_port: 8090})"))
                .isEqualTo("https://" + id + "-8090.app.example.com:9204");
        assertThat(js("D.appUrl('" + id + "', {base_domain: '', port: 443, agent_port: 8090})")).isEqualTo("null");
        assertThat(js("JSON.stringify(D.parsePort('8080:80'))"))
                .isEqualTo("{\"protocol\":\"tcp\",\"host_address\":\"127.0.0.1\",\"host_port\":8080,\"vm_port\":80}");
        assertThat(js("JSON.stringify(D.parsePort('udp:0.0.0.0:5353:53'))"))
                .isEqualTo("{\"protocol\":\"udp\",\"host_address\":\"0.0.0.0\",\"host_port\":5353,\"vm_port\":53}");
        assertThat(js("D.parsePort('sctp:1:2')")).isEqualTo("ERROR: port mapping 'sctp:1:2': protocol must be tcp or udp");
        assertThat(js("D.parsePort('tcp:70000:2')"))
                .isEqualTo("ERROR: port mapping 'tcp:70000:2': host port must be 1..65535");
    }
}
