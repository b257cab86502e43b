package dev.atlas.dstack.guest;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Predicate;

/**
 * Where the guest agent listens: a Unix socket or an http(s) base URL.
 *
 * @param socket the Unix socket path (null for a URL)
 * @param url the base URL (null for a socket); methods are appended to its path
 */
public record Endpoint(Path socket, URI url) {
    /** Env variable read first, as dstack's own Rust components do ({@code dstack-types} {@code dstack_agent_address}). */
    public static final String AGENT_ADDRESS_ENV = "DSTACK_AGENT_ADDRESS";
    /** Env variable the SDKs (JS, Python, Go) read for a simulator. */
    public static final String SIMULATOR_ENV = "DSTACK_SIMULATOR_ENDPOINT";
    /** The socket paths tried in order; the first that exists wins, else the first. */
    public static final List<Path> SOCKET_PATHS = List.of(
            Path.of("/var/run/dstack/dstack.sock"), Path.of("/var/run/dstack.sock"),
            Path.of("/run/dstack/dstack.sock"), Path.of("/run/dstack.sock"));

    public Endpoint {
        if ((socket == null) == (url == null)) {
            throw new IllegalArgumentException("exactly one of socket and url");
        }
        if (url != null) {
            String s = url.getScheme();
            if (!("http".equals(s) || "https".equals(s)) || url.getHost() == null || url.getRawQuery() != null
                    || url.getRawFragment() != null || url.getRawUserInfo() != null) {
                throw new IllegalArgumentException("endpoint URL must be http(s)://host[:port][/path]");
            }
        }
    }

    /**
     * Parses an endpoint: {@code http://…} and {@code https://…} URLs, {@code unix:/path}, or a socket path
     * (anything else with {@code ://} is refused).
     *
     * @throws IllegalArgumentException if it is empty or a malformed URL
     */
    public static Endpoint parse(String text) {
        Objects.requireNonNull(text, "endpoint");
        if (text.isEmpty() || text.length() > 4096) {
            throw new IllegalArgumentException("endpoint must be 1..4096 characters");
        }
        if (text.startsWith("http://") || text.startsWith("https://")) {
            try {
                return new Endpoint(null, new URI(text));
            } catch (URISyntaxException e) {
                throw new IllegalArgumentException("malformed endpoint URL", e);
            }
        }
        String path = text.startsWith("unix:") ? text.substring(5) : text;
        if (path.contains("://")) {
            throw new IllegalArgumentException("endpoint scheme must be http, https or unix");
        }
        if (path.isEmpty() || path.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("malformed socket path");
        }
        return new Endpoint(Path.of(path), null);
    }

    /**
     * The endpoint to use: {@code explicit} if non-null, else {@value #AGENT_ADDRESS_ENV}, else
     * {@value #SIMULATOR_ENV} (non-empty values only), else the first of {@link #SOCKET_PATHS} that
     * {@code exists}, else the first of them.
     */
    public static Endpoint resolve(String explicit, Map<String, String> env, Predicate<Path> exists) {
        if (explicit != null) {
            return parse(explicit);
        }
        for (String name : List.of(AGENT_ADDRESS_ENV, SIMULATOR_ENV)) {
            String v = env.get(name);
            if (v != null && !v.isEmpty()) {
                return parse(v);
            }
        }
        for (Path p : SOCKET_PATHS) {
            if (exists.test(p)) {
                return new Endpoint(p, null);
            }
        }
        return new Endpoint(SOCKET_PATHS.get(0), null);
    }

    /** {@link #resolve} against the process environment and the file system. */
    public static Endpoint resolveDefault(String explicit) {
        return resolve(explicit, System.getenv(), Files::exists);
    }

    /** {@code unix:/path} or the URL, as used in messages. */
    @Override
    public String toString() {
        return socket != null ? "unix:" + socket : url.toString();
    }
}
