package dev.atlas.dstack.vmm.internal.web;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The VMM dashboard: one HTML page and a few static resources (JS, CSS) loaded from this package's resources.
 * The page talks only to the VMM's own {@code /prpc/*} endpoints and {@code GET /logs}; issue20-core routes
 * {@code GET /} to {@link #page()} and {@code GET /res/<name>} to {@link #resource(String)}.
 */
public final class Dashboard {

    /** A static resource: its bytes and the {@code Content-Type} to serve it with. */
    public record Resource(byte[] bytes, String contentType) {
        public Resource {
            Objects.requireNonNull(bytes, "bytes");
            Objects.requireNonNull(contentType, "contentType");
        }
    }

    private static final Map<String, String> TYPES = Map.of(
            "dashboard.js", "text/javascript; charset=utf-8",
            "dashboard.css", "text/css; charset=utf-8");

    private final byte[] page;
    private final Map<String, Resource> resources;

    public Dashboard() {
        this.page = load("index.html");
        var m = new java.util.HashMap<String, Resource>();
        TYPES.forEach((name, type) -> m.put(name, new Resource(load(name), type)));
        this.resources = Map.copyOf(m);
    }

    /** The HTML page ({@code text/html; charset=utf-8}). */
    public byte[] page() {
        return page.clone();
    }

    /**
     * A static resource by path: the part after {@code /res/} (a leading {@code /res/} or {@code /} is accepted).
     * Only the names this dashboard ships resolve; anything else (including {@code ..}) is empty.
     */
    public Optional<Resource> resource(String path) {
        if (path == null) {
            return Optional.empty();
        }
        String p = path;
        int q = p.indexOf('?');
        if (q >= 0) {
            p = p.substring(0, q);
        }
        if (p.startsWith("/res/")) {
            p = p.substring(5);
        } else if (p.startsWith("res/")) {
            p = p.substring(4);
        } else if (p.startsWith("/")) {
            p = p.substring(1);
        }
        Resource r = resources.get(p);
        return r == null ? Optional.empty() : Optional.of(new Resource(r.bytes().clone(), r.contentType()));
    }

    private static byte[] load(String name) {
        try (InputStream in = Dashboard.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("dashboard resource missing: " + name);
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("dashboard resource unreadable: " + name, e);
        }
    }
}
