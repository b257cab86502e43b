package dev.atlas.dstack.vmm.internal.web;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.dstack.ra.EnvCrypt;
import java.util.List;
import java.util.HexFormat;
import java.util.Arrays;
import java.security.MessageDigest;
import java.nio.charset.StandardCharsets;
import dev.atlas.dstack.ra.SecretBytes;
import dev.atlas.dstack.ra.RecoverableSignature;
import dev.atlas.dstack.ra.KmsSignatures;
import dev.atlas.dstack.ra.K256PrivateKey;
import dev.atlas.dstack.vmm.VmLaunch;
import dev.atlas.dstack.vmm.VmmServer;
import dev.atlas.testing.HeadlessChromium;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dashboard in headless Chromium (one browser for the class) under its own CSP: the page's crypto against
 * dstack-ra (Keccak-256 and secp256k1 recovery on vmm-cli.py's vector and {@link KmsSignatures}' signatures, the
 * §2.12 encryption decrypted by {@link EnvCrypt}), and end to end (skipped without it) against a {@link VmmServer} with {@code [auth]}
 * on, a stub KMS and a test backend: deploy with an env encrypted in the browser → running with its app URL → logs →
 * stop → remove; the {@code .encrypted-env} the VMM wrote decrypts with the KMS env key to what was typed; an
 * untrusted KMS signer refuses the deploy before anything is sent.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class DashboardBrowserTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Duration WAIT = Duration.ofSeconds(20);
    static final HexFormat HEX = HexFormat.of();

    @TempDir
    static Path tmp;
    static StubKms kms;
    static WebTestBackend backend;
    static VmmServer vmm;
    static HeadlessChromium browser;
    static String base;

    @BeforeAll
    static void start() throws Exception {
        assumeTrue(HeadlessChromium.available(), "chromium not installed at " + HeadlessChromium.CHROMIUM);
        kms = new StubKms(Clock.systemUTC());
        backend = new WebTestBackend("web-test");
        vmm = WebFixture.start(WebFixture.config(tmp, "tcp:127.0.0.1:0", kms), backend);
        base = vmm.httpBase().orElseThrow();
        Path profile = Files.createDirectories(tmp.resolve("chromium"));
        browser = HeadlessChromium.open(profile, base + "/?token=" + WebFixture.TOKEN);
        browser.waitFor("document.body && document.body.dataset.ready === 'true' && "
                + "document.querySelectorAll('#d-image option').length > 0", "true", WAIT);
    }

    @AfterAll
    static void stop() {
        if (browser != null) {
            browser.close();
        }
        if (vmm != null) {
            vmm.close();
        }
        if (backend != null) {
            backend.launches.values().forEach(l -> {
                try {
                    long pid = Long.parseLong(Files.readString(l.pidFile()).trim());
                    ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
                } catch (Exception e) {
                    // already gone
                }
            });
        }
        if (kms != null) {
            kms.close();
        }
    }

    static String js(String expr) throws Exception {
        return browser.eval("(async () => { try { return String(await (" + expr + ")); } catch (e) { return 'ERROR: ' + e.message; } })()")
                .asText();
    }

    static String str(String s) throws Exception {
        return JSON.writeValueAsString(s);
    }

    /** Fills the deploy form (env rows key=value) and submits; returns the message the page shows. */
    static String deploy(String name, String compose, String ports, String signers, String... env) throws Exception {
        StringBuilder s = new StringBuilder("(() => { const $ = (i) => document.getElementById(i);");
        s.append("$('d-name').value = ").append(str(name)).append(";");
        s.append("$('d-compose').value = ").append(str(compose)).append(";");
        s.append("$('d-compose').dispatchEvent(new Event('input'));");
        s.append("$('d-ports').value = ").append(str(ports)).append(";");
        s.append("$('d-signers').value = ").append(str(signers)).append(";");
        s.append("$('d-vcpu').value = '2'; $('d-memory').value = '2048'; $('d-disk').value = '10';");
        s.append("$('d-env').replaceChildren();");
        for (String kv : env) {
            int eq = kv.indexOf('=');
            s.append("window.dstackVmm.addEnvRow(").append(str(kv.substring(0, eq))).append(", ")
                    .append(str(kv.substring(eq + 1))).append(");");
        }
        s.append("$('message').textContent = ''; $('message').className = '';");
        s.append("$('deploy').requestSubmit(); return 'submitted'; })()");
        assertThat(browser.eval(s.toString()).asText()).isEqualTo("submitted");
        return browser.waitFor("document.getElementById('message').className !== ''",
                "document.getElementById('message').className + ': ' + document.getElementById('message').textContent",
                WAIT).asText();
    }

    @Test
    void deployEncryptedEnvRunLogsStopRemove() throws Exception {
        String compose = WebFixture.compose("web-app", "DB_PASSWORD", "API_KEY");
        String msg = deploy("web-app", compose, "tcp:127.0.0.1:18080:80", kms.rootPublicKeyHex(),
                "DB_PASSWORD=correct horse battery staple", "API_KEY=k-123=\"quoted\" ünïcode");
        assertThat(msg).startsWith("ok: deployed ");
        String id = msg.substring("ok: deployed ".length()).trim();

        // the browser's ciphertext, as the VMM wrote it into the host share, decrypts to what was typed
        VmLaunch launch = backend.launches.get(id);
        assertThat(launch).as("backend saw the launch of " + id).isNotNull();
        byte[] written = Files.readAllBytes(launch.sharedDir().resolve(".encrypted-env"));
        assertThat(EnvCrypt.decrypt(kms.envKey(), written)).containsExactly(
                new EnvCrypt.EnvVar("DB_PASSWORD", "correct horse battery staple"),
                new EnvCrypt.EnvVar("API_KEY", "k-123=\"quoted\" ünïcode"));
        assertThat(new String(written, StandardCharsets.ISO_8859_1)).doesNotContain("horse");
        assertThat(js("document.getElementById('d-signer').textContent"))
                .isEqualTo("KMS env key signed by " + kms.rootPublicKeyHex() + " (signature_v1)");
        // the typed values are cleared from the form after the deploy
        assertThat(js("[...document.querySelectorAll('.env-value')].map(e => e.value).join('')")).isEmpty();

        // the guest reports boot progress through the host API (as a dstack guest does over vsock)
        assertThat(hostApiNotify(launch.hostApiSocket(), "boot.progress", "starting containers")).startsWith("HTTP/1.1 200");

        // running, with its row, boot progress and app URL
        String row = "document.querySelector('tr[data-id=\"" + id + "\"]')";
        assertThat(browser.waitFor(row + " && " + row + ".querySelector('.boot-progress') !== null",
                row + ".querySelector('.boot-progress').textContent", WAIT).asText()).isEqualTo("starting containers");
        String status = browser.waitFor(row + " && " + row + ".dataset.status === 'running'",
                row + ".querySelector('.status').textContent", WAIT).asText();
        assertThat(status).startsWith("running");
        assertThat(js(row + ".querySelector('.name').textContent")).isEqualTo("web-app");
        String url = browser.waitFor(row + ".querySelector('.app-url, .app-url-guess') !== null",
                row + ".querySelector('.app-url, .app-url-guess').textContent", WAIT).asText();
        assertThat(url).matches("https://[0-9a-f]{40}-8090\\.app\\.example\\.test:9204");
        assertThat(js(row + ".textContent")).contains("18080").contains("2 vCPU, 2048 MB, 10 GB");

        // logs (GET /logs with the query token)
        js(row + ".querySelector('button[data-action=\"logs\"]').click()");
        String logs = browser.waitFor("document.getElementById('logs').textContent.includes('hello from web-app')",
                "document.getElementById('logs').textContent", WAIT).asText();
        assertThat(logs).contains("web-test: booting web-app");

        // stop (force), then remove with its confirmation click
        js(row + ".querySelector('button[data-action=\"stop\"]').click()");
        browser.waitFor(row + " && " + row + ".dataset.status !== 'running'", "true", WAIT);
        js(row + ".querySelector('button[data-action=\"remove\"]').click()");
        browser.waitFor(row + ".querySelector('button[data-action=\"confirm remove\"]') !== null", "true", WAIT);
        js(row + ".querySelector('button[data-action=\"confirm remove\"]').click()");
        browser.waitFor(row + " === null", "true", WAIT);
        assertThat(js("document.getElementById('message').textContent")).isEqualTo("web-app removed");
    }

    /** POST /api/Notify?json on the VM's host-API Unix socket; returns the status line. */
    static String hostApiNotify(Path socket, String event, String payload) throws Exception {
        byte[] body = JSON.writeValueAsBytes(JSON.createObjectNode().put("event", event).put("payload", payload));
        try (java.nio.channels.SocketChannel ch = java.nio.channels.SocketChannel.open(
                java.net.UnixDomainSocketAddress.of(socket))) {
            String head = "POST /api/Notify?json HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + body.length + "\r\nConnection: close\r\n\r\n";
            ch.write(java.nio.ByteBuffer.wrap(head.getBytes(StandardCharsets.US_ASCII)));
            ch.write(java.nio.ByteBuffer.wrap(body));
            byte[] answer = java.nio.channels.Channels.newInputStream(ch).readAllBytes();
            String text = new String(answer, StandardCharsets.ISO_8859_1);
            return text.substring(0, Math.max(0, text.indexOf("\r\n")));
        }
    }

    @Test
    void untrustedSignerRefusesBeforeSending() throws Exception {
        String before = js("window.dstackVmm.state.vms.length");
        String msg = deploy("refused-app", WebFixture.compose("refused-app", "X"), "", "", "X=1");
        assertThat(msg).isEqualTo("error: env: the KMS env key is signed by " + kms.rootPublicKeyHex()
                + ", which is not in the trusted KMS signers; add it there if it is your KMS");
        assertThat(backend.launches.values()).noneMatch(l -> l.name().equals("refused-app"));
        js("window.dstackVmm.refresh()");
        assertThat(js("window.dstackVmm.state.vms.filter(v => v.name === 'refused-app').length")).isEqualTo("0");
        assertThat(js("window.dstackVmm.state.vms.length")).isEqualTo(before);
        // an env key not in the compose's allowed_envs, or a compose without kms_enabled, is refused in the page
        assertThat(deploy("refused-app", WebFixture.compose("refused-app", "X"), "", kms.rootPublicKeyHex(), "Y=1"))
                .isEqualTo("error: env: Y not in the compose's allowed_envs (the guest would drop them)");
        assertThat(deploy("refused-app", WebFixture.compose("refused-app", "X").replace("\"kms_enabled\": true",
                "\"kms_enabled\": false"), "", kms.rootPublicKeyHex(), "X=1"))
                .isEqualTo("error: env: the compose has kms_enabled = false, so the VM could not decrypt its env");
    }

    @Test
    void pageRunsUnderItsOwnCsp() throws Exception {
        // the page's own script ran (it set up window.dstackVmm); an injected inline script is refused
        String r = js("new Promise((res) => { document.addEventListener('securitypolicyviolation',"
                + " (e) => res('blocked ' + e.violatedDirective), {once: true});"
                + " const s = document.createElement('script'); s.textContent = 'window.__injected = 1';"
                + " document.head.append(s); if (window.__injected === 1) res('ran'); })");
        assertThat(r).startsWith("blocked script-src");
    }

    @Test
    void authIsRequiredAndTheTokenLeavesTheAddressBar() throws Exception {
        assertThat(js("location.search")).isEmpty();
        // credentials 'omit': a same-origin 401 with WWW-Authenticate: Basic would open the browser's login prompt
        assertThat(js("fetch('prpc/Status?json', {method: 'POST', body: '{}', credentials: 'omit'}).then(r => r.status)"))
                .isEqualTo("401");
        assertThat(js("fetch('logs?id=x&follow=false&ansi=false&lines=1', {credentials: 'omit'}).then(r => r.status)"))
                .isEqualTo("401");
        HttpClient http = HttpClient.newHttpClient();
        HttpResponse<String> page = http.send(HttpRequest.newBuilder(URI.create(base + "/")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(page.statusCode()).isEqualTo(401);
        HttpResponse<String> ok = http.send(HttpRequest.newBuilder(URI.create(base + "/?token=" + WebFixture.TOKEN))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(ok.statusCode()).isEqualTo(200);
        assertThat(ok.body()).contains("window.dstackVmm");
    }

    /** Evaluates {@code expr} with {@code D = window.dstackVmm} (the page's crypto and helpers). */
    static String cjs(String expr) throws Exception {
        return js("(async () => { const D = window.dstackVmm; return await (" + expr + "); })()");
    }

    // ---- the page's crypto, cross-checked against dstack-ra (no VMM involved) ----

    @Test
    void keccak256KnownAnswers() throws Exception {
        assertThat(cjs("D.Hex.encode(D.Keccak.hash256(new Uint8Array(0)))"))
                .isEqualTo("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
        assertThat(cjs("D.Hex.encode(D.Keccak.hash256(new TextEncoder().encode('abc')))"))
                .isEqualTo("4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
    }

    @Test
    void recoversVmmCliLegacyVector() throws Exception {
        // vmm-cli.py verify_signature's doctest: app_id = 20 zero bytes.
        String r = cjs("D.EnvKey.verify({public_key: 'e33a1832c6562067ff8f844a61e51ad051f1180b66ec2551fb0251735f3ee90a',"
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
            assertThat(cjs("D.EnvKey.verify(" + response + ", " + app + ", " + (ts + 10) + ").signer")).isEqualTo(expected);
            assertThat(cjs("D.EnvKey.verify(" + response + ", " + app + ", " + (ts + 10) + ").version"))
                    .isEqualTo("signature_v1");
            // without signature_v1, the legacy one decides
            String legacyOnly = "{public_key: '" + HEX.formatHex(envPub) + "', signature: '" + legacy.toHex() + "'}";
            assertThat(cjs("D.EnvKey.verify(" + legacyOnly + ", " + app + ", 0).signer")).isEqualTo(expected);
            // stale and future timestamps are refused (no fallback to the legacy signature)
            assertThat(cjs("D.EnvKey.verify(" + response + ", " + app + ", " + (ts + 301) + ").signer"))
                    .startsWith("ERROR: signature_v1: timestamp").contains("older than 300 s");
            assertThat(cjs("D.EnvKey.verify(" + response + ", " + app + ", " + (ts - 61) + ").signer"))
                    .contains("in the future");
            // one flipped bit in the signed key or the app id: another signer (or no point)
            byte[] other = envPub.clone();
            other[5] ^= 1;
            String tampered = response.replace(HEX.formatHex(envPub), HEX.formatHex(other));
            assertThat(cjs("D.EnvKey.verify(" + tampered + ", " + app + ", " + ts + ").signer")).isNotEqualTo(expected);
        }
    }

    @Test
    void refusesMalformedAnswers() throws Exception {
        String app = "new Uint8Array(20)";
        assertThat(cjs("D.EnvKey.verify({public_key: 'abcd', signature: '00'}, " + app + ", 0)"))
                .isEqualTo("ERROR: GetAppEnvEncryptPubKey: public_key is 2 bytes, expected 32");
        assertThat(cjs("D.EnvKey.verify({public_key: '" + "11".repeat(32) + "'}, " + app + ", 0)"))
                .isEqualTo("ERROR: GetAppEnvEncryptPubKey: the response carries no signature");
        assertThat(cjs("D.EnvKey.verify({public_key: '" + "11".repeat(32) + "', signature: '" + "22".repeat(64)
                + "05'}, " + app + ", 0)")).isEqualTo("ERROR: recovery id 5 is not 0 or 1");
        assertThat(cjs("D.EnvKey.verify({public_key: '" + "11".repeat(32) + "', signature: '" + "00".repeat(65)
                + "'}, " + app + ", 0)")).isEqualTo("ERROR: r or s out of range");
        assertThat(cjs("D.EnvKey.verify({public_key: '" + "11".repeat(32) + "', signature: 'zz'}, " + app + ", 0)"))
                .startsWith("ERROR: hex:");
    }

    @Test
    void browserEncryptedEnvDecryptsWithEnvCrypt() throws Exception {
        byte[] envKey = new byte[32];
        Arrays.fill(envKey, (byte) 7);
        byte[] pub = EnvCrypt.publicKey(SecretBytes.of(envKey));
        String hex = cjs("D.EnvKey.encrypt([{key: 'SECRET', value: 'hunter2 ✓'}, {key: 'EMPTY', value: ''}],"
                + " D.Hex.decode('" + HEX.formatHex(pub) + "')).then(D.Hex.encode)");
        byte[] ct = HEX.parseHex(hex);
        assertThat(ct.length).isGreaterThan(32 + 12 + 16);
        List<EnvCrypt.EnvVar> env = EnvCrypt.decrypt(SecretBytes.of(envKey), ct);
        assertThat(env).containsExactly(new EnvCrypt.EnvVar("SECRET", "hunter2 ✓"), new EnvCrypt.EnvVar("EMPTY", ""));
        // a fresh ephemeral key and IV each time
        String again = cjs("D.EnvKey.encrypt([{key: 'SECRET', value: 'hunter2 ✓'}, {key: 'EMPTY', value: ''}],"
                + " D.Hex.decode('" + HEX.formatHex(pub) + "')).then(D.Hex.encode)");
        assertThat(again.substring(0, 88)).isNotEqualTo(hex.substring(0, 88));
        // a low-order recipient key is refused before anything is encrypted
        assertThat(cjs("D.EnvKey.encrypt([{key: 'A', value: 'b'}], new Uint8Array(32)).then(D.Hex.encode)"))
                .startsWith("ERROR:");
    }

    @Test
    void appIdUrlAndPortsAsTheVmmComputesThem() throws Exception {
        String compose = "{\n    \"manifest_version\": 2,\n    \"name\": \"caf\u00e9\"\n}";
        byte[] sha = MessageDigest.getInstance("SHA-256").digest(compose.getBytes(StandardCharsets.UTF_8));
        assertThat(cjs("D.defaultAppId(" + com.fasterxml.jackson.databind.json.JsonMapper.builder().build()
                .writeValueAsString(compose) + ")")).isEqualTo(HEX.formatHex(sha).substring(0, 40));
        String id = "0123456789abcdef0123456789abcdef01234567";
        assertThat(cjs("D.appUrl('" + id + "', {base_domain: 'app.example.com', port: 443, agent_port: 8090})"))
                .isEqualTo("https://" + id + "-8090.app.example.com");
        assertThat(cjs("D.appUrl('" + id + "', {base_domain: 'app.example.com', port: 9204, agent_port: 8090})"))
                .isEqualTo("https://" + id + "-8090.app.example.com:9204");
        assertThat(cjs("D.appUrl('" + id + "', {base_domain: '', port: 443, agent_port: 8090})")).isEqualTo("null");
        assertThat(cjs("JSON.stringify(D.parsePort('8080:80'))"))
                .isEqualTo("{\"protocol\":\"tcp\",\"host_address\":\"127.0.0.1\",\"host_port\":8080,\"vm_port\":80}");
        assertThat(cjs("JSON.stringify(D.parsePort('udp:0.0.0.0:5353:53'))"))
                .isEqualTo("{\"protocol\":\"udp\",\"host_address\":\"0.0.0.0\",\"host_port\":5353,\"vm_port\":53}");
        assertThat(cjs("D.parsePort('sctp:1:2')")).isEqualTo("ERROR: port mapping 'sctp:1:2': protocol must be tcp or udp");
        assertThat(cjs("D.parsePort('tcp:70000:2')"))
                .isEqualTo("ERROR: port mapping 'tcp:70000:2': host port must be 1..65535");
    }
}
