package dev.atlas.dstack.kms.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.atlas.dstack.ra.RaException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The webhook auth API against a loopback HTTP server (port 0): the request shape (path, JSON body, content type),
 * and every way a webhook can fail, each a refusal ({@code AUTH_UNAVAILABLE}) with dstack's text, never an allow.
 */
class WebhookAuthApiTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    static HttpServer server;
    static ExecutorService pool;
    static final CountDownLatch never = new CountDownLatch(1);
    static final List<String> seen = new CopyOnWriteArrayList<>();
    static String base;

    @BeforeAll
    static void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        pool = Executors.newCachedThreadPool();
        server.setExecutor(pool);
        reply("/allow/", 200, "{\"isAllowed\":true,\"reason\":\"\",\"gatewayAppId\":\"gw\",\"extra\":1}");
        reply("/deny/", 200, "{\"isAllowed\":false,\"reason\":\"compose hash not allowed\",\"gatewayAppId\":\"\"}");
        reply("/e500/", 500, "{\"status\":\"error\",\"message\":\"boom\"}");
        reply("/zod/", 400, "{\"success\":false,\"error\":{\"issues\":[],\"name\":\"ZodError\"}}");
        reply("/garbage/", 200, "not-json");
        reply("/missing/", 200, "{\"isAllowed\":true,\"reason\":\"\"}");
        reply("/stringbool/", 200, "{\"isAllowed\":\"true\",\"reason\":\"\",\"gatewayAppId\":\"\"}");
        reply("/dup/", 200, "{\"isAllowed\":false,\"isAllowed\":true,\"reason\":\"\",\"gatewayAppId\":\"\"}");
        reply("/trailing/", 200, "{\"isAllowed\":true,\"reason\":\"\",\"gatewayAppId\":\"\"} {}");
        reply("/big/", 200, "{\"isAllowed\":true,\"reason\":\"" + "x".repeat(WebhookAnswers.MAX_ANSWER_BYTES)
                + "\",\"gatewayAppId\":\"\"}");
        reply("/redirect/", 302, "");
        reply("/info/", 200, "{\"status\":\"ok\",\"kmsContractAddr\":\"0xabc\",\"gatewayAppId\":\"gw\","
                + "\"chainId\":18446744073709551615,\"appAuthImplementation\":\"0xi\",\"appImplementation\":\"0xi\"}");
        reply("/infoneg/", 200, "{\"status\":\"ok\",\"kmsContractAddr\":\"\",\"gatewayAppId\":\"\",\"chainId\":-1,"
                + "\"appImplementation\":\"\"}");
        server.createContext("/slow/", ex -> {
            seen.add(ex.getRequestURI().getPath());
            try {
                never.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            ex.close();
        });
        server.start();
        base = "http://127.0.0.1:" + server.getAddress().getPort();
    }

    static void reply(String ctx, int status, String body) {
        server.createContext(ctx, ex -> {
            byte[] req = ex.getRequestBody().readAllBytes();
            seen.add(ex.getRequestMethod() + " " + ex.getRequestURI().getPath() + " "
                    + ex.getRequestHeaders().getFirst("Content-Type") + " " + new String(req, StandardCharsets.UTF_8));
            send(ex, status, body);
        });
    }

    static void send(HttpExchange ex, int status, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("Content-Type", "application/json");
        ex.sendResponseHeaders(status, b.length == 0 ? -1 : b.length);
        if (b.length > 0) {
            ex.getResponseBody().write(b);
        }
        ex.close();
    }

    @AfterAll
    static void stop() {
        never.countDown();
        server.stop(0);
        pool.shutdownNow();
    }

    static AuthApi at(String path) {
        return AuthApi.webhook(URI.create(base + path), Duration.ofSeconds(5));
    }

    static ObjectNode bootInfo() {
        ObjectNode o = JSON.createObjectNode();
        o.put("appId", "aa".repeat(20));
        return o;
    }

    static String unavailable(AuthApi a) {
        RaException e = assertThrows(RaException.class, () -> a.bootAuthApp(bootInfo()));
        assertEquals(RaException.Reason.AUTH_UNAVAILABLE, e.raReason());
        return e.detail();
    }

    @Test
    void allowAndDenyPostTheBootInfoToBothPaths() throws Exception {
        BootDecision d = at("/allow").bootAuthApp(bootInfo());
        assertTrue(d.allowed());
        assertEquals("gw", d.gatewayAppIdOrEmpty());
        assertTrue(at("/allow/").bootAuthKms(bootInfo()).allowed());
        assertTrue(seen.contains("POST /allow/bootAuth/app application/json " + bootInfo()), seen.toString());
        assertTrue(seen.contains("POST /allow/bootAuth/kms application/json " + bootInfo()), seen.toString());
        BootDecision deny = at("/deny").bootAuthApp(bootInfo());
        assertFalse(deny.allowed());
        assertEquals("compose hash not allowed", deny.reason());
    }

    @Test
    void non2xxIsUnavailable() {
        assertEquals("auth api " + base + "/e500/bootAuth/app returned 500", unavailable(at("/e500")));
        assertEquals("auth api " + base + "/zod/bootAuth/app returned 400", unavailable(at("/zod")));
        assertEquals("auth api " + base + "/redirect/bootAuth/app returned 302", unavailable(at("/redirect")));
    }

    @Test
    void garbageIsUnavailable() {
        String prefix = "failed to decode response from " + base;
        assertTrue(unavailable(at("/garbage")).startsWith(prefix + "/garbage/bootAuth/app: not JSON"));
        assertEquals(prefix + "/missing/bootAuth/app: missing field `gatewayAppId`", unavailable(at("/missing")));
        assertEquals(prefix + "/stringbool/bootAuth/app: field `isAllowed`: invalid type: string, expected a boolean",
                unavailable(at("/stringbool")));
        assertTrue(unavailable(at("/dup")).contains("not JSON (Duplicate field 'isAllowed')"));
        assertEquals(prefix + "/trailing/bootAuth/app: trailing characters after the JSON value",
                unavailable(at("/trailing")));
        assertEquals(prefix + "/big/bootAuth/app: answer larger than " + WebhookAnswers.MAX_ANSWER_BYTES + " bytes",
                unavailable(at("/big")));
    }

    @Test
    void slowIsATimeout() {
        AuthApi a = AuthApi.webhook(URI.create(base + "/slow"), Duration.ofMillis(300));
        String e = unavailable(a);
        assertEquals("auth api " + base + "/slow/bootAuth/app did not answer within 300 ms", e);
    }

    @Test
    void downIsUnavailable() throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        String e = unavailable(AuthApi.webhook(URI.create("http://127.0.0.1:" + port), Duration.ofSeconds(5)));
        assertTrue(e.startsWith("auth api http://127.0.0.1:" + port + "/bootAuth/app unreachable: "), e);
    }

    @Test
    void infoIsStrict() throws Exception {
        AuthInfo i = at("/info/").info();
        assertEquals("0xabc", i.kmsContractAddr());
        assertEquals("-1", Long.toString(i.chainId().getAsLong()), "u64 max kept as unsigned bits");
        assertEquals("0xi", i.appAuthImplementation());
        assertEquals("", i.ethRpcUrl());
        RaException e = assertThrows(RaException.class, () -> at("/infoneg/").info());
        assertTrue(e.detail().endsWith("field `chainId`: -1 is not a u64"), e.detail());
    }

    @Test
    void urlsInMessagesLoseUserInfoAndQuery() {
        AuthApi a = AuthApi.webhook(URI.create("http://user:secret@127.0.0.1:" + server.getAddress().getPort()
                + "/e500?token=abc"), Duration.ofSeconds(5));
        String e = unavailable(a);
        assertFalse(e.contains("secret") || e.contains("abc"), e);
    }

    @Test
    void devAllowsEverythingAndSaysSo() throws Exception {
        AuthApi d = AuthApi.dev("gw-dev");
        assertTrue(d.isDev());
        JsonNode any = JSON.createObjectNode();
        assertTrue(d.bootAuthApp(any).allowed());
        assertTrue(d.bootAuthKms(any).allowed());
        assertEquals("gw-dev", d.bootAuthApp(any).gatewayAppIdOrEmpty());
        assertEquals("gw-dev", d.info().gatewayAppId());
        List<String> lines = new CopyOnWriteArrayList<>();
        AuditLog.toSink(lines::add, SvcFixtures.CLOCK, true).release("GetAppKey", java.util.Optional.empty());
        assertEquals(DevAuthApi.WARNING, JSON.readTree(lines.get(0)).get("warning").asText(), lines.get(0));
    }
}
