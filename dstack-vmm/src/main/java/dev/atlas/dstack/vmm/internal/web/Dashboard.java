package dev.atlas.dstack.vmm.internal.web;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
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

    private static final String CSS_SLOT = "/*@CSS@*/";
    private static final String JS_SLOT = "/*@JS@*/";
    private static final String CSP_SLOT = "<!--@CSP@-->";

    private final byte[] page;
    private final Map<String, Resource> resources;
    private final String csp;

    public Dashboard() {
        var m = new java.util.HashMap<String, Resource>();
        TYPES.forEach((name, type) -> m.put(name, new Resource(load(name), type)));
        this.resources = Map.copyOf(m);
        String policy = "default-src 'none'; script-src " + hashSource(m.get("dashboard.js").bytes())
                + "; style-src " + hashSource(m.get("dashboard.css").bytes()) + "; connect-src 'self'; img-src 'self'; "
                + "form-action 'none'; base-uri 'none'";
        this.csp = policy + "; frame-ancestors 'none'";
        // the page carries the policy itself (a <meta> cannot say frame-ancestors; the header form can)
        String html = new String(load("index.html"), StandardCharsets.UTF_8);
        if (!html.contains(CSP_SLOT)) {
            throw new IllegalStateException("index.html lacks the " + CSP_SLOT + " slot");
        }
        html = html.replace(CSP_SLOT, "<meta http-equiv=\"Content-Security-Policy\" content=\"" + policy + "\">");
        this.page = inline(html.getBytes(StandardCharsets.UTF_8), m.get("dashboard.css").bytes(),
                m.get("dashboard.js").bytes());
    }

    /**
     * A {@code Content-Security-Policy} header value for {@link #page()}: only the inlined script and style (by their
     * SHA-256), requests only to the VMM itself, no forms posting elsewhere, no framing. The page already carries
     * the same policy (less {@code frame-ancestors}) in a {@code <meta>} element; sending the header adds the
     * framing rule.
     */
    public String contentSecurityPolicy() {
        return csp;
    }

    private static String hashSource(byte[] inlined) {
        try {
            byte[] h = java.security.MessageDigest.getInstance("SHA-256").digest(inlined);
            return "'sha256-" + java.util.Base64.getEncoder().encodeToString(h) + "'";
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * The HTML page ({@code text/html; charset=utf-8}) with the CSS and JavaScript inlined: with {@code [auth]} on, a
     * browser fetches sub-resources without the {@code ?token=} the page was opened with, so the page must not need
     * them ({@code /res/*} still serves the same files, for caching proxies and for reading).
     */
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

    static byte[] inline(byte[] html, byte[] css, byte[] js) {
        String h = new String(html, StandardCharsets.UTF_8);
        String c = new String(css, StandardCharsets.UTF_8);
        String j = new String(js, StandardCharsets.UTF_8);
        if (c.toLowerCase(Locale.ROOT).contains("</style") || j.toLowerCase(Locale.ROOT).contains("</script")) {
            throw new IllegalStateException("dashboard resources must not contain a closing style/script tag");
        }
        if (!h.contains(CSS_SLOT) || !h.contains(JS_SLOT)) {
            throw new IllegalStateException("index.html lacks the " + CSS_SLOT + " or " + JS_SLOT + " slot");
        }
        return h.replace(CSS_SLOT, c).replace(JS_SLOT, j).getBytes(StandardCharsets.UTF_8);
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
