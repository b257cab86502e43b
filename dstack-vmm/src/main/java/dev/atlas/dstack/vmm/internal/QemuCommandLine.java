package dev.atlas.dstack.vmm.internal;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The QEMU argument list of a dstack CVM (spec §6.3), as upstream's {@code vmm/src/app/qemu.rs}
 * ({@code QemuCommandBuilder}) orders it: a pure function of a {@link Spec}; it touches no file. The caller
 * (QemuBackend) reads the host facts (NUMA nodes of GPUs, the CPU list to pin, MR_CONFIG_ID from the host share)
 * and puts them into the {@link Spec}.
 *
 * <p>Order: {@code -accel kvm -cpu host -nographic -nodefaults}, serial chardev (pty + {@code serial.log} with
 * {@code logappend=on}), optional QMP socket, {@code -bios}/{@code -kernel}/{@code -initrd}, the hotplug and
 * pci-hole64 globals, the image's rootfs, the data disk {@code hda.img}, the NICs (user networking carries the
 * {@code hostfwd} port mappings on the first user-mode NIC), SMBIOS, {@code vhost-vsock-pci} with the CID, the host
 * share (9p, vvfat or vhd), hugepage NUMA nodes, the machine (TDX: {@code confidential-guest-support=tdx} and the
 * {@code tdx-guest} JSON object; no_tee: a plain q35), GPUs by slot, {@code -smp}, {@code -m}, {@code -append};
 * prefixed with {@code taskset -c} when pinned and {@code sudo -u <user>} when {@code [cvm] user} is set.
 */
public final class QemuCommandLine {
    /** The FAT label of the vvfat host-share disk ({@code HOST_SHARED_DISK_LABEL} of dstack-types). */
    public static final String HOST_SHARED_DISK_LABEL = "DSTACKSHR";
    /** Upstream attaches an MR_CONFIG_ID only to images of this version or newer ({@code qemu.rs}). */
    public static final int[] MRCONFIGID_MIN_IMAGE_VERSION = {0, 5, 2};

    private QemuCommandLine() {}

    /** One NIC: {@code [cvm.networking]} ({@code mode = "user" | "bridge"}). */
    public record Network(String mode, String net, String dhcpStart, boolean restrict, String bridge,
            String macPrefix) {
        public Network {
            Objects.requireNonNull(mode, "mode");
            net = net == null ? "" : net;
            dhcpStart = dhcpStart == null ? "" : dhcpStart;
            bridge = bridge == null ? "" : bridge;
            macPrefix = macPrefix == null ? "" : macPrefix;
        }

        /** The shipped {@code vmm.toml}'s user networking: {@code 10.0.2.0/24}, DHCP from {@code 10.0.2.10}. */
        public static Network userDefault() {
            return new Network("user", "10.0.2.0/24", "10.0.2.10", false, "", "");
        }
    }

    /** A port mapping: {@code hostfwd=<protocol>:<address>:<hostPort>-:<vmPort>}. */
    public record Port(String protocol, String address, int hostPort, int vmPort) {
        public Port {
            Objects.requireNonNull(protocol, "protocol");
            Objects.requireNonNull(address, "address");
        }
    }

    /**
     * Everything the command line depends on.
     *
     * @param qemuPath {@code [cvm] qemu_path}
     * @param user {@code [cvm] user} ("" runs QEMU as the VMM's user; else {@code sudo -u user})
     * @param vmId the VM id (NIC MAC addresses are derived from it)
     * @param workDir the VM directory ({@code serial.log}, {@code serial.pty}, {@code qmp.sock}, {@code hda.img},
     *     {@code shared/}, {@code shared.img})
     * @param qmpSocket {@code [cvm] qmp_socket}
     * @param bios the image's {@code bios} (absolute), if any
     * @param kernel the image's {@code kernel} (absolute)
     * @param initrd the image's {@code initrd} (absolute)
     * @param cmdline the image's {@code cmdline}, if any
     * @param rootfs the image's {@code rootfs} ({@code .verity} or, before 0.5.0, {@code .iso}), if any
     * @param imageVersion the image's {@code version} ("0.5.2"); "" when absent
     * @param sharedReadOnly the image's {@code shared_ro} (9p export read-only)
     * @param hotplugOff {@code [cvm] qemu_hotplug_off}
     * @param pciHole64Size {@code [cvm] qemu_pci_hole64_size} (0: not set)
     * @param networks the NICs, in order
     * @param ports the port mappings (only on the first user-mode NIC)
     * @param smbios {@code -smbios} values ({@code type=1,manufacturer=dstack,...}), in order
     * @param cid the vsock guest CID
     * @param hostShareMode {@code [cvm] host_share_mode}: {@code 9p}, {@code vvfat} or {@code vhd}
     * @param vcpu requested vCPUs
     * @param memoryMb requested memory in MiB
     * @param hugepages back memory by {@code /dev/hugepages}, one NUMA node per GPU node
     * @param hugepageNumaNodes host NUMA node → number of GPUs on it (with hugepages; {@code {"0": 0}} without GPUs)
     * @param gpuNumaNodes GPU slot → host NUMA node (with hugepages)
     * @param numaCpus the CPU list to pin QEMU to ({@code pin_numa}), if any
     * @param gpus GPU PCI slots ({@code 18:00.0}), attached by VFIO
     * @param bridges NVSwitch / bridge PCI slots, attached after the GPUs
     * @param noTee a plain VM without TDX
     * @param useMrconfigid {@code [cvm] use_mrconfigid}
     * @param mrConfigId the 48-byte MR_CONFIG_ID, required when {@link #wantsMrConfigId()}
     * @param qgsPort {@code [cvm] qgs_port} (the tdx-guest quote-generation socket, vsock CID 2)
     */
    public record Spec(String qemuPath, String user, String vmId, Path workDir, boolean qmpSocket,
            Optional<Path> bios, Path kernel, Path initrd, Optional<String> cmdline, Optional<Path> rootfs,
            String imageVersion, boolean sharedReadOnly, boolean hotplugOff, long pciHole64Size,
            List<Network> networks, List<Port> ports, List<String> smbios, long cid, String hostShareMode, int vcpu,
            int memoryMb, boolean hugepages, Map<String, Integer> hugepageNumaNodes, Map<String, String> gpuNumaNodes,
            Optional<String> numaCpus, List<String> gpus, List<String> bridges, boolean noTee,
            boolean useMrconfigid, Optional<byte[]> mrConfigId, Optional<Integer> qgsPort) {
        public Spec {
            Objects.requireNonNull(qemuPath, "qemuPath");
            user = user == null ? "" : user;
            Objects.requireNonNull(vmId, "vmId");
            Objects.requireNonNull(workDir, "workDir");
            bios = Objects.requireNonNullElse(bios, Optional.empty());
            Objects.requireNonNull(kernel, "kernel");
            Objects.requireNonNull(initrd, "initrd");
            cmdline = Objects.requireNonNullElse(cmdline, Optional.empty());
            rootfs = Objects.requireNonNullElse(rootfs, Optional.empty());
            imageVersion = imageVersion == null ? "" : imageVersion;
            networks = List.copyOf(networks);
            ports = List.copyOf(ports);
            smbios = List.copyOf(smbios);
            Objects.requireNonNull(hostShareMode, "hostShareMode");
            hugepageNumaNodes = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(hugepageNumaNodes));
            gpuNumaNodes = Map.copyOf(gpuNumaNodes);
            numaCpus = Objects.requireNonNullElse(numaCpus, Optional.empty());
            gpus = List.copyOf(gpus);
            bridges = List.copyOf(bridges);
            mrConfigId = Objects.requireNonNullElse(mrConfigId, Optional.<byte[]>empty()).map(byte[]::clone);
            qgsPort = Objects.requireNonNullElse(qgsPort, Optional.empty());
        }

        public static Builder builder() {
            return new Builder();
        }

        public Builder toBuilder() {
            Builder b = new Builder();
            b.qemuPath = qemuPath;
            b.user = user;
            b.vmId = vmId;
            b.workDir = workDir;
            b.qmpSocket = qmpSocket;
            b.bios = bios;
            b.kernel = kernel;
            b.initrd = initrd;
            b.cmdline = cmdline;
            b.rootfs = rootfs;
            b.imageVersion = imageVersion;
            b.sharedReadOnly = sharedReadOnly;
            b.hotplugOff = hotplugOff;
            b.pciHole64Size = pciHole64Size;
            b.networks = new ArrayList<>(networks);
            b.ports = new ArrayList<>(ports);
            b.smbios = new ArrayList<>(smbios);
            b.cid = cid;
            b.hostShareMode = hostShareMode;
            b.vcpu = vcpu;
            b.memoryMb = memoryMb;
            b.hugepages = hugepages;
            b.hugepageNumaNodes = new LinkedHashMap<>(hugepageNumaNodes);
            b.gpuNumaNodes = new LinkedHashMap<>(gpuNumaNodes);
            b.numaCpus = numaCpus;
            b.gpus = new ArrayList<>(gpus);
            b.bridges = new ArrayList<>(bridges);
            b.noTee = noTee;
            b.useMrconfigid = useMrconfigid;
            b.mrConfigId = mrConfigId;
            b.qgsPort = qgsPort;
            return b;
        }

        /** Whether this launch carries an MR_CONFIG_ID: TDX, {@code use_mrconfigid} and an image ≥ 0.5.2. */
        public boolean wantsMrConfigId() {
            return !noTee && useMrconfigid && versionAtLeast(imageVersion, MRCONFIGID_MIN_IMAGE_VERSION);
        }

        @Override
        public String toString() {
            return "QemuCommandLine.Spec[vmId=" + vmId + ", cid=" + cid + ", vcpu=" + vcpu + ", memoryMb=" + memoryMb
                    + ", noTee=" + noTee + ", hostShareMode=" + hostShareMode + "]";
        }
    }

    /** A {@link Spec} builder with the shipped {@code vmm.toml} defaults. */
    public static final class Builder {
        private String qemuPath = "qemu-system-x86_64";
        private String user = "";
        private String vmId;
        private Path workDir;
        private boolean qmpSocket;
        private Optional<Path> bios = Optional.empty();
        private Path kernel;
        private Path initrd;
        private Optional<String> cmdline = Optional.empty();
        private Optional<Path> rootfs = Optional.empty();
        private String imageVersion = "";
        private boolean sharedReadOnly;
        private boolean hotplugOff;
        private long pciHole64Size;
        private List<Network> networks = new ArrayList<>(List.of(Network.userDefault()));
        private List<Port> ports = new ArrayList<>();
        private List<String> smbios = new ArrayList<>();
        private long cid;
        private String hostShareMode = "9p";
        private int vcpu = 1;
        private int memoryMb = 1024;
        private boolean hugepages;
        private Map<String, Integer> hugepageNumaNodes = new LinkedHashMap<>();
        private Map<String, String> gpuNumaNodes = new LinkedHashMap<>();
        private Optional<String> numaCpus = Optional.empty();
        private List<String> gpus = new ArrayList<>();
        private List<String> bridges = new ArrayList<>();
        private boolean noTee;
        private boolean useMrconfigid = true;
        private Optional<byte[]> mrConfigId = Optional.empty();
        private Optional<Integer> qgsPort = Optional.empty();

        public Builder qemuPath(String v) { qemuPath = v; return this; }
        public Builder user(String v) { user = v; return this; }
        public Builder vmId(String v) { vmId = v; return this; }
        public Builder workDir(Path v) { workDir = v; return this; }
        public Builder qmpSocket(boolean v) { qmpSocket = v; return this; }
        public Builder bios(Path v) { bios = Optional.ofNullable(v); return this; }
        public Builder kernel(Path v) { kernel = v; return this; }
        public Builder initrd(Path v) { initrd = v; return this; }
        public Builder cmdline(String v) { cmdline = Optional.ofNullable(v); return this; }
        public Builder rootfs(Path v) { rootfs = Optional.ofNullable(v); return this; }
        public Builder imageVersion(String v) { imageVersion = v; return this; }
        public Builder sharedReadOnly(boolean v) { sharedReadOnly = v; return this; }
        public Builder hotplugOff(boolean v) { hotplugOff = v; return this; }
        public Builder pciHole64Size(long v) { pciHole64Size = v; return this; }
        public Builder networks(List<Network> v) { networks = new ArrayList<>(v); return this; }
        public Builder ports(List<Port> v) { ports = new ArrayList<>(v); return this; }
        public Builder smbios(List<String> v) { smbios = new ArrayList<>(v); return this; }
        public Builder cid(long v) { cid = v; return this; }
        public Builder hostShareMode(String v) { hostShareMode = v; return this; }
        public Builder vcpu(int v) { vcpu = v; return this; }
        public Builder memoryMb(int v) { memoryMb = v; return this; }
        public Builder hugepages(boolean v) { hugepages = v; return this; }
        public Builder hugepageNumaNodes(Map<String, Integer> v) { hugepageNumaNodes = new LinkedHashMap<>(v); return this; }
        public Builder gpuNumaNodes(Map<String, String> v) { gpuNumaNodes = new LinkedHashMap<>(v); return this; }
        public Builder numaCpus(String v) { numaCpus = Optional.ofNullable(v); return this; }
        public Builder gpus(List<String> v) { gpus = new ArrayList<>(v); return this; }
        public Builder bridges(List<String> v) { bridges = new ArrayList<>(v); return this; }
        public Builder noTee(boolean v) { noTee = v; return this; }
        public Builder useMrconfigid(boolean v) { useMrconfigid = v; return this; }
        public Builder mrConfigId(byte[] v) { mrConfigId = Optional.ofNullable(v); return this; }
        public Builder qgsPort(Integer v) { qgsPort = Optional.ofNullable(v); return this; }

        public Spec build() {
            return new Spec(qemuPath, user, vmId, workDir, qmpSocket, bios, kernel, initrd, cmdline, rootfs,
                    imageVersion, sharedReadOnly, hotplugOff, pciHole64Size, networks, ports, smbios, cid,
                    hostShareMode, vcpu, memoryMb, hugepages, hugepageNumaNodes, gpuNumaNodes, numaCpus, gpus,
                    bridges, noTee, useMrconfigid, mrConfigId, qgsPort);
        }
    }

    /**
     * The full argument list, program first ({@code qemu_path}, or {@code sudo}/{@code taskset} before it).
     *
     * @throws RaException {@code CONFIG_INVALID} naming the option when the spec cannot be launched (unknown
     *     host_share_mode or networking mode, rootfs type, missing MR_CONFIG_ID, bad MAC prefix, NUMA facts)
     */
    public static List<String> build(Spec s) throws RaException {
        List<String> a = new ArrayList<>();
        a.add(s.qemuPath());
        // base command
        a.addAll(List.of("-accel", "kvm", "-cpu", "host", "-nographic", "-nodefaults"));
        a.add("-chardev");
        a.add("pty,id=com0,path=" + s.workDir().resolve("serial.pty") + ",logfile=" + s.workDir().resolve("serial.log")
                + ",logappend=on");
        a.add("-serial");
        a.add("chardev:com0");
        if (s.qmpSocket()) {
            a.add("-qmp");
            a.add("unix:" + s.workDir().resolve("qmp.sock") + ",server,wait=off");
        }
        s.bios().ifPresent(b -> {
            a.add("-bios");
            a.add(b.toString());
        });
        a.add("-kernel");
        a.add(s.kernel().toString());
        a.add("-initrd");
        a.add(s.initrd().toString());
        if (s.hotplugOff()) {
            a.add("-global");
            a.add("ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off");
        }
        if (s.pciHole64Size() > 0) {
            a.add("-global");
            a.add("q35-pcihost.pci-hole64-size=0x" + Long.toHexString(s.pciHole64Size()));
        }
        rootfs(s, a);
        // data disk
        a.add("-drive");
        a.add("file=" + s.workDir().resolve("hda.img") + ",if=none,id=hd1");
        a.add("-device");
        a.add("virtio-blk-pci,drive=hd1");
        networking(s, a);
        for (String t : s.smbios()) {
            a.add("-smbios");
            a.add(t);
        }
        a.add("-device");
        a.add("vhost-vsock-pci,guest-cid=" + s.cid());
        hostShare(s, a);
        int[] smpMem = hugepageMemory(s, a);
        machine(s, a);
        gpus(s, a);
        a.add("-smp");
        a.add(Integer.toString(smpMem[0]));
        a.add("-m");
        a.add(smpMem[1] + "M");
        s.cmdline().ifPresent(c -> {
            a.add("-append");
            a.add(c);
        });
        if (s.numaCpus().isPresent()) {
            a.addAll(0, List.of("taskset", "-c", s.numaCpus().get()));
        }
        if (!s.user().isEmpty()) {
            a.addAll(0, List.of("sudo", "-u", s.user()));
        }
        return List.copyOf(a);
    }

    private static void rootfs(Spec s, List<String> a) throws RaException {
        if (s.rootfs().isEmpty()) {
            return;
        }
        Path rootfs = s.rootfs().get();
        String name = rootfs.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String ext = dot < 0 ? "" : name.substring(dot + 1);
        switch (ext) {
            case "iso" -> {
                if (versionAtLeast(s.imageVersion(), new int[] {0, 5, 0})) {
                    throw new RaException(Reason.CONFIG_INVALID, "image.rootfs",
                            "Unsupported rootfs type: iso. Image versions >= 0.5.0 must use verity rootfs (image "
                                    + "version " + s.imageVersion() + ")");
                }
                a.add("-cdrom");
                a.add(rootfs.toString());
            }
            case "verity" -> {
                a.add("-drive");
                a.add("file=" + rootfs + ",if=none,id=hd0,format=raw,readonly=on");
                a.add("-device");
                a.add("virtio-blk-pci,drive=hd0");
            }
            default -> throw new RaException(Reason.CONFIG_INVALID, "image.rootfs",
                    "Unsupported rootfs type: " + ext + " (" + rootfs + ")");
        }
    }

    private static void networking(Spec s, List<String> a) throws RaException {
        int hostfwd = -1;
        for (int i = 0; i < s.networks().size(); i++) {
            if (s.networks().get(i).mode().equals("user")) {
                hostfwd = i;
                break;
            }
        }
        if (hostfwd < 0 && !s.ports().isEmpty()) {
            throw new RaException(Reason.CONFIG_INVALID, "cvm.networking.mode",
                    "port mappings need user-mode networking; no user-mode NIC among " + s.networks().size());
        }
        for (int i = 0; i < s.networks().size(); i++) {
            Network n = s.networks().get(i);
            String id = "net" + i;
            String mac = macAddress(s.vmId(), macPrefixBytes(n.macPrefix()), i);
            String netdev = switch (n.mode()) {
                case "user" -> {
                    StringBuilder b = new StringBuilder("user,id=").append(id).append(",net=").append(n.net())
                            .append(",dhcpstart=").append(n.dhcpStart()).append(",restrict=")
                            .append(n.restrict() ? "yes" : "no");
                    if (i == hostfwd) {
                        for (Port p : s.ports()) {
                            b.append(",hostfwd=").append(p.protocol().toLowerCase(Locale.ROOT)).append(':')
                                    .append(p.address()).append(':').append(p.hostPort()).append("-:")
                                    .append(p.vmPort());
                        }
                    }
                    yield b.toString();
                }
                case "bridge" -> {
                    if (n.bridge().isEmpty()) {
                        throw new RaException(Reason.CONFIG_INVALID, "cvm.networking.bridge",
                                "bridge networking needs a bridge name");
                    }
                    yield "bridge,id=" + id + ",br=" + n.bridge();
                }
                default -> throw new RaException(Reason.CONFIG_UNSUPPORTED, "cvm.networking.mode",
                        "networking mode " + n.mode() + " is not supported (user, bridge)");
            };
            a.add("-netdev");
            a.add(netdev);
            a.add("-device");
            a.add("virtio-net-pci,netdev=" + id + ",mac=" + mac);
        }
    }

    private static void hostShare(Spec s, List<String> a) throws RaException {
        Path shared = s.workDir().resolve("shared");
        switch (s.hostShareMode()) {
            case "9p" -> {
                a.add("-virtfs");
                a.add("local,path=" + shared + ",mount_tag=host-shared,readonly=" + (s.sharedReadOnly() ? "on" : "off")
                        + ",security_model=mapped,id=virtfs0");
            }
            case "vvfat" -> {
                a.add("-blockdev");
                a.add("driver=vvfat,node-name=vvfat0,read-only=on,dir=" + shared + ",label=" + HOST_SHARED_DISK_LABEL);
                a.add("-device");
                a.add("virtio-blk-pci,drive=vvfat0");
            }
            case "vhd" -> {
                a.add("-drive");
                a.add("file=" + s.workDir().resolve("shared.img") + ",if=none,id=hd2,format=raw,readonly=on");
                a.add("-device");
                a.add("virtio-blk-pci,drive=hd2");
            }
            default -> throw new RaException(Reason.CONFIG_INVALID, "cvm.host_share_mode",
                    "Invalid host sharing mode: " + s.hostShareMode() + " (9p, vvfat or vhd)");
        }
    }

    /** {@code effective_vcpu_count}: at least 1, rounded up to a multiple of the NUMA nodes with hugepages. */
    static int effectiveVcpu(int requested, Integer numaNodes) {
        int v = Math.max(requested, 1);
        return numaNodes == null ? v : roundUp(v, Math.max(numaNodes, 1));
    }

    static int roundUp(int value, int multiple) {
        if (multiple <= 1 || value % multiple == 0) {
            return value;
        }
        return value + (multiple - value % multiple);
    }

    private static int[] hugepageMemory(Spec s, List<String> a) throws RaException {
        if (!s.hugepages()) {
            return new int[] {effectiveVcpu(s.vcpu(), null), s.memoryMb()};
        }
        Map<String, Integer> nodes = s.hugepageNumaNodes();
        if (nodes.isEmpty()) {
            throw new RaException(Reason.CONFIG_INVALID, "hugepages",
                    "hugepages need the host NUMA nodes of the VM (none given)");
        }
        int count = nodes.size();
        int smp = effectiveVcpu(s.vcpu(), count);
        int memoryGib = roundUp(s.memoryMb() / 1024, count);
        int vcpusPerNode = smp / count;
        int memoryPerNode = memoryGib / count;
        int bus = 5;
        int index = 0;
        for (Map.Entry<String, Integer> e : nodes.entrySet()) {
            int cpuStart = index * vcpusPerNode;
            int cpuEnd = (index + 1) * vcpusPerNode - 1;
            a.add("-numa");
            a.add("node,nodeid=" + index + ",cpus=" + cpuStart + "-" + cpuEnd + ",memdev=mem" + index);
            a.add("-object");
            a.add("memory-backend-file,id=mem" + index + ",size=" + memoryPerNode
                    + "G,mem-path=/dev/hugepages,share=on,prealloc=yes,host-nodes=" + e.getKey() + ",policy=bind");
            a.add("-device");
            a.add("pxb-pcie,id=pcie.node" + e.getKey() + ",bus=pcie.0,addr=" + (0xa + index) + ",numa_node=" + index
                    + ",bus_nr=" + bus);
            bus += e.getValue() + 1;
            index++;
        }
        return new int[] {smp, memoryGib * 1024};
    }

    private static void machine(Spec s, List<String> a) throws RaException {
        if (s.noTee()) {
            a.add("-machine");
            a.add("q35,kernel-irqchip=split,hpet=off");
            return;
        }
        a.add("-machine");
        a.add("q35,kernel-irqchip=split,confidential-guest-support=tdx,hpet=off");
        a.add("-object");
        a.add(tdxGuestObject(s));
    }

    /** The {@code tdx-guest} object as QEMU's JSON syntax, members in upstream's order. */
    static String tdxGuestObject(Spec s) throws RaException {
        StringBuilder b = new StringBuilder("{\"qom-type\":\"tdx-guest\",\"id\":\"tdx\"");
        if (s.wantsMrConfigId()) {
            byte[] id = s.mrConfigId().orElseThrow(() -> new RaException(Reason.CONFIG_INVALID, "mrconfigid",
                    "use_mrconfigid = true and image version " + s.imageVersion()
                            + " need an MR_CONFIG_ID, none was computed"));
            if (id.length != 48) {
                throw new RaException(Reason.CONFIG_INVALID, "mrconfigid",
                        "MR_CONFIG_ID must be 48 bytes, got " + id.length);
            }
            b.append(",\"mrconfigid\":\"").append(Base64.getEncoder().encodeToString(id)).append('"');
        }
        s.qgsPort().ifPresent(p -> b.append(",\"quote-generation-socket\":{\"type\":\"vsock\",\"cid\":\"2\",\"port\":\"")
                .append(p).append("\"}"));
        return b.append('}').toString();
    }

    private static void gpus(Spec s, List<String> a) throws RaException {
        if (s.gpus().isEmpty()) {
            return;
        }
        a.add("-object");
        a.add("iommufd,id=iommufd0");
        int n = 1;
        for (String slot : s.gpus()) {
            String bus;
            if (s.hugepages()) {
                String node = s.gpuNumaNodes().get(slot);
                if (node == null) {
                    throw new RaException(Reason.CONFIG_INVALID, "gpus",
                            "no NUMA node known for GPU " + slot + " (hugepages)");
                }
                bus = "pcie.node" + node;
            } else {
                bus = "pcie.0";
            }
            a.add("-device");
            a.add("pcie-root-port,id=pci." + n + ",bus=" + bus + ",chassis=" + n);
            a.add("-device");
            a.add("vfio-pci,host=" + slot + ",bus=pci." + n + ",iommufd=iommufd0");
            n++;
        }
        for (String slot : s.bridges()) {
            a.add("-device");
            a.add("pcie-root-port,id=pci." + n + ",bus=pcie.0,chassis=" + n);
            a.add("-device");
            a.add("vfio-pci,host=" + slot + ",bus=pci." + n + ",iommufd=iommufd0");
            n++;
        }
    }

    /** {@code mac_prefix} ("02:aa:bb") as at most 3 bytes; refused unless 1..3 two-digit hex bytes or empty. */
    static byte[] macPrefixBytes(String prefix) throws RaException {
        if (prefix.isEmpty()) {
            return new byte[0];
        }
        String[] parts = prefix.split(":", -1);
        if (parts.length > 3) {
            throw new RaException(Reason.CONFIG_INVALID, "cvm.networking.mac_prefix",
                    "mac_prefix must contain 1 to 3 two-digit hexadecimal bytes, got " + prefix);
        }
        byte[] out = new byte[parts.length];
        for (int i = 0; i < parts.length; i++) {
            if (!parts[i].matches("[0-9a-fA-F]{2}")) {
                throw new RaException(Reason.CONFIG_INVALID, "cvm.networking.mac_prefix",
                        "mac_prefix must contain 1 to 3 two-digit hexadecimal bytes, got " + prefix);
            }
            out[i] = (byte) Integer.parseInt(parts[i], 16);
        }
        return out;
    }

    /**
     * The NIC's MAC ({@code mac_address_for_vm_index} of {@code network.rs}): the prefix bytes, then
     * SHA-256({@code vmId} or {@code vmId:index}) bytes; locally administered, unicast.
     */
    static String macAddress(String vmId, byte[] prefix, int index) {
        byte[] hash = sha256((index == 0 ? vmId : vmId + ":" + index).getBytes(StandardCharsets.UTF_8));
        int pl = Math.min(prefix.length, 3);
        byte[] mac = new byte[6];
        System.arraycopy(prefix, 0, mac, 0, pl);
        for (int i = pl; i < 6; i++) {
            mac[i] = hash[i - pl];
        }
        mac[0] = (byte) ((mac[0] & 0xfe) | 0x02);
        return HexFormat.ofDelimiter(":").formatHex(mac);
    }

    /** {@code version >= min} on dotted numbers; the first three dotted numbers; a version that does
     * not parse counts as 0.0.0 ({@code ImageInfo::version_tuple} of {@code image.rs}). */
    static boolean versionAtLeast(String version, int[] min) {
        int[] v = new int[3];
        String[] parts = version.split("\\.", -1);
        if (parts.length < 3) {
            return false;
        }
        try {
            for (int i = 0; i < 3; i++) {
                v[i] = Integer.parseInt(parts[i]);
            }
        } catch (NumberFormatException e) {
            return false;
        }
        for (int i = 0; i < 3; i++) {
            if (v[i] != min[i]) {
                return v[i] > min[i];
            }
        }
        return true;
    }

    static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
