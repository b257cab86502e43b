package dev.atlas.dstack.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;

/**
 * A hand-run sandbox for {@code atlas certbot}: starts the {@link CloudflareStandIn} (zone {@code example.test},
 * token {@code demo-token}) and {@link Pebble}, writes {@code DIR/certbot.toml} pointing at them and
 * {@code DIR/pebble-root.pem}, then keeps {@code DIR/records.txt} and {@code DIR/requests.txt} (the stand-in's
 * records and request log) up to date until killed. Usage: {@code java -cp ... dev.atlas.dstack.testing.CertbotSandbox DIR}.
 */
public final class CertbotSandbox {
    private CertbotSandbox() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: CertbotSandbox DIR");
            System.exit(2);
        }
        Path dir = Path.of(args[0]).toAbsolutePath();
        Files.createDirectories(dir);
        CloudflareStandIn cf = CloudflareStandIn.start("demo-token");
        cf.addZone("example.test");
        Pebble p = Pebble.start(dir.resolve("pebble"), cf.dnsAddress());
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            p.close();
            cf.close();
        }));
        Files.writeString(dir.resolve("certbot.toml"), """
                workdir = "%s"
                acme_url = "%s"
                cf_api_token = "demo-token"
                cf_api_url = "%s"
                dns_txt_ttl = 60
                auto_set_caa = true
                domains = ["*.example.test", "example.test"]
                renew_interval = 3600
                renew_days_before = 10
                renew_timeout = 120
                # the system resolvers do not know example.test: give up waiting quickly (pebble asks the stand-in)
                max_dns_wait = 2
                renewed_hook = "echo renewed_hook ran"
                acme_ca_cert = "%s"
                """.formatted(dir.resolve("work"), p.directoryUrl(), cf.apiUrl(), p.trustedRootsPem()));
        Files.writeString(dir.resolve("pebble-root.pem"), "-----BEGIN CERTIFICATE-----\n"
                + Base64.getMimeEncoder().encodeToString(p.issuingRoot().getEncoded()) + "\n-----END CERTIFICATE-----\n");
        System.out.println("ready: " + dir.resolve("certbot.toml") + " (ACME " + p.directoryUrl() + ", Cloudflare "
                + cf.apiUrl() + ", DNS " + cf.dnsAddress() + ")");
        while (true) {
            StringBuilder sb = new StringBuilder();
            for (CloudflareStandIn.Record r : cf.records("example.test")) {
                sb.append(r.name()).append(". ").append(r.type()).append(' ').append(r.content()).append('\n');
            }
            Files.writeString(dir.resolve("records.txt"), sb.toString());
            Files.writeString(dir.resolve("requests.txt"), String.join("\n", cf.requestLog()) + "\n");
            Thread.sleep(500);
        }
    }
}
