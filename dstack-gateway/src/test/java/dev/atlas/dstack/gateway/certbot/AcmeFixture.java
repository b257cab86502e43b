package dev.atlas.dstack.gateway.certbot;

import dev.atlas.dstack.testing.CloudflareStandIn;
import dev.atlas.dstack.testing.Pebble;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.Map;

/**
 * One pebble and one Cloudflare stand-in for every certbot test class of the run (started on first use, stopped
 * at JVM exit): pebble's start-up is the expensive part of these tests.
 */
final class AcmeFixture {
    static final String TOKEN = "cf-test-token-1234";
    private static CloudflareStandIn cf;
    private static Pebble pebble;

    private AcmeFixture() {
    }

    static synchronized CloudflareStandIn cloudflare() {
        start();
        return cf;
    }

    static synchronized Pebble pebble() {
        start();
        return pebble;
    }

    /** A second pebble with its own environment (the caller closes it). */
    static Pebble pebbleWith(Map<String, String> env) throws IOException {
        return Pebble.start(Files.createTempDirectory("pebble"), cloudflare().dnsAddress(), env);
    }

    private static void start() {
        if (cf != null) {
            return;
        }
        try {
            cf = CloudflareStandIn.start(TOKEN);
            cf.addZone("example.test");
            cf.addZone("other.test");
            cf.addZone("fail.test");
            pebble = Pebble.start(Files.createTempDirectory("pebble"), cf.dnsAddress());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            pebble.close();
            cf.close();
        }));
    }
}
