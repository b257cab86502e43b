package dev.atlas.dstack.ra.prpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLParameters;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The dispatcher mounted on the JDK HttpServer/HttpsServer on 127.0.0.1, driven by PrpcClient. */
class PrpcHttpEndToEndTest {
    record AppKeyRequest(String appId, long timeout) {}

    record AppKeyResponse(byte[] caCert, String diskCryptoKey) {}

    final AtomicReference<PrpcContext> lastContext = new AtomicReference<>();
    ExecutorService pool = Executors.newFixedThreadPool(2);
    com.sun.net.httpserver.HttpServer server;

    PrpcDispatcher dispatcher(int maxBody) {
        return PrpcDispatcher.builder()
                .trimPrefix("KMS")
                .appVersion("0.5.3")
                .maxBodyBytes(maxBody)
                .method("GetAppKey", (req, ctx) -> {
                    lastContext.set(ctx);
                    String appId = PrpcJson.string(req, "app_id");
                    if (appId.equals("denied")) {
                        throw new PrpcException("boot denied: app \"denied\" is not allowed");
                    }
                    return new AppKeyResponse(new byte[] {(byte) 0xca, (byte) 0xfe},
                            appId + ":" + PrpcJson.uint32(req, "timeout"));
                })
                .method("Big", (req, ctx) -> Map.of("blob", "x".repeat(5000)))
                .build();
    }

    URI start(PrpcDispatcher d) throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setExecutor(pool);
        server.createContext("/prpc", new PrpcHttpHandler(d));
        server.start();
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/prpc");
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.stop(0);
        }
        pool.shutdownNow();
    }

    @Test
    void callsOverHttp() throws Exception {
        URI base = start(dispatcher(1 << 20));
        PrpcClient c = PrpcClient.builder(base).build();
        JsonNode r = c.call("GetAppKey", new AppKeyRequest("app1", 30));
        assertThat(r.toString()).isEqualTo("{\"ca_cert\":\"cafe\",\"disk_crypto_key\":\"app1:30\"}");
        AppKeyResponse typed = c.call("KMS.GetAppKey", Map.of("app_id", "a2"), AppKeyResponse.class);
        assertThat(typed.caCert()).containsExactly(0xca, 0xfe);
        assertThat(typed.diskCryptoKey()).isEqualTo("a2:0");
        Map<String, String> generic = c.call("GetAppKey", null, new TypeReference<Map<String, String>>() {});
        assertThat(generic).containsEntry("disk_crypto_key", ":0");
        assertThat(lastContext.get().peerCertificates()).isEmpty();
        assertThat(lastContext.get().httpMethod()).isEqualTo("POST");
    }

    @Test
    void remoteErrorsAndStatuses() throws Exception {
        URI base = start(dispatcher(64));
        PrpcClient c = PrpcClient.builder(base).build();
        assertThatThrownBy(() -> c.call("GetAppKey", Map.of("app_id", "denied")))
                .isInstanceOfSatisfying(PrpcRemoteException.class, e -> {
                    assertThat(e.remoteError()).isEqualTo("boot denied: app \"denied\" is not allowed");
                    assertThat(e.method()).isEqualTo("GetAppKey");
                });
        assertThatThrownBy(() -> c.call("Nope", null)).isInstanceOfSatisfying(PrpcRemoteException.class,
                e -> assertThat(e.remoteError()).isEqualTo("Service not found: Nope"));
        assertThatThrownBy(() -> c.call("GetAppKey", Map.of("app_id", 5)))
                .hasMessage("field `app_id`: invalid type: integer, expected a string");
        // the body limit is enforced while reading, answered with upstream's 400
        assertThatThrownBy(() -> c.call("GetAppKey", Map.of("app_id", "y".repeat(100))))
                .isInstanceOfSatisfying(PrpcRemoteException.class,
                        e -> assertThat(e.remoteError()).isEqualTo("failed to read data: payload too large"));
        // a status other than 200/400 names the URL and the status
        PrpcClient wrongMount = PrpcClient.builder(URI.create(base.toString().replace("/prpc", "/other"))).build();
        assertThatThrownBy(() -> wrongMount.call("GetAppKey", null)).isInstanceOf(IOException.class)
                .isNotInstanceOf(PrpcRemoteException.class)
                .hasMessageContaining("/other/GetAppKey?json").hasMessageContaining("HTTP 404");
        // a response over the client's limit
        PrpcClient small = PrpcClient.builder(base).maxResponseBytes(1000).build();
        assertThatThrownBy(() -> small.call("Big", null)).isInstanceOf(IOException.class)
                .hasMessageContaining("exceeds the limit of 1000 bytes");
    }

    @Test
    void getQueryHeadersAndAppVersionOverTheWire() throws Exception {
        URI base = start(PrpcDispatcher.builder().appVersion("0.5.3").method("GetAppKey", (req, ctx) -> {
            lastContext.set(ctx);
            return Map.of("timeout", PrpcJson.uint32(req, "timeout"), "app_id", PrpcJson.string(req, "app_id"));
        }).adminAuth(AdminAuth.forGateway().token("tok").build()).build());
        java.net.http.HttpClient h = java.net.http.HttpClient.newBuilder()
                .version(java.net.http.HttpClient.Version.HTTP_1_1).build();
        var resp = h.send(java.net.http.HttpRequest.newBuilder(URI.create(base + "/GetAppKey?timeout=9&app_id=x&token=tok"))
                .GET().build(), java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(resp.statusCode()).isEqualTo(200);
        assertThat(resp.headers().firstValue("x-app-version")).contains("0.5.3");
        assertThat(resp.headers().firstValue("content-type")).contains("application/json");
        assertThat(PrpcClient.errorText(resp.body().getBytes(StandardCharsets.UTF_8))).isNull();
        assertThat(resp.body()).contains("\"timeout\":9").contains("\"app_id\":\"x\"");
        var denied = h.send(java.net.http.HttpRequest.newBuilder(URI.create(base + "/GetAppKey")).GET().build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(denied.statusCode()).isEqualTo(401);
        assertThat(denied.headers().firstValue("www-authenticate")).contains("Basic realm=\"dstack-gateway admin\"");
        assertThat(denied.headers().firstValue("x-app-version")).contains("0.5.3");
        PrpcClient withToken = PrpcClient.builder(base).bearerToken("tok").build();
        assertThat(withToken.call("GetAppKey", Map.of("timeout", 3)).get("timeout").asInt()).isEqualTo(3);
        assertThat(lastContext.get().header("authorization")).contains("Bearer tok");
        PrpcClient noToken = PrpcClient.builder(base).build();
        assertThatThrownBy(() -> noToken.call("GetAppKey", null)).hasMessageContaining("HTTP 401");
    }

    @Test
    void adminFilterGuardsOtherRoutes() throws Exception {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setExecutor(pool);
        AtomicReference<Object> routed = new AtomicReference<>();
        com.sun.net.httpserver.HttpContext ui = server.createContext("/", ex -> {
            routed.set(ex.getAttribute(AdminAuth.ROUTED_QUERY_ATTRIBUTE));
            byte[] b = "ui".getBytes(StandardCharsets.US_ASCII);
            ex.sendResponseHeaders(200, b.length);
            ex.getResponseBody().write(b);
            ex.close();
        });
        ui.getFilters().add(AdminAuth.forVmm().token("tok").build().httpFilter());
        server.start();
        String base = "http://127.0.0.1:" + server.getAddress().getPort();
        java.net.http.HttpClient h = java.net.http.HttpClient.newBuilder()
                .version(java.net.http.HttpClient.Version.HTTP_1_1).build();
        var denied = h.send(java.net.http.HttpRequest.newBuilder(URI.create(base + "/index.html")).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(denied.statusCode()).isEqualTo(401);
        assertThat(denied.headers().firstValue("www-authenticate")).contains("Basic realm=\"dstack-vmm API\"");
        assertThat(routed.get()).isNull();
        var ok = h.send(java.net.http.HttpRequest.newBuilder(URI.create(base + "/index.html?token=tok&tab=vms"))
                .build(), java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(ok.statusCode()).isEqualTo(200);
        assertThat(ok.body()).isEqualTo("ui");
        assertThat(routed.get()).isEqualTo("tab=vms");
    }

    @Test
    void declaredHugeBodyIsNotRead() throws Exception {
        URI base = start(dispatcher(1024));
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), base.getPort())) {
            OutputStream out = s.getOutputStream();
            out.write(("POST /prpc/GetAppKey?json HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n"
                    + "Connection: close\r\n\r\n{").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            String head = new String(in.readNBytes(12), StandardCharsets.US_ASCII);
            assertThat(head).isEqualTo("HTTP/1.1 400");
        }
    }

    @Test
    void httpsWithClientCertificateReachesTheContext() throws Exception {
        TestCerts.Identity serverId = TestCerts.selfSigned("prpc-server", true);
        TestCerts.Identity clientId = TestCerts.selfSigned("ratls-client", false);
        HttpsServer https = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        https.setHttpsConfigurator(new HttpsConfigurator(TestCerts.context(serverId, clientId.cert())) {
            @Override
            public void configure(HttpsParameters params) {
                SSLParameters p = getSSLContext().getDefaultSSLParameters();
                p.setNeedClientAuth(true);
                params.setSSLParameters(p);
            }
        });
        https.setExecutor(pool);
        https.createContext("/prpc", new PrpcHttpHandler(dispatcher(1 << 20)));
        https.start();
        server = https;
        URI base = URI.create("https://127.0.0.1:" + https.getAddress().getPort() + "/prpc");
        PrpcClient c = PrpcClient.builder(base).sslContext(TestCerts.context(clientId, serverId.cert())).build();
        assertThat(c.call("KMS.GetAppKey", Map.of("app_id", "tls")).get("disk_crypto_key").asText())
                .isEqualTo("tls:0");
        List<X509Certificate> peer = lastContext.get().peerCertificates().orElseThrow();
        assertThat(peer.get(0)).isEqualTo(clientId.cert());
        // a client without a certificate is refused by the TLS layer
        PrpcClient anonymous = PrpcClient.builder(base).sslContext(TestCerts.context(null, serverId.cert())).build();
        assertThatThrownBy(() -> anonymous.call("GetAppKey", null)).isInstanceOf(IOException.class)
                .hasMessageContaining(base.toString());
    }

    @Test
    void clientValidatesItsArguments() {
        assertThatThrownBy(() -> PrpcClient.builder(URI.create("ftp://x/")))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> PrpcClient.builder(URI.create("http://x/p?q=1")))
                .isInstanceOf(IllegalArgumentException.class);
        PrpcClient c = PrpcClient.builder(URI.create("http://127.0.0.1:1/prpc/")).build();
        assertThat(c.methodUri("KMS.GetAppKey").toString()).isEqualTo("http://127.0.0.1:1/prpc/KMS.GetAppKey?json");
        assertThatThrownBy(() -> c.methodUri("a/b")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> PrpcClient.builder(URI.create("http://x")).requestTimeout(java.time.Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
