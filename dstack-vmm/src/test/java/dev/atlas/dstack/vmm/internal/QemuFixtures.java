package dev.atlas.dstack.vmm.internal;

import dev.atlas.dstack.vmm.ImageInfo;
import dev.atlas.dstack.vmm.VmmConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * VmmConfig values for the qemu backend tests, built directly (the shipped {@code vmm.toml} defaults of
 * {@code dstack/vmm/vmm.toml}, with the guide's {@code cid_start = 30000}), so these tests do not depend on the
 * TOML reader.
 */
final class QemuFixtures {
    private QemuFixtures() {}

    /** Knobs of {@code [cvm]} the command line depends on; defaults as the shipped vmm.toml. */
    static final class Cvm {
        String qemuPath = "/usr/bin/qemu-system-x86_64";
        String platform = "auto";
        boolean qmpSocket = false;
        String user = "";
        boolean useMrconfigid = true;
        long pciHole64Size = 0;
        boolean hotplugOff = false;
        String hostShareMode = "9p";
        OptionalInt qgsPort = OptionalInt.of(4050);
        VmmConfig.Networking networking = new VmmConfig.Networking("user", "10.0.2.0/24", "10.0.2.10", false, "",
                "", "");
        VmmConfig.AutoRestart autoRestart = new VmmConfig.AutoRestart(true, Duration.ofSeconds(20), 5,
                Duration.ofSeconds(5), Duration.ofSeconds(300), Duration.ofSeconds(300));
        VmmConfig.Log log = new VmmConfig.Log(4L * 1024 * 1024, 3, Duration.ofSeconds(5));

        VmmConfig build(Path base) {
            VmmConfig.Cvm cvm = new VmmConfig.Cvm(platform, qemuPath, List.of("https://kms.example.com:9201"),
                    List.of("https://gateway.example.com:9202"), "", "", 30000, 1000,
                    new VmmConfig.PortMappingRules(true, "127.0.0.1",
                            List.of(new VmmConfig.PortRange("tcp", 1, 20000))),
                    20, 100_000, qmpSocket,
                    new VmmConfig.Gpu(false, List.of("10de:2335"), List.of(), List.of(), true), user, autoRestart,
                    useMrconfigid, Optional.empty(), Optional.empty(), Optional.empty(), pciHole64Size, hotplugOff,
                    "auto", networking, "", hostShareMode, qgsPort, log, "qemu",
                    new VmmConfig.Simulator(List.of(), 0, false, false));
            return new VmmConfig("unix:./vmm.sock", true, base.resolve("run/vm"), "http://127.0.0.1:8081", "", 20,
                    new VmmConfig.Image(base.resolve("images"), ""), cvm, new VmmConfig.Gateway("localhost", 8082, 8090),
                    new VmmConfig.Auth(false, List.of(), Optional.empty()),
                    new VmmConfig.HostApi("dstack VMM", "vsock:2", 10000),
                    new VmmConfig.KeyProvider(true, "127.0.0.1", 3443), base, List.of());
        }
    }

    /** A dstack guest image as {@code dstack-0.5.3}'s metadata.json lays it out. */
    static ImageInfo image(Path dir, String version, boolean isDev) {
        return new ImageInfo(dir.getFileName().toString(), dir, Optional.of(dir.resolve("ovmf.fd")),
                dir.resolve("bzImage"), dir.resolve("initramfs.cpio.gz"), Optional.empty(),
                Optional.of(dir.resolve("rootfs.img.verity")),
                "console=ttyS0 init=/init panic=1 net.ifnames=0 biosdevname=0 mce=off oops=panic pci=noearly "
                        + "pci=nommconf random.trust_cpu=y random.trust_bootloader=n tsc=reliable no-kvmclock "
                        + "dstack.rootfs_hash=9e8a4f5e3c7c1d2b0a6f8e9d7c5b3a1f2e4d6c8b0a9f7e5d3c1b2a4f6e8d0c9b "
                        + "dstack.rootfs_size=447004672",
                version, isDev, false, Optional.empty(), Optional.empty());
    }
}
