package dev.atlas.dstack.kms.internal;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * The onboard listener's plain routes ({@code ../shared/specs/dstack-platform.md} §2.1): {@code GET /} the
 * onboarding page (our own HTML, CSS and JavaScript in {@code dev/atlas/dstack/kms/onboard.html}; no external
 * resources), {@code GET /finish} answers {@code OK} and then stops the onboard server, {@code GET /health}
 * answers {@code OK}. Everything else is 404. {@code HEAD} is answered like {@code GET} without a body.
 */
public final class OnboardPage implements HttpHandler {
    /** The page's resource name inside this module. */
    public static final String RESOURCE = "/dev/atlas/dstack/kms/onboard.html";
    private static final byte[] OK = "OK".getBytes(StandardCharsets.US_ASCII);

    private final byte[] page;
    private final Runnable finish;

    /**
     * @param finish called once the {@code /finish} response has been sent (asks the onboard server to stop;
     *               must not block on the server's own shutdown)
     */
    public OnboardPage(Runnable finish) {
        this.finish = Objects.requireNonNull(finish, "finish");
        this.page = html();
    }

    /** The page's bytes (UTF-8 HTML). */
    public static byte[] html() {
        try (InputStream in = OnboardPage.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("onboarding page resource missing: " + RESOURCE);
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + RESOURCE, e);
        }
    }

    @Override
    public void handle(HttpExchange exchange) throws IOException {
        boolean finishing = false;
        try {
            String method = exchange.getRequestMethod();
            boolean head = method.equalsIgnoreCase("HEAD");
            if (!head && !method.equalsIgnoreCase("GET")) {
                send(exchange, 405, "text/plain; charset=utf-8", "method not allowed".getBytes(StandardCharsets.UTF_8), false);
                return;
            }
            String path = exchange.getRequestURI().getRawPath();
            switch (path == null ? "" : path) {
                case "/", "/index.html" -> {
                    exchange.getResponseHeaders().set("Cache-Control", "no-store");
                    exchange.getResponseHeaders().set("Content-Security-Policy",
                            "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                                    + "connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
                    exchange.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
                    send(exchange, 200, "text/html; charset=utf-8", page, head);
                }
                case "/health" -> send(exchange, 200, "text/plain; charset=utf-8", OK, head);
                case "/finish" -> {
                    send(exchange, 200, "text/plain; charset=utf-8", OK, head);
                    finishing = true;
                }
                default -> send(exchange, 404, "text/plain; charset=utf-8",
                        "not found".getBytes(StandardCharsets.UTF_8), head);
            }
        } finally {
            exchange.close();
            if (finishing) {
                finish.run();
            }
        }
    }

    private static void send(HttpExchange exchange, int status, String type, byte[] body, boolean head)
            throws IOException {
        exchange.getResponseHeaders().set("Content-Type", type);
        if (head) {
            exchange.sendResponseHeaders(status, -1);
            return;
        }
        exchange.sendResponseHeaders(status, body.length);
        try (OutputStream os = exchange.getResponseBody()) {
            os.write(body);
        }
    }
}
