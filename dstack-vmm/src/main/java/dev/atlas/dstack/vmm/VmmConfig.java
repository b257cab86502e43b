package dev.atlas.dstack.vmm;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.vmm.internal.VmmConfigReader;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * dstack's {@code vmm.toml} ({@code dstack/vmm/src/config.rs}, {@code dstack/vmm/vmm.toml}), read unchanged: the
 * shipped defaults overlaid by the file, the deprecated top-level {@code image_path} migrated to {@code [image] path}
 * with a warning, and keys we do not know named in {@link #warnings()}. Our own keys: {@code [cvm] backend}
 * ({@code "qemu"} default, or {@code "simulator"}) and {@code [cvm.simulator]}. See {@code docs/dstack-vmm.md}.
 *
 * @param address  {@code unix:PATH}, {@code tcp:HOST:PORT} or {@code HOST:PORT}
 * @param runPath  the VM directories (relative paths in the file are resolved against the file's directory)
 * @param kmsUrl   the KMS that {@code GetAppEnvEncryptPubKey} asks
 * @param baseDir  the directory relative paths were resolved against
 * @param warnings deprecated or unknown keys, in file order
 */
public record VmmConfig(
        String address,
        boolean reuse,
        Path runPath,
        String kmsUrl,
        String nodeName,
        int eventBufferSize,
        Image image,
        Cvm cvm,
        Gateway gateway,
        Auth auth,
        HostApi hostApi,
        KeyProvider keyProvider,
        Path baseDir,
        List<String> warnings) {
    public VmmConfig {
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(runPath, "runPath");
        Objects.requireNonNull(kmsUrl, "kmsUrl");
        Objects.requireNonNull(nodeName, "nodeName");
        Objects.requireNonNull(image, "image");
        Objects.requireNonNull(cvm, "cvm");
        Objects.requireNonNull(gateway, "gateway");
        Objects.requireNonNull(auth, "auth");
        Objects.requireNonNull(hostApi, "hostApi");
        Objects.requireNonNull(keyProvider, "keyProvider");
        Objects.requireNonNull(baseDir, "baseDir");
        warnings = List.copyOf(warnings);
    }

    /** Reads a {@code vmm.toml}; relative paths are resolved against the file's directory. */
    public static VmmConfig load(Path file) throws RaException {
        return VmmConfigReader.load(file);
    }

    /** Parses {@code vmm.toml} text; relative paths are resolved against {@code baseDir}. */
    public static VmmConfig parse(String toml, Path baseDir) throws RaException {
        return VmmConfigReader.parse(toml, baseDir, "vmm.toml");
    }

    /** The shipped defaults alone (as an empty file would give). */
    public static VmmConfig defaults(Path baseDir) throws RaException {
        return parse("", baseDir);
    }

    /** A copy with {@code [cvm] backend} replaced (the CLI's {@code --backend}). */
    public VmmConfig withBackend(String backend) {
        return new VmmConfig(address, reuse, runPath, kmsUrl, nodeName, eventBufferSize, image,
                cvm.withBackend(backend), gateway, auth, hostApi, keyProvider, baseDir, warnings);
    }

    /** A copy with another {@code run_path}. */
    public VmmConfig withRunPath(Path path) {
        return new VmmConfig(address, reuse, path, kmsUrl, nodeName, eventBufferSize, image, cvm, gateway, auth,
                hostApi, keyProvider, baseDir, warnings);
    }

    /** A copy with another {@code address}. */
    public VmmConfig withAddress(String a) {
        return new VmmConfig(a, reuse, runPath, kmsUrl, nodeName, eventBufferSize, image, cvm, gateway, auth,
                hostApi, keyProvider, baseDir, warnings);
    }

    /** {@code [image]}: {@code path} (the image directories) and {@code registry} (not used by us). */
    public record Image(Path path, String registry) {
        public Image {
            Objects.requireNonNull(path, "path");
            Objects.requireNonNull(registry, "registry");
        }
    }

    /**
     * {@code [cvm]}. {@code backend} and {@code simulator} are ours; the rest is dstack's {@code CvmConfig}.
     * {@code qgsPort} is empty when {@code qgs_port} is absent.
     */
    public record Cvm(
            String platform,
            String qemuPath,
            List<String> kmsUrls,
            List<String> gatewayUrls,
            String pccsUrl,
            String dockerRegistry,
            long cidStart,
            long cidPoolSize,
            PortMappingRules portMapping,
            int maxAllocableVcpu,
            long maxAllocableMemoryMb,
            boolean qmpSocket,
            Gpu gpu,
            String user,
            AutoRestart autoRestart,
            boolean useMrconfigid,
            Optional<Boolean> qemuSinglePassAddPages,
            Optional<Boolean> qemuPic,
            Optional<String> qemuVersion,
            long qemuPciHole64Size,
            boolean qemuHotplugOff,
            String tdxAttestationVariant,
            Networking networking,
            String instanceId,
            String hostShareMode,
            OptionalInt qgsPort,
            Log log,
            String backend,
            Simulator simulator) {
        public static final String BACKEND_QEMU = "qemu";
        public static final String BACKEND_SIMULATOR = "simulator";

        public Cvm {
            kmsUrls = List.copyOf(kmsUrls);
            gatewayUrls = List.copyOf(gatewayUrls);
            Objects.requireNonNull(platform, "platform");
            Objects.requireNonNull(qemuPath, "qemuPath");
            Objects.requireNonNull(pccsUrl, "pccsUrl");
            Objects.requireNonNull(dockerRegistry, "dockerRegistry");
            Objects.requireNonNull(portMapping, "portMapping");
            Objects.requireNonNull(gpu, "gpu");
            Objects.requireNonNull(user, "user");
            Objects.requireNonNull(autoRestart, "autoRestart");
            Objects.requireNonNull(qemuSinglePassAddPages, "qemuSinglePassAddPages");
            Objects.requireNonNull(qemuPic, "qemuPic");
            Objects.requireNonNull(qemuVersion, "qemuVersion");
            Objects.requireNonNull(tdxAttestationVariant, "tdxAttestationVariant");
            Objects.requireNonNull(networking, "networking");
            Objects.requireNonNull(instanceId, "instanceId");
            Objects.requireNonNull(hostShareMode, "hostShareMode");
            Objects.requireNonNull(qgsPort, "qgsPort");
            Objects.requireNonNull(log, "log");
            Objects.requireNonNull(backend, "backend");
            Objects.requireNonNull(simulator, "simulator");
            backend = backend.toLowerCase(Locale.ROOT);
            if (!backend.equals(BACKEND_QEMU) && !backend.equals(BACKEND_SIMULATOR)) {
                throw new IllegalArgumentException("cvm.backend must be \"qemu\" or \"simulator\", got " + backend);
            }
        }

        /** A copy with another backend. */
        public Cvm withBackend(String b) {
            return new Cvm(platform, qemuPath, kmsUrls, gatewayUrls, pccsUrl, dockerRegistry, cidStart, cidPoolSize,
                    portMapping, maxAllocableVcpu, maxAllocableMemoryMb, qmpSocket, gpu, user, autoRestart,
                    useMrconfigid, qemuSinglePassAddPages, qemuPic, qemuVersion, qemuPciHole64Size, qemuHotplugOff,
                    tdxAttestationVariant, networking, instanceId, hostShareMode, qgsPort, log, b, simulator);
        }

        /** A copy with other {@code [cvm.simulator]} settings. */
        public Cvm withSimulator(Simulator s) {
            return new Cvm(platform, qemuPath, kmsUrls, gatewayUrls, pccsUrl, dockerRegistry, cidStart, cidPoolSize,
                    portMapping, maxAllocableVcpu, maxAllocableMemoryMb, qmpSocket, gpu, user, autoRestart,
                    useMrconfigid, qemuSinglePassAddPages, qemuPic, qemuVersion, qemuPciHole64Size, qemuHotplugOff,
                    tdxAttestationVariant, networking, instanceId, hostShareMode, qgsPort, log, backend, s);
        }
    }

    /** {@code [cvm.port_mapping]}: whether mappings are allowed, the default host address, the allowed host ports. */
    public record PortMappingRules(boolean enabled, String address, List<PortRange> ranges) {
        public PortMappingRules {
            Objects.requireNonNull(address, "address");
            ranges = List.copyOf(ranges);
        }

        /** Whether {@code protocol}/{@code hostPort} falls in one of the ranges. */
        public boolean allows(String protocol, int hostPort) {
            for (PortRange r : ranges) {
                if (r.protocol().equalsIgnoreCase(protocol) && hostPort >= r.from() && hostPort <= r.to()) {
                    return true;
                }
            }
            return false;
        }
    }

    /** One {@code [cvm.port_mapping] range} entry: {@code protocol} ({@code tcp}/{@code udp}), {@code from..=to}. */
    public record PortRange(String protocol, int from, int to) {
        public PortRange {
            Objects.requireNonNull(protocol, "protocol");
        }
    }

    /** {@code [cvm.networking]}: {@code mode} ({@code user}, {@code bridge}, ...) and its settings. */
    public record Networking(String mode, String net, String dhcpStart, boolean restrict, String bridge,
                             String macPrefix, String netdev) {
        public Networking {
            Objects.requireNonNull(mode, "mode");
            Objects.requireNonNull(net, "net");
            Objects.requireNonNull(dhcpStart, "dhcpStart");
            Objects.requireNonNull(bridge, "bridge");
            Objects.requireNonNull(macPrefix, "macPrefix");
            Objects.requireNonNull(netdev, "netdev");
        }
    }

    /** {@code [cvm.auto_restart]} (dstack's values are seconds). */
    public record AutoRestart(boolean enabled, Duration interval, int maxRetries, Duration initialBackoff,
                              Duration maxBackoff, Duration resetWindow) {
        public AutoRestart {
            Objects.requireNonNull(interval, "interval");
            Objects.requireNonNull(initialBackoff, "initialBackoff");
            Objects.requireNonNull(maxBackoff, "maxBackoff");
            Objects.requireNonNull(resetWindow, "resetWindow");
        }
    }

    /** {@code [cvm.log]}: serial log rotation ({@code max_bytes} 0 disables it). */
    public record Log(long maxBytes, int maxBackups, Duration checkInterval) {
        public Log {
            Objects.requireNonNull(checkInterval, "checkInterval");
        }
    }

    /** {@code [cvm.gpu]}. */
    public record Gpu(boolean enabled, List<String> listing, List<String> exclude, List<String> include,
                      boolean allowAttachAll) {
        public Gpu {
            listing = List.copyOf(listing);
            exclude = List.copyOf(exclude);
            include = List.copyOf(include);
        }
    }

    /**
     * {@code [cvm.simulator]} (ours): how the simulator backend launches a simulated guest OS.
     *
     * @param command                    the launcher command line (empty: this JVM's java with its class path)
     * @param pkiSeed                    the seed of the mock Intel PKI the simulated quotes chain to
     * @param insecureSkipKmsAttestation the guest does not check the KMS's attestation (insecure; logged)
     * @param insecureLoopbackTransport  the guest registers with gateways over loopback instead of WireGuard
     */
    public record Simulator(List<String> command, long pkiSeed, boolean insecureSkipKmsAttestation,
                            boolean insecureLoopbackTransport) {
        public Simulator {
            command = List.copyOf(command);
        }
    }

    /** {@code [gateway]}: what the app URLs ({@code https://<instance_id>-<agent_port>.<base_domain>}) use. */
    public record Gateway(String baseDomain, int port, int agentPort) {
        public Gateway {
            Objects.requireNonNull(baseDomain, "baseDomain");
        }
    }

    /** {@code [auth]} (§0.3). {@code toString} never shows the tokens. */
    public record Auth(boolean enabled, List<String> tokens, Optional<Path> htpasswdFile) {
        public Auth {
            tokens = List.copyOf(tokens);
            Objects.requireNonNull(htpasswdFile, "htpasswdFile");
        }

        @Override
        public String toString() {
            return "Auth[enabled=" + enabled + ", tokens=" + tokens.size() + " (hidden), htpasswdFile="
                    + htpasswdFile.map(Path::toString).orElse("none") + "]";
        }
    }

    /** {@code [host_api]}: dstack's vsock listener; ours is a Unix socket per VM (see the docs). */
    public record HostApi(String ident, String address, int port) {
        public HostApi {
            Objects.requireNonNull(ident, "ident");
            Objects.requireNonNull(address, "address");
        }
    }

    /** {@code [key_provider]}: the local key provider {@code GetSealingKey} is forwarded to (§2.13). */
    public record KeyProvider(boolean enabled, String address, int port) {
        public KeyProvider {
            Objects.requireNonNull(address, "address");
        }
    }
}
