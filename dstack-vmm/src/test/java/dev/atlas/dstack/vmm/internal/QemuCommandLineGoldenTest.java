package dev.atlas.dstack.vmm.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.vmm.PortMapping;
import dev.atlas.dstack.vmm.VmLaunch;
import dev.atlas.dstack.vmm.VmmConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Golden QEMU command lines (spec §6.3) for the guide's configurations. Each file under
 * {@code src/test/resources/dev/atlas/dstack/vmm/qemu/*.args} starts with comment lines naming the
 * {@code vmm.toml} and deploy request it stands for, then one argument per line; {@code $WORK} is the VM directory
 * and {@code $IMAGE} the image directory. {@code -Dgolden.update=true} rewrites the argument lines (review the
 * diff against upstream {@code vmm/src/app/qemu.rs} before committing).
 */
class QemuCommandLineGoldenTest {
    static final String VM_ID = "7f2bd6b2-4d5e-4c1a-9a51-3f1e2d7c8b90";
    /** The app-compose.json of the guide's examples (bytes as vmm-cli.py writes them). */
    static final String COMPOSE = """
            {
                "manifest_version": 2,
                "name": "demo",
                "runner": "docker-compose",
                "docker_compose_file": "services:\\n  web:\\n    image: nginx\\n    ports:\\n      - \\"8080:80\\"\\n",
                "kms_enabled": true,
                "gateway_enabled": true,
                "public_logs": true,
                "public_sysinfo": true,
                "local_key_provider_enabled": false,
                "no_instance_id": false
            }""";

    @TempDir
    Path base;
    Path images;

    @BeforeEach
    void setUp() throws IOException {
        images = base.resolve("images");
        Files.createDirectories(images);
    }

    private VmLaunch.Builder launch(VmmConfig cfg, String image, String version, boolean dev) throws IOException {
        Path work = cfg.runPath().resolve(VM_ID);
        Files.createDirectories(work.resolve("shared"));
        Files.writeString(work.resolve("shared/app-compose.json"), COMPOSE);
        return VmLaunch.builder().id(VM_ID).name("demo").workDir(work).cid(30000).vcpu(2).memoryMb(2048).diskGb(20)
                .image(QemuFixtures.image(images.resolve(image), version, dev)).config(cfg);
    }

    private List<String> args(VmmConfig cfg, VmLaunch l, QemuBackend.HostTopology topo) throws Exception {
        try (QemuBackend b = QemuBackend.builder(cfg).hostTopology(topo).build()) {
            List<String> out = new ArrayList<>();
            for (String a : b.commandLine(l)) {
                out.add(a.replace(l.workDir().toString(), "$WORK").replace(l.image().dir().toString(), "$IMAGE"));
            }
            return out;
        }
    }

    private void assertGolden(String name, List<String> actual) throws IOException {
        String res = "/dev/atlas/dstack/vmm/qemu/" + name;
        List<String> comments = new ArrayList<>();
        List<String> expected = new ArrayList<>();
        try (InputStream in = getClass().getResourceAsStream(res)) {
            assertThat(in).as(res).isNotNull();
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n", -1)) {
                if (line.startsWith("#")) {
                    comments.add(line);
                } else if (!line.isEmpty()) {
                    expected.add(line);
                }
            }
        }
        if (Boolean.getBoolean("golden.update")) {
            Path src = Path.of("src/test/resources" + res);
            Files.writeString(src, String.join("\n", comments) + "\n" + String.join("\n", actual) + "\n");
            return;
        }
        assertThat(actual).as(name).containsExactlyElementsOf(expected);
    }

    private static final QemuBackend.HostTopology NO_TOPOLOGY = new QemuBackend.HostTopology() {
        @Override
        public String pciNumaNode(String slot) {
            throw new AssertionError("no NUMA lookup expected");
        }

        @Override
        public String nodeCpus(String node) {
            throw new AssertionError("no NUMA lookup expected");
        }
    };

    @Test
    void guideDefault() throws Exception {
        VmmConfig cfg = new QemuFixtures.Cvm().build(base);
        VmLaunch l = launch(cfg, "dstack-0.5.3", "0.5.3", false)
                .ports(List.of(new PortMapping("tcp", "127.0.0.1", 18080, 8080))).build();
        List<String> a = args(cfg, l, NO_TOPOLOGY);
        assertGolden("guide-default.args", a);
        // the MR_CONFIG_ID known answer: V1 = 0x01 ‖ SHA-256(app-compose.json) ‖ 15 zero bytes
        byte[] id = new byte[48];
        id[0] = 1;
        System.arraycopy(QemuCommandLine.sha256(COMPOSE.getBytes(StandardCharsets.UTF_8)), 0, id, 1, 32);
        assertThat(a).contains("{\"qom-type\":\"tdx-guest\",\"id\":\"tdx\",\"mrconfigid\":\""
                + Base64.getEncoder().encodeToString(id)
                + "\",\"quote-generation-socket\":{\"type\":\"vsock\",\"cid\":\"2\",\"port\":\"4050\"}}");
    }

    @Test
    void devImageNoTeeVvfatQmpUserHotplugOffHole64() throws Exception {
        QemuFixtures.Cvm c = new QemuFixtures.Cvm();
        c.hostShareMode = "vvfat";
        c.qmpSocket = true;
        c.user = "dstack";
        c.hotplugOff = true;
        c.pciHole64Size = 1L << 40;
        c.qgsPort = OptionalInt.empty();
        VmmConfig cfg = c.build(base);
        VmLaunch l = launch(cfg, "dstack-dev-0.5.3", "0.5.3", true).noTee(true).vcpu(4).memoryMb(4096)
                .ports(List.of(new PortMapping("tcp", "0.0.0.0", 8080, 80),
                        new PortMapping("udp", "127.0.0.1", 5353, 53)))
                .build();
        assertGolden("dev-no-tee-vvfat.args", args(cfg, l, NO_TOPOLOGY));
    }

    @Test
    void gpusHugepagesPinnedBridgeWithoutMrconfigid() throws Exception {
        QemuFixtures.Cvm c = new QemuFixtures.Cvm();
        c.useMrconfigid = false;
        c.networking = new VmmConfig.Networking("bridge", "", "", false, "virbr0", "02:aa:bb", "");
        VmmConfig cfg = c.build(base);
        VmLaunch l = launch(cfg, "dstack-nvidia-0.5.3", "0.5.3", false).vcpu(3).memoryMb(8192).hugepages(true)
                .pinNuma(true).gpus(List.of("18:00.0", "9a:00.0")).build();
        Map<String, String> nodes = Map.of("18:00.0", "0", "9a:00.0", "1");
        QemuBackend.HostTopology topo = new QemuBackend.HostTopology() {
            @Override
            public String pciNumaNode(String slot) {
                return nodes.get(slot);
            }

            @Override
            public String nodeCpus(String node) {
                return node.equals("0") ? "0-23,48-71" : "24-47,72-95";
            }
        };
        assertGolden("gpu-hugepages.args", args(cfg, l, topo));
    }

    @Test
    void legacyImageBefore052HasNoMrconfigidAndIsoRootfs() throws Exception {
        VmmConfig cfg = new QemuFixtures.Cvm().build(base);
        VmLaunch base0 = launch(cfg, "dstack-0.4.1", "0.4.1", false).build();
        VmLaunch l = base0.toBuilder().image(new dev.atlas.dstack.vmm.ImageInfo(base0.image().name(),
                base0.image().dir(), base0.image().bios(), base0.image().kernel(), base0.image().initrd(),
                java.util.Optional.empty(), java.util.Optional.of(base0.image().dir().resolve("rootfs.iso")),
                "console=ttyS0 init=/init", "0.4.1", false, false, java.util.Optional.empty(),
                java.util.Optional.empty())).build();
        assertGolden("legacy-0.4.args", args(cfg, l, NO_TOPOLOGY));
    }

    // ---- one-mutation refusals -----------------------------------------------------------------------------

    private static QemuCommandLine.Builder minimal() {
        return QemuCommandLine.Spec.builder().vmId("vm").workDir(Path.of("/run/vm/vm")).kernel(Path.of("/i/k"))
                .initrd(Path.of("/i/r")).imageVersion("0.5.3").cid(3).qgsPort(4050).mrConfigId(new byte[48]);
    }

    @Test
    void minimalSpecBuilds() throws Exception {
        assertThat(QemuCommandLine.build(minimal().build())).contains("vhost-vsock-pci,guest-cid=3");
    }

    @Test
    void unknownHostShareModeIsRefused() {
        assertThatThrownBy(() -> QemuCommandLine.build(minimal().hostShareMode("nfs").build()))
                .isInstanceOf(RaException.class).hasMessageContaining("cvm.host_share_mode")
                .hasMessageContaining("nfs")
                .satisfies(e -> assertThat(((RaException) e).raReason()).isEqualTo(RaException.Reason.CONFIG_INVALID));
    }

    @Test
    void missingMrConfigIdIsRefusedWhenWanted() {
        assertThatThrownBy(() -> QemuCommandLine.build(minimal().mrConfigId(null).build()))
                .isInstanceOf(RaException.class).hasMessageContaining("mrconfigid")
                .hasMessageContaining("0.5.3");
        // not wanted: no_tee, use_mrconfigid = false, image < 0.5.2
        for (QemuCommandLine.Builder b : List.of(minimal().mrConfigId(null).noTee(true),
                minimal().mrConfigId(null).useMrconfigid(false), minimal().mrConfigId(null).imageVersion("0.5.1"))) {
            assertThat(b.build().wantsMrConfigId()).isFalse();
        }
    }

    @Test
    void wrongLengthMrConfigIdIsRefused() {
        assertThatThrownBy(() -> QemuCommandLine.build(minimal().mrConfigId(new byte[32]).build()))
                .isInstanceOf(RaException.class).hasMessageContaining("48 bytes, got 32");
    }

    @Test
    void isoRootfsNeedsAnImageBefore050() {
        assertThatThrownBy(() -> QemuCommandLine.build(minimal().rootfs(Path.of("/i/rootfs.iso")).build()))
                .isInstanceOf(RaException.class).hasMessageContaining("Unsupported rootfs type: iso");
        assertThatThrownBy(() -> QemuCommandLine.build(minimal().rootfs(Path.of("/i/rootfs.qcow2")).build()))
                .isInstanceOf(RaException.class).hasMessageContaining("Unsupported rootfs type: qcow2");
    }

    @Test
    void badMacPrefixIsRefused() {
        assertThatThrownBy(() -> QemuCommandLine.build(minimal()
                .networks(List.of(new QemuCommandLine.Network("user", "10.0.2.0/24", "10.0.2.10", false, "",
                        "02:zz"))).build()))
                .isInstanceOf(RaException.class).hasMessageContaining("cvm.networking.mac_prefix")
                .hasMessageContaining("02:zz");
    }

    @Test
    void portsNeedUserNetworking() {
        assertThatThrownBy(() -> QemuCommandLine.build(minimal()
                .networks(List.of(new QemuCommandLine.Network("bridge", "", "", false, "br0", "")))
                .ports(List.of(new QemuCommandLine.Port("tcp", "127.0.0.1", 8080, 80))).build()))
                .isInstanceOf(RaException.class).hasMessageContaining("user-mode");
    }

    @Test
    void vcpuRoundingAndVersionsAsUpstream() {
        // effective_vcpu_count and version_tuple known answers (vmm/src/app.rs, image.rs tests)
        assertThat(QemuCommandLine.effectiveVcpu(0, null)).isEqualTo(1);
        assertThat(QemuCommandLine.effectiveVcpu(3, 2)).isEqualTo(4);
        assertThat(QemuCommandLine.effectiveVcpu(4, 2)).isEqualTo(4);
        assertThat(QemuCommandLine.effectiveVcpu(3, 0)).isEqualTo(3);
        int[] min = QemuCommandLine.MRCONFIGID_MIN_IMAGE_VERSION;
        assertThat(QemuCommandLine.versionAtLeast("0.5.2", min)).isTrue();
        assertThat(QemuCommandLine.versionAtLeast("0.5.10", min)).isTrue();
        assertThat(QemuCommandLine.versionAtLeast("0.5.2.1", min)).isTrue();
        assertThat(QemuCommandLine.versionAtLeast("0.5.1", min)).isFalse();
        assertThat(QemuCommandLine.versionAtLeast("0.5", min)).isFalse();
        assertThat(QemuCommandLine.versionAtLeast("0.5.3-dev", min)).isFalse();
        assertThat(QemuCommandLine.versionAtLeast("", min)).isFalse();
    }
}
