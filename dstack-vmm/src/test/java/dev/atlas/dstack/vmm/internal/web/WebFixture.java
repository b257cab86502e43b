package dev.atlas.dstack.vmm.internal.web;

import dev.atlas.dstack.vmm.VmmConfig;
import dev.atlas.dstack.vmm.VmmServer;
import java.nio.file.Files;
import java.nio.file.Path;

/** The VMM the dashboard and vmm-cli.py tests talk to: one image, a stub KMS, [auth] with one token. */
final class WebFixture {
    static final String TOKEN = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
    static final String IMAGE = "dstack-dev-0.5.3";

    private WebFixture() {
    }

    static void writeImage(Path images) throws Exception {
        Path dir = Files.createDirectories(images.resolve(IMAGE));
        Files.writeString(dir.resolve("metadata.json"), """
                {"bios": "ovmf.fd", "kernel": "bzImage", "initrd": "initramfs.cpio.gz",
                 "cmdline": "console=ttyS0 init=/init", "rootfs": "rootfs.img.verity", "version": "0.5.3",
                 "is_dev": true}
                """);
        for (String f : new String[] {"ovmf.fd", "bzImage", "initramfs.cpio.gz", "rootfs.img.verity"}) {
            Files.write(dir.resolve(f), new byte[16]);
        }
        Files.writeString(dir.resolve("digest.txt"), "ab".repeat(32) + "\n");
    }

    /** vmm.toml for {@code address} ("tcp:127.0.0.1:0" or "unix:PATH"). */
    static VmmConfig config(Path dir, String address, StubKms kms) throws Exception {
        writeImage(dir.resolve("images"));
        String toml = """
                address = "%s"
                run_path = "%s"
                kms_url = "%s"

                [image]
                path = "%s"

                [auth]
                enabled = true
                tokens = ["%s"]

                [cvm]
                kms_urls = ["%s"]
                gateway_urls = []
                cid_start = 30000
                cid_pool_size = 16
                max_allocable_vcpu = 8
                max_allocable_memory_in_mb = 16384

                [cvm.port_mapping]
                enabled = true
                address = "127.0.0.1"
                range = [{ protocol = "tcp", from = 1, to = 20000 }, { protocol = "udp", from = 1, to = 20000 }]

                [gateway]
                base_domain = "app.example.test"
                port = 9204
                agent_port = 8090
                """.formatted(address, dir.resolve("run"), kms.url(), dir.resolve("images"), TOKEN, kms.url());
        Files.writeString(dir.resolve("vmm.toml"), toml);
        return VmmConfig.load(dir.resolve("vmm.toml"));
    }

    static VmmServer start(VmmConfig config, WebTestBackend backend) throws Exception {
        return VmmServer.builder(config).backend(backend).environment(java.util.Map.of()).start();
    }

    /** An app-compose.json (the bytes deployed; its SHA-256 is the compose hash). */
    static String compose(String name, String... allowedEnvs) {
        StringBuilder envs = new StringBuilder();
        for (String e : allowedEnvs) {
            envs.append(envs.isEmpty() ? "" : ", ").append('"').append(e).append('"');
        }
        return """
                {
                    "manifest_version": 2,
                    "name": "%s",
                    "runner": "bash",
                    "bash_script": "echo hello",
                    "kms_enabled": true,
                    "gateway_enabled": true,
                    "local_key_provider_enabled": false,
                    "public_logs": true,
                    "public_sysinfo": true,
                    "allowed_envs": [%s],
                    "no_instance_id": false
                }""".formatted(name, envs);
    }
}
