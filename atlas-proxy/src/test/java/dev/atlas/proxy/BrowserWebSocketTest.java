package dev.atlas.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real browser through the proxy: headless Chromium (Debian's {@code chromium}) loads a page from a loopback
 * server, opens {@code new WebSocket(url, ["binary"])} as websockify/noVNC clients do, sends bytes, reads the
 * echo, and reports the outcome with a request back to the page server. Skipped when Chromium is absent.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class BrowserWebSocketTest {
    static final Path CHROMIUM = Path.of(System.getProperty("atlas.chromium", "/usr/bin/chromium"));

    @Test
    void chromiumOpensABinarySubprotocolWebSocketAndEchoes(@TempDir Path profile) throws Exception {
        assumeTrue(Files.isExecutable(CHROMIUM), "chromium not installed at " + CHROMIUM
                + " (apt-get install chromium); skipping the browser test");
        try (TestTarget echo = TestTarget.echo();
                AtlsProxy p = AtlsProxy.builder(ProxyConfig.builder().listen(new InetSocketAddress("127.0.0.1", 0))
                        .noDefaultTarget().allow(TargetAddress.parseEntry("127.0.0.1:" + echo.port())).build())
                        .log(null).build().start()) {
            String page = """
                    <!doctype html><html><body><script>
                    const report = (s) => fetch('/result?' + encodeURIComponent(s));
                    try {
                      const ws = new WebSocket('ws://127.0.0.1:%d/?target=127.0.0.1%%3A%d', ['binary']);
                      ws.binaryType = 'arraybuffer';
                      const got = [];
                      ws.onopen = () => ws.send(new Uint8Array([1, 2, 3, 250]));
                      ws.onmessage = (e) => {
                        got.push(...new Uint8Array(e.data));
                        if (got.length >= 4) {
                          report('ok protocol=' + ws.protocol + ' bytes=' + got.join(','));
                          ws.close(1000, 'done');
                        }
                      };
                      ws.onclose = (e) => { if (got.length < 4) report('closed ' + e.code); };
                    } catch (e) { report('exception ' + e); }
                    </script></body></html>
                    """.formatted(p.port(), echo.port());
            CompletableFuture<String> result = new CompletableFuture<>();
            HttpServer web = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            web.createContext("/", ex -> {
                String path = ex.getRequestURI().getPath();
                if (path.equals("/result")) {
                    result.complete(URLDecoder.decode(ex.getRequestURI().getRawQuery(), StandardCharsets.UTF_8));
                    send(ex, 204, "");
                } else if (path.equals("/")) {
                    send(ex, 200, page);
                } else {
                    send(ex, 404, "");
                }
            });
            web.start();
            Process chromium = null;
            try {
                List<String> cmd = new ArrayList<>(List.of(CHROMIUM.toString(), "--headless", "--no-sandbox",
                        "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                        "--user-data-dir=" + profile, "http://127.0.0.1:" + web.getAddress().getPort() + "/"));
                chromium = new ProcessBuilder(cmd).redirectErrorStream(true)
                        .redirectOutput(profile.resolve("chromium-output.log").toFile()).start();
                String r = result.get(90, TimeUnit.SECONDS);
                assertThat(r).isEqualTo("ok protocol=binary bytes=1,2,3,250");
            } finally {
                if (chromium != null) {
                    chromium.descendants().forEach(ProcessHandle::destroy);
                    chromium.destroy();
                    if (!chromium.waitFor(10, TimeUnit.SECONDS)) {
                        chromium.descendants().forEach(ProcessHandle::destroyForcibly);
                        chromium.destroyForcibly();
                    }
                }
                web.stop(0);
            }
        }
    }

    private static void send(HttpExchange ex, int status, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "text/html; charset=utf-8");
        ex.sendResponseHeaders(status, b.length == 0 ? -1 : b.length);
        if (b.length > 0) {
            ex.getResponseBody().write(b);
        }
        ex.close();
    }
}
