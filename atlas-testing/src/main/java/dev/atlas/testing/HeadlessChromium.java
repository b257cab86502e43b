package dev.atlas.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Headless Chromium (Debian's {@code chromium}; {@code -Datlas.chromium=path} to override) driven over the Chrome
 * DevTools Protocol on loopback: open a page, evaluate JavaScript in it (awaiting promises), so a test can fill a
 * form, click, and read what the page shows. Waiting is done inside the page ({@link #waitFor}), never by sleeping.
 */
public final class HeadlessChromium implements AutoCloseable {
    public static final Path CHROMIUM = Path.of(System.getProperty("atlas.chromium", "/usr/bin/chromium"));
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Process process;
    private final WebSocket ws;
    private final Map<Integer, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();
    private final AtomicInteger ids = new AtomicInteger();
    private volatile String session;

    public static boolean available() {
        return Files.isExecutable(CHROMIUM);
    }

    private HeadlessChromium(Process process, URI browserWs) throws Exception {
        this.process = process;
        this.ws = HttpClient.newHttpClient().newWebSocketBuilder().connectTimeout(Duration.ofSeconds(20))
                .buildAsync(browserWs, new Listener()).get(30, TimeUnit.SECONDS);
    }

    /** Starts Chromium with a fresh profile in {@code profile} and opens {@code url} in a new page. */
    public static HeadlessChromium open(Path profile, String url) throws Exception {
        List<String> cmd = List.of(CHROMIUM.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-dev-shm-usage", "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0", "--remote-allow-origins=*", "--user-data-dir=" + profile,
                "about:blank");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        CompletableFuture<URI> endpoint = new CompletableFuture<>();
        Path log = profile.resolve("chromium-output.log");
        Thread drain = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(),
                    StandardCharsets.UTF_8)); var out = Files.newBufferedWriter(log)) {
                String line;
                while ((line = r.readLine()) != null) {
                    out.write(line);
                    out.newLine();
                    out.flush();
                    int i = line.indexOf("DevTools listening on ");
                    if (i >= 0) {
                        endpoint.complete(URI.create(line.substring(i + "DevTools listening on ".length()).trim()));
                    }
                }
            } catch (IOException e) {
                endpoint.completeExceptionally(e);
            }
            endpoint.completeExceptionally(new IOException("chromium exited without a DevTools endpoint; see " + log));
        }, "chromium-output");
        drain.setDaemon(true);
        drain.start();
        HeadlessChromium c;
        try {
            c = new HeadlessChromium(p, endpoint.get(60, TimeUnit.SECONDS));
        } catch (Exception e) {
            destroy(p);
            throw e;
        }
        try {
            ObjectNode create = JSON.createObjectNode().put("url", url);
            String target = c.send(null, "Target.createTarget", create).path("targetId").asText();
            c.session = c.send(null, "Target.attachToTarget",
                    JSON.createObjectNode().put("targetId", target).put("flatten", true)).path("sessionId").asText();
        } catch (Exception e) {
            c.close();
            throw e;
        }
        return c;
    }

    /** Evaluates {@code expression} in the page; a promise is awaited; the value comes back as JSON. */
    public JsonNode eval(String expression) throws Exception {
        ObjectNode params = JSON.createObjectNode().put("expression", expression).put("awaitPromise", true)
                .put("returnByValue", true);
        JsonNode r = send(session, "Runtime.evaluate", params);
        if (r.has("exceptionDetails")) {
            throw new AssertionError("page script failed: " + r.get("exceptionDetails"));
        }
        return r.path("result").path("value");
    }

    /**
     * Waits, inside the page, until {@code condition} (a JS expression) is truthy (checked every 50 ms), then
     * evaluates {@code value}. The Java side waits at most {@code timeout} for the answer.
     */
    public JsonNode waitFor(String condition, String value, Duration timeout) throws Exception {
        String js = "new Promise((resolve) => { const check = () => { try { if (" + condition + ") { resolve(("
                + value + ")); return; } } catch (e) {} setTimeout(check, 50); }; check(); })";
        ObjectNode params = JSON.createObjectNode().put("expression", js).put("awaitPromise", true)
                .put("returnByValue", true);
        JsonNode r = null;
        // The first evaluations may race the page's navigation from about:blank: its context is then replaced
        // under the call; ask again in the new document (bounded).
        for (int attempt = 0; r == null; attempt++) {
            try {
                r = send(session, "Runtime.evaluate", params, timeout);
            } catch (AssertionError e) {
                String m = String.valueOf(e.getMessage());
                if (attempt >= 20 || !(m.contains("Execution context was destroyed")
                        || m.contains("Cannot find default execution context"))) {
                    throw e;
                }
            }
        }
        if (r.has("exceptionDetails")) {
            throw new AssertionError("page script failed: " + r.get("exceptionDetails"));
        }
        return r.path("result").path("value");
    }

    private JsonNode send(String sessionId, String method, ObjectNode params) throws Exception {
        return send(sessionId, method, params, Duration.ofSeconds(60));
    }

    private JsonNode send(String sessionId, String method, ObjectNode params, Duration timeout) throws Exception {
        int id = ids.incrementAndGet();
        ObjectNode msg = JSON.createObjectNode().put("id", id).put("method", method);
        msg.set("params", params);
        if (sessionId != null) {
            msg.put("sessionId", sessionId);
        }
        CompletableFuture<JsonNode> f = new CompletableFuture<>();
        pending.put(id, f);
        synchronized (ws) {
            ws.sendText(msg.toString(), true).get(10, TimeUnit.SECONDS);
        }
        JsonNode answer = f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        if (answer.has("error")) {
            throw new AssertionError(method + ": " + answer.get("error"));
        }
        return answer.path("result");
    }

    private final class Listener implements WebSocket.Listener {
        private final StringBuilder buf = new StringBuilder();

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            buf.append(data);
            if (last) {
                String text = buf.toString();
                buf.setLength(0);
                try {
                    JsonNode n = JSON.readTree(text);
                    if (n.has("id")) {
                        CompletableFuture<JsonNode> f = pending.remove(n.get("id").asInt());
                        if (f != null) {
                            f.complete(n);
                        }
                    }
                } catch (IOException e) {
                    // not ours to handle: events we do not wait for
                }
            }
            webSocket.request(1);
            return null;
        }
    }

    @Override
    public void close() {
        try {
            ws.abort();
        } finally {
            destroy(process);
        }
    }

    private static void destroy(Process p) {
        p.descendants().forEach(ProcessHandle::destroy);
        p.destroy();
        try {
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
