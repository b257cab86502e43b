package dev.atlas.proxy.internal;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.atlas.proxy.ProxyConfig;
import dev.atlas.proxy.ProxyListener;
import java.io.IOException;
import java.io.PrintStream;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;

/**
 * One JSON object per line: proxy start, every refusal, every tunnel open and close, draining and stop.
 * Addresses, counts, durations and reasons only; never a byte of what a tunnel carries, never the token.
 */
public final class JsonLogListener implements ProxyListener {
    private static final JsonFactory JSON = new JsonFactory();
    private final PrintStream out;
    private final Clock clock;

    public JsonLogListener(PrintStream out, Clock clock) {
        this.out = out;
        this.clock = clock;
    }

    private interface Fields {
        void write(JsonGenerator g) throws IOException;
    }

    private void line(String level, String event, Fields f) {
        StringWriter w = new StringWriter(256);
        try (JsonGenerator g = JSON.createGenerator(w)) {
            g.writeStartObject();
            g.writeStringField("ts", Instant.now(clock).toString());
            g.writeStringField("level", level);
            g.writeStringField("event", event);
            f.write(g);
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        synchronized (out) {
            out.println(w);
        }
    }

    @Override
    public void started(InetSocketAddress listen, InetSocketAddress admin, ProxyConfig c) {
        line("info", "proxy_started", g -> {
            g.writeStringField("listen", listen.getHostString() + ":" + listen.getPort());
            g.writeStringField("admin", admin == null ? "main listener" : admin.getHostString() + ":" + admin.getPort());
            g.writeStringField("tls", c.tlsCertificate().isPresent() ? "wss" : "ws");
            g.writeStringField("transport", Transport.name());
            g.writeStringField("default_target", c.defaultTarget().map(Object::toString).orElse("none"));
            g.writeArrayFieldStart("allowlist");
            for (var e : c.allowlist()) {
                g.writeString(e.toString());
            }
            g.writeEndArray();
            g.writeStringField("allowed_cidrs", c.allowedCidrs().isEmpty() ? "any" : c.allowedCidrs().toString());
            g.writeBooleanField("token_required", c.tokenRequired());
            g.writeStringField("allowed_origins", c.allowedOrigins().isEmpty() ? "any" : c.allowedOrigins().toString());
        });
        if (c.allowlist().isEmpty()) {
            line("warn", "allowlist_empty", g -> g.writeStringField("detail",
                    "ATLS_PROXY_ALLOWLIST is empty: every tunnel will be refused"));
        }
        if ("root".equals(System.getProperty("user.name"))) {
            line("warn", "running_as_root", g -> g.writeStringField("detail",
                    "the proxy needs no privileges; run it as an unprivileged user (see docs/proxy.md)"));
        }
    }

    @Override
    public void rejected(Rejection r) {
        line("warn", "tunnel_rejected", g -> {
            g.writeStringField("client", r.client());
            g.writeStringField("target", r.target());
            g.writeStringField("reason", r.reason().name());
            g.writeNumberField("status", r.reason().httpStatus());
            g.writeStringField("detail", r.detail());
        });
    }

    @Override
    public void tunnelStart(Tunnel t) {
        line("info", "tunnel_open", g -> {
            g.writeNumberField("tunnel", t.id());
            g.writeStringField("client", t.client());
            g.writeStringField("target", t.target().toString());
            g.writeStringField("address", Addresses.text(t.address().getAddress()) + ":" + t.address().getPort());
            g.writeNumberField("connect_ms", millis(t.connectTime()));
        });
    }

    @Override
    public void tunnelEnd(Tunnel t, java.time.Duration took) {
        line("info", "tunnel_close", g -> {
            g.writeNumberField("tunnel", t.id());
            g.writeStringField("client", t.client());
            g.writeStringField("target", t.target().toString());
            g.writeNumberField("bytes_to_target", t.bytesToTarget());
            g.writeNumberField("bytes_to_client", t.bytesToClient());
            g.writeNumberField("duration_ms", millis(t.duration()));
            g.writeStringField("reason", t.closeReason().name());
            if (t.closeSent() != null) {
                g.writeNumberField("close_sent_code", t.closeSent().code());
                g.writeStringField("close_sent_reason", t.closeSent().text());
            }
            if (t.closeReceived() != null) {
                g.writeNumberField("close_received_code", t.closeReceived().code());
                g.writeStringField("close_received_reason", t.closeReceived().text());
            }
        });
    }

    @Override
    public void draining(int open, Duration deadline) {
        line("info", "proxy_draining", g -> {
            g.writeNumberField("open_tunnels", open);
            g.writeNumberField("deadline_ms", millis(deadline));
        });
    }

    @Override
    public void stopped(int forciblyClosed) {
        line("info", "proxy_stopped", g -> g.writeNumberField("forcibly_closed", forciblyClosed));
    }

    private static double millis(Duration d) {
        return d.toNanos() / 1_000_000L + (d.toNanos() % 1_000_000L) / 1000 / 1000.0;
    }
}
