package dev.atlas.dstack.kms.internal;

import dev.atlas.testing.HeadlessChromium;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.dstack.auth.AuthServer;
import dev.atlas.dstack.auth.MockPolicy;
import dev.atlas.dstack.ra.kms.BootstrapResponse;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The onboard listener end to end on loopback: a simulated KMS CVM (guest agent on a Unix socket), dstack-auth as
 * the webhook (mock policy allow-all), the real self-authorization and verifier, {@link OnboardServer} with
 * {@link OnboardRpc} and {@link OnboardPage}; the page driven in headless Chromium (skipped without it).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class OnboardPageBrowserTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP = HttpClient.newHttpClient();

    @TempDir
    static Path tmp;
    static OnboardTestCvm cvm;
    static AuthServer auth;
    static AuthApi authApi;
    static SelfAuthorization self;
    static CallerVerifier verifier;

    @BeforeAll
    static void start() throws Exception {
        cvm = OnboardTestCvm.start(tmp, 9);
        auth = AuthServer.builder(tmp.resolve("auth-config.json")).host("127.0.0.1").port(0)
                .mockPolicy(MockPolicy.ALLOW_ALL).log(new PrintStream(OutputStream.nullOutputStream())).build()
                .start();
        authApi = AuthApi.webhook(URI.create("http://127.0.0.1:" + auth.port() + "/"));
        verifier = new CallerVerifier(cvm.verifier);
        self = new SelfAuthorization(true, authApi, cvm.agent, verifier, Clock.systemUTC());
    }

    @AfterAll
    static void stop() {
        if (auth != null) {
            auth.close();
        }
        if (cvm != null) {
            cvm.close();
        }
    }

    record Kms(KeyStore store, OnboardServer server, String base) {
    }

    static Kms kms(String name) throws Exception {
        KeyStore store = new KeyStore(Files.createDirectories(tmp.resolve(name)), Clock.systemUTC());
        Bootstrapper b = new Bootstrapper(store, cvm.agent, true,
                new WebhookOnboardAuthority(self, authApi, verifier, Clock.systemUTC()),
                Bootstrapper.sourceVia(Duration.ofSeconds(10), url -> {
                    throw new AssertionError("no onboarding source in this test");
                }), new SecureRandom());
        OnboardServer server = OnboardServer.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
                finish -> OnboardRpc.dispatcher(new OnboardRpc.Deps(b,
                        OnboardRpc.attestationInfo(self, cvm.agent, authApi, "Test KMS site"), finish)));
        return new Kms(store, server, "http://127.0.0.1:" + server.address().getPort());
    }

    static HttpResponse<String> get(String url) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> post(String url, String json) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void plainRoutesAndThePrpcServiceOverHttp() throws Exception {
        Kms k = kms("http");
        try {
            assertThat(get(k.base + "/health").body()).isEqualTo("OK");
            HttpResponse<String> page = get(k.base + "/");
            assertThat(page.statusCode()).isEqualTo(200);
            assertThat(page.headers().firstValue("Content-Type")).contains("text/html; charset=utf-8");
            assertThat(page.body()).contains("id=\"bootstrap-form\"", "id=\"onboard-form\"", "/prpc/Onboard.")
                    .doesNotContain("src=\"http", "href=\"http", "@import", "cdn");
            assertThat(get(k.base + "/nothing").statusCode()).isEqualTo(404);

            JsonNode info = JSON.readTree(post(k.base + "/prpc/Onboard.GetAttestationInfo?json", "{}").body());
            assertThat(info.get("tee_variant").asText()).isEqualTo("dstack-tdx");
            assertThat(info.get("site_name").asText()).isEqualTo("Test KMS site");
            assertThat(info.get("mr_aggregated").asText()).isEqualTo(self.selfBootInfo().get("mrAggregated").asText());
            assertThat(info.get("device_id").asText()).isEqualTo(self.selfBootInfo().get("deviceId").asText());
            assertThat(info.get("kms_contract_address").asText()).isEqualTo(MockPolicy.DEFAULT_KMS_CONTRACT);

            HttpResponse<String> bad = post(k.base + "/prpc/Onboard.Bootstrap?json", "{\"domain\":\"-bad.example\"}");
            assertThat(bad.statusCode()).isEqualTo(400);
            assertThat(JSON.readTree(bad.body()).get("error").asText()).isEqualTo("domain contains an invalid DNS label");

            assertThat(post(k.base + "/prpc/Onboard.Finish?json", "{}").body()).isEqualTo("{}");
            assertThat(k.server.awaitFinish(Duration.ofSeconds(30))).isTrue();
            assertThat(Files.list(k.store.certDir()).count()).isZero();
        } finally {
            k.server.close();
        }
    }

    @Test
    void bootstrapThroughThePageInHeadlessChromium(@TempDir Path profile) throws Exception {
        assumeTrue(HeadlessChromium.available(), "chromium not installed at " + HeadlessChromium.CHROMIUM
                + " (apt-get install chromium); skipping the onboarding page browser test");
        Kms k = kms("browser");
        try (HeadlessChromium chrome = HeadlessChromium.open(profile, k.base + "/")) {
            Duration wait = Duration.ofSeconds(60);
            JsonNode shown = chrome.waitFor("!document.getElementById('attestation-info').hidden",
                    "({mr: document.getElementById('info-mr-aggregated').textContent,"
                            + " device: document.getElementById('info-device-id').textContent,"
                            + " os: document.getElementById('info-os-image-hash').textContent,"
                            + " title: document.title})", wait);
            JsonNode own = self.selfBootInfo();
            assertThat(shown.get("mr").asText()).isEqualTo("0x" + own.get("mrAggregated").asText());
            assertThat(shown.get("device").asText()).isEqualTo("0x" + own.get("deviceId").asText());
            assertThat(shown.get("os").asText()).startsWith("0x").hasSize(66);
            assertThat(shown.get("title").asText()).isEqualTo("Test KMS site");

            // A refused domain: the error is shown verbatim
            chrome.eval("document.getElementById('bootstrap-domain').value = 'kms_bad.example';"
                    + " document.getElementById('bootstrap-submit').click(); true");
            JsonNode err = chrome.waitFor("!document.getElementById('error').hidden",
                    "document.getElementById('error').textContent", wait);
            assertThat(err.asText()).isEqualTo("domain contains an invalid DNS label");

            chrome.eval("document.getElementById('bootstrap-domain').value = 'kms.example.com';"
                    + " document.getElementById('bootstrap-submit').click(); true");
            JsonNode result = chrome.waitFor("!document.getElementById('result').hidden",
                    "({ca: document.getElementById('result-ca-pubkey').textContent,"
                            + " k256: document.getElementById('result-k256-pubkey').textContent,"
                            + " attestation: document.getElementById('result-attestation').textContent,"
                            + " error: document.getElementById('error').hidden})", wait);
            BootstrapResponse info = k.store.readBootstrapInfo().orElseThrow();
            HexFormat hex = HexFormat.of();
            assertThat(result.get("ca").asText()).isEqualTo("0x" + hex.formatHex(info.caPubkey()));
            assertThat(result.get("k256").asText()).isEqualTo("0x" + hex.formatHex(info.k256Pubkey()));
            assertThat(result.get("attestation").asText()).isEqualTo("0x" + hex.formatHex(info.attestation()));
            assertThat(result.get("error").asBoolean()).as("error box hidden after success").isTrue();
            assertThat(k.store.keysComplete()).isTrue();

            chrome.eval("document.getElementById('finish').click(); true");
            JsonNode finished = chrome.waitFor("!document.getElementById('finished').hidden", "true", wait);
            assertThat(finished.asBoolean()).isTrue();
            assertThat(k.server.awaitFinish(Duration.ofSeconds(30))).isTrue();
        } finally {
            k.server.close();
        }
    }
}
