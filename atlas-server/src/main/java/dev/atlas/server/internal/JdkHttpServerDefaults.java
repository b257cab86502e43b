package dev.atlas.server.internal;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The JDK HTTP server's limits are JVM-wide system properties read once, when the first server of the JVM is
 * created. {@link #apply()} sets ours where the user has not set them; it must run before any
 * {@code HttpServer} of the JVM exists (AtlsServer calls it from its static initializer).
 */
public final class JdkHttpServerDefaults {
    private static final Map<String, String> DEFAULTS = new LinkedHashMap<>();

    static {
        // Seconds a keep-alive or newly accepted (TLS handshake pending) connection may stay idle (nginx's 60).
        DEFAULTS.put("sun.net.httpserver.idleInterval", "60");
        // Seconds to receive a whole request, head and body (slow-loris guard).
        DEFAULTS.put("sun.net.httpserver.maxReqTime", "60");
        DEFAULTS.put("sun.net.httpserver.maxReqHeaders", "100");
        DEFAULTS.put("sun.net.httpserver.maxReqHeaderSize", Integer.toString(64 * 1024));
        DEFAULTS.put("jdk.httpserver.maxConnections", "10000");
        // TCP_NODELAY: the JDK server writes a response's head and body as separate TLS records; with Nagle's
        // algorithm and the client's delayed ACK every small response then waits ~40 ms (measured: 92 ms vs
        // a few ms per attestation, bench/server-load.sh).
        DEFAULTS.put("sun.net.httpserver.nodelay", "true");
    }

    private JdkHttpServerDefaults() {}

    /** Sets each default that is not already set. */
    public static synchronized void apply() {
        DEFAULTS.forEach((k, v) -> {
            if (System.getProperty(k) == null) {
                System.setProperty(k, v);
            }
        });
    }

    /** The effective values (what the JDK reads at its first server). */
    public static Map<String, String> effective() {
        Map<String, String> m = new LinkedHashMap<>();
        DEFAULTS.keySet().forEach(k -> m.put(k, System.getProperty(k, "(JDK default)")));
        return m;
    }
}
