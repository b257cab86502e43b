package dev.atlas.dstack.testing;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.List;

/**
 * Debian's {@code /usr/bin/pebble} (a test ACME server) on free loopback ports, with a config this class writes
 * into {@code workDir}, resolving challenge names through {@code dnsServer} ({@code -dnsserver}) and with
 * {@code PEBBLE_VA_NOSLEEP=1}. Tests skip with {@code assumeTrue(Pebble.available(), Pebble.MISSING)}.
 */
public final class Pebble implements AutoCloseable {
    /** The skip message when pebble is not installed. */
    public static final String MISSING = "pebble is not installed (Debian package pebble: /usr/bin/pebble)";

    private Pebble() {
    }

    /** True when {@code /usr/bin/pebble} and its test certificates are installed. */
    public static boolean available() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Starts pebble and waits until its directory answers. */
    public static Pebble start(Path workDir, InetSocketAddress dnsServer) throws IOException {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Starts pebble with extra environment ({@code PEBBLE_WFE_NONCEREJECT}, ...). */
    public static Pebble start(Path workDir, InetSocketAddress dnsServer, java.util.Map<String, String> env)
            throws IOException {
        throw new UnsupportedOperationException("skeleton");
    }

    /** {@code https://127.0.0.1:<port>/dir}. */
    public URI directoryUrl() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** The CA of pebble's HTTPS certificate (the Debian package's test {@code pebble.minica.pem}). */
    public List<X509Certificate> trustedRoots() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** The PEM file of {@link #trustedRoots()} (for {@code acme_ca_cert}). */
    public Path trustedRootsPem() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** The root that issues pebble's certificates ({@code GET /roots/0} on the management port). */
    public X509Certificate issuingRoot() throws IOException {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Stops pebble. */
    @Override
    public void close() {
        throw new UnsupportedOperationException("skeleton");
    }
}
