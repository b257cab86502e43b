package dev.atlas.dstack.vmm.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.vmm.VmmConfig;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/** Shared pieces of the VMM tests: an image directory, a config, and pRPC calls over HTTP. */
final class VmmFixture {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String IMAGE = "dstack-0.5.3";
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private VmmFixture() {}

    /** A loadable image under {@code images/IMAGE}: metadata.json, kernel, initrd, bios, digest.txt. */
    static void writeImage(Path images, String name, String version) throws Exception {
        Path d = images.resolve(name);
        Files.createDirectories(d);
        Files.writeString(d.resolve("metadata.json"), """
                {"bios":"ovmf.fd","kernel":"bzImage","cmdline":"console=ttyS0 init=/init","initrd":"initramfs.cpio.gz",
                 "rootfs":"rootfs.img.verity","rootfs_hash":"ab","version":"%s","is_dev":true}""".formatted(version));
        for (String f : new String[] {"ovmf.fd", "bzImage", "initramfs.cpio.gz", "rootfs.img.verity"}) {
            Files.writeString(d.resolve(f), f);
        }
        Files.writeString(d.resolve("digest.txt"), "64f0d1545cd510a8dfed7ad609d105b5d41f0cb2afcfdda8867ede00c88add7a\n");
    }

    /** vmm.toml text for a test directory. */
    static String toml(Path dir, String address, String extra) {
        return """
                address = "%s"
                run_path = "%s"
                kms_url = "http://127.0.0.1:1"
                [image]
                path = "%s"
                [cvm]
                kms_urls = ["https://kms.example:9201"]
                gateway_urls = ["https://gw.example:9202"]
                cid_start = 30000
                cid_pool_size = 3
                max_allocable_vcpu = 8
                max_allocable_memory_in_mb = 8192
                [cvm.port_mapping]
                enabled = true
                address = "127.0.0.1"
                range = [{ protocol = "tcp", from = 1, to = 20000 }, { protocol = "udp", from = 1, to = 20000 }]
                [gateway]
                base_domain = "app.example"
                port = 443
                agent_port = 8090
                [key_provider]
                enabled = false
                """.formatted(address, dir.resolve("run"), dir.resolve("images")) + extra;
    }

    static VmmConfig config(Path dir, String address, String extra) throws Exception {
        writeImage(dir.resolve("images"), IMAGE, "0.5.3");
        return VmmConfig.parse(toml(dir, address, extra), dir);
    }

    static String compose(String name) {
        return "{\n    \"manifest_version\": 2,\n    \"name\": \"" + name + "\",\n    \"runner\": \"bash\",\n"
                + "    \"bash_script\": \"echo hi\",\n    \"gateway_enabled\": true,\n    \"kms_enabled\": true\n}";
    }

    /** A CreateVm request body. */
    static ObjectNode vm(String name) {
        ObjectNode o = JSON.createObjectNode();
        o.put("name", name);
        o.put("image", IMAGE);
        o.put("compose_file", compose(name));
        o.put("vcpu", 1);
        o.put("memory", 1024);
        o.put("disk_size", 10);
        o.putArray("ports");
        return o;
    }

    record Reply(int status, String body, JsonNode json) {}

    static Reply call(String base, String method, JsonNode body, String token) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + "/prpc/" + method + "?json"))
                .timeout(Duration.ofSeconds(20))
                .POST(HttpRequest.BodyPublishers.ofString(body == null ? "{}" : body.toString()));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
        JsonNode j = null;
        try {
            j = JSON.readTree(r.body());
        } catch (Exception ignored) {
            // not JSON
        }
        return new Reply(r.statusCode(), r.body(), j);
    }

    static HttpResponse<String> get(String url, String token) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(20)).GET();
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }
}
