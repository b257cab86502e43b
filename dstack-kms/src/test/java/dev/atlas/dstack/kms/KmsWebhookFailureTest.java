package dev.atlas.dstack.kms;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.guest.AppInfo;
import dev.atlas.dstack.guest.DstackClient;
import dev.atlas.dstack.ra.kms.KmsClient;
import dev.atlas.dstack.ra.prpc.PrpcRemoteException;
import dev.atlas.dstack.simulator.GuestAgentSimulator;
import dev.atlas.tdx.CollateralClient;
import dev.atlas.tdx.CollateralSource;
import dev.atlas.tdx.QuoteVerifier;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The auth webhook failing while an allowlisted app asks for its keys: down (connection dropped), slow (past the
 * KMS's webhook timeout), garbage, HTTP 500. Each must be a refusal (never an allow), with the audit line, no key.
 * The KMS's webhook is a switch in front of the real auth server: {@code /bootAuth/kms} and {@code GET /} always
 * pass (so self-authorization holds), {@code /bootAuth/app} fails as the test says.
 */
class KmsWebhookFailureTest {
    @TempDir
    static Path dir;
    static KmsTestbed bed;
    static KmsTestbed.Node kms;
    static HttpServer webhook;
    static volatile String mode = "pass";
    static final CountDownLatch RELEASE_SLOW = new CountDownLatch(1);
    static DstackClient appAgent;
    static AppInfo appInfo;
    static DstackTdxVerifier verifier;

    @BeforeAll
    static void setUp() throws Exception {
        bed = KmsTestbed.start(dir);
        webhook = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        webhook.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        webhook.createContext("/", KmsWebhookFailureTest::handle);
        webhook.start();
        String url = "http://127.0.0.1:" + webhook.getAddress().getPort();
        kms = bed.node("kmsW", (byte) 0x0d, false, t -> t.replace(bed.authUrl().toString(), url));
        kms.allowSelf();
        kms.bootstrap("kms-webhook.example.com");
        kms.finish();
        byte[] appId = new byte[20];
        Arrays.fill(appId, (byte) 0x4d);
        GuestAgentSimulator app = bed.cvm("app", appId);
        appAgent = DstackClient.builder().endpoint(app.internalSocket().orElseThrow().toString()).build();
        appInfo = appAgent.info();
        bed.allowApp(appInfo.appId(), appInfo.composeHash(), appInfo.osImageHash());
        X509Certificate root = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(
                new ByteArrayInputStream(Files.readAllBytes(bed.rootCaFile)));
        verifier = DstackTdxVerifier.builder()
                .quoteVerifier(QuoteVerifier.builder().insecureTrustAnchorForTesting(root).build())
                .collateralSource(CollateralSource.fetching(CollateralClient.builder().baseUrl(bed.pccs.baseUrl())
                        .build()))
                .build();
        // sanity: with the switch passing, the app gets its keys
        client().getAppKey(appInfo.vmConfig());
    }

    @AfterAll
    static void tearDown() {
        RELEASE_SLOW.countDown();
        if (webhook != null) {
            webhook.stop(0);
        }
        if (bed != null) {
            bed.close();
        }
    }

    static void handle(HttpExchange ex) throws IOException {
        try (ex) {
            byte[] body = ex.getRequestBody().readAllBytes();
            String path = ex.getRequestURI().getPath();
            String m = path.equals("/bootAuth/app") ? mode : "pass";
            switch (m) {
                case "down" -> {
                    // drop the connection without an answer
                    throw new IOException("dropped");
                }
                case "slow" -> {
                    try {
                        RELEASE_SLOW.await(30, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    reply(ex, 200, "{\"isAllowed\":true,\"reason\":\"\",\"gatewayAppId\":\"\"}");
                }
                case "garbage" -> reply(ex, 200, "<html>not json</html>");
                case "500" -> reply(ex, 500, "{\"isAllowed\":true,\"reason\":\"internal\"}");
                default -> {
                    HttpRequest.Builder rb = HttpRequest.newBuilder(URI.create(bed.authUrl() + path))
                            .timeout(Duration.ofSeconds(10));
                    if (ex.getRequestMethod().equals("POST")) {
                        rb.header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofByteArray(body));
                    }
                    HttpResponse<byte[]> r;
                    try {
                        r = KmsTestbed.HTTP.send(rb.build(), HttpResponse.BodyHandlers.ofByteArray());
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IOException(e);
                    }
                    ex.getResponseHeaders().set("Content-Type", "application/json");
                    ex.sendResponseHeaders(r.statusCode(), r.body().length == 0 ? -1 : r.body().length);
                    try (OutputStream os = ex.getResponseBody()) {
                        os.write(r.body());
                    }
                }
            }
        }
    }

    static void reply(HttpExchange ex, int status, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, b.length);
        try (OutputStream os = ex.getResponseBody()) {
            os.write(b);
        }
    }

    static KmsClient client() {
        return KmsClient.builder(kms.rpcUrl()).attester(appAgent::attest).verifier(verifier)
                .timeout(Duration.ofSeconds(60)).build();
    }

    static String refusedIn(String m) throws Exception {
        mode = m;
        int from = bed.audit.size();
        try {
            PrpcRemoteException e = assertThrows(PrpcRemoteException.class, () -> client().getAppKey(appInfo.vmConfig()));
            List<String> audit = new ArrayList<>(bed.audit.subList(from, bed.audit.size()));
            for (String l : audit) {
                assertFalse(l.contains("\"decision\":\"release\""), m + ": released: " + l);
            }
            assertTrue(audit.stream().anyMatch(l -> l.contains("\"method\":\"GetAppKey\"")
                    && l.contains("\"decision\":\"refuse\"")), m + ": no audit refusal: " + audit);
            assertTrue(e.remoteError().startsWith("App not allowed: "), e.remoteError());
            return e.remoteError();
        } finally {
            mode = "pass";
        }
    }

    @Test
    void webhookDown() throws Exception {
        refusedIn("down");
    }

    @Test
    void webhookSlow() throws Exception {
        String text = refusedIn("slow");
        assertTrue(text.contains("did not answer within"), text);
    }

    @Test
    void webhookGarbage() throws Exception {
        refusedIn("garbage");
    }

    @Test
    void webhook500() throws Exception {
        String text = refusedIn("500");
        assertTrue(text.contains("500"), text);
    }
}
