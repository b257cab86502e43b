package dev.atlas.dstack.vmm.internal.web;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.dstack.ra.EnvCrypt;
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
 * The dashboard end to end in headless Chromium (skipped without it) against a {@link VmmServer} with {@code [auth]}
 * on, a stub KMS and a test backend: deploy with an env encrypted in the browser → running with its app URL → logs →
 * stop → remove; the {@code .encrypted-env} the VMM wrote decrypts with the KMS env key to what was typed; an
 * untrusted KMS signer refuses the deploy before anything is sent.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class DashboardBrowserTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Duration WAIT = Duration.ofSeconds(20);

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
        assertThat(new String(written, java.nio.charset.StandardCharsets.ISO_8859_1)).doesNotContain("horse");
        assertThat(js("document.getElementById('d-signer').textContent"))
                .isEqualTo("KMS env key signed by " + kms.rootPublicKeyHex() + " (signature_v1)");
        // the typed values are cleared from the form after the deploy
        assertThat(js("[...document.querySelectorAll('.env-value')].map(e => e.value).join('')")).isEmpty();

        // running, with its row and app URL
        String row = "document.querySelector('tr[data-id=\"" + id + "\"]')";
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
}
