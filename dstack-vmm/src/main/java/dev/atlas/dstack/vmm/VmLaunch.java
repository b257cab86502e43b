package dev.atlas.dstack.vmm;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Everything a {@link CvmBackend} needs to start one VM. Built by the VMM core from the VM's manifest; the host share
 * ({@code sharedDir}: {@code app-compose.json}, {@code .sys-config.json}, {@code .instance_info}, {@code .encrypted-env},
 * {@code .user-config}) is already written.
 *
 * @param id            the VM id (a UUID string, as dstack)
 * @param name          the VM name (a DNS label)
 * @param appId         the app id, 40 lowercase hex characters
 * @param composeHash   SHA-256 of the exact {@code app-compose.json} bytes, lowercase hex
 * @param workDir       the VM directory under {@code run_path} (manifest, pid file, logs)
 * @param sharedDir     {@code workDir/shared}, the host share
 * @param cid           the vsock CID
 * @param gpus          PCI slots of the GPUs to attach (empty: none)
 * @param simulatedTee  dstack's per-VM {@code simulated_tee} ({@code "dstack-tdx"}...), when set
 * @param serialLog     where the guest's serial console goes ({@code workDir/serial.log})
 * @param stdoutLog     where the process's stdout/stderr go ({@code workDir/stdout.log})
 * @param hostApiSocket the per-VM host API socket (a Unix socket in {@code workDir})
 */
public record VmLaunch(
        String id,
        String name,
        String appId,
        String composeHash,
        Path workDir,
        Path sharedDir,
        long cid,
        int vcpu,
        long memoryMb,
        long diskGb,
        ImageInfo image,
        List<PortMapping> ports,
        boolean hugepages,
        boolean pinNuma,
        List<String> gpus,
        boolean noTee,
        Optional<String> simulatedTee,
        Path serialLog,
        Path stdoutLog,
        Path hostApiSocket,
        VmmConfig config) {
    public VmLaunch {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(appId, "appId");
        Objects.requireNonNull(composeHash, "composeHash");
        Objects.requireNonNull(workDir, "workDir");
        Objects.requireNonNull(sharedDir, "sharedDir");
        Objects.requireNonNull(image, "image");
        ports = List.copyOf(ports);
        gpus = List.copyOf(gpus);
        Objects.requireNonNull(simulatedTee, "simulatedTee");
        Objects.requireNonNull(serialLog, "serialLog");
        Objects.requireNonNull(stdoutLog, "stdoutLog");
        Objects.requireNonNull(hostApiSocket, "hostApiSocket");
        Objects.requireNonNull(config, "config");
        if (vcpu <= 0 || memoryMb <= 0 || diskGb < 0 || cid < 0) {
            throw new IllegalArgumentException("vcpu and memory must be positive, disk and cid not negative");
        }
    }

    /** The pid file a backend writes into {@link #workDir()}. */
    public Path pidFile() {
        return workDir.resolve("vm.pid");
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.id = id; b.name = name; b.appId = appId; b.composeHash = composeHash; b.workDir = workDir;
        b.sharedDir = sharedDir; b.cid = cid; b.vcpu = vcpu; b.memoryMb = memoryMb; b.diskGb = diskGb;
        b.image = image; b.ports = new ArrayList<>(ports); b.hugepages = hugepages; b.pinNuma = pinNuma;
        b.gpus = new ArrayList<>(gpus); b.noTee = noTee; b.simulatedTee = simulatedTee; b.serialLog = serialLog;
        b.stdoutLog = stdoutLog; b.hostApiSocket = hostApiSocket; b.config = config;
        return b;
    }

    /** Builder; {@code workDir} defaults {@code sharedDir}, the logs and the host API socket. */
    public static final class Builder {
        private String id;
        private String name;
        private String appId = "";
        private String composeHash = "";
        private Path workDir;
        private Path sharedDir;
        private long cid;
        private int vcpu = 1;
        private long memoryMb = 1024;
        private long diskGb = 0;
        private ImageInfo image;
        private List<PortMapping> ports = new ArrayList<>();
        private boolean hugepages;
        private boolean pinNuma;
        private List<String> gpus = new ArrayList<>();
        private boolean noTee;
        private Optional<String> simulatedTee = Optional.empty();
        private Path serialLog;
        private Path stdoutLog;
        private Path hostApiSocket;
        private VmmConfig config;

        private Builder() {}

        public Builder id(String v) { id = v; return this; }
        public Builder name(String v) { name = v; return this; }
        public Builder appId(String v) { appId = v; return this; }
        public Builder composeHash(String v) { composeHash = v; return this; }
        public Builder workDir(Path v) { workDir = v; return this; }
        public Builder sharedDir(Path v) { sharedDir = v; return this; }
        public Builder cid(long v) { cid = v; return this; }
        public Builder vcpu(int v) { vcpu = v; return this; }
        public Builder memoryMb(long v) { memoryMb = v; return this; }
        public Builder diskGb(long v) { diskGb = v; return this; }
        public Builder image(ImageInfo v) { image = v; return this; }
        public Builder ports(List<PortMapping> v) { ports = new ArrayList<>(v); return this; }
        public Builder hugepages(boolean v) { hugepages = v; return this; }
        public Builder pinNuma(boolean v) { pinNuma = v; return this; }
        public Builder gpus(List<String> v) { gpus = new ArrayList<>(v); return this; }
        public Builder noTee(boolean v) { noTee = v; return this; }
        public Builder simulatedTee(Optional<String> v) { simulatedTee = v; return this; }
        public Builder serialLog(Path v) { serialLog = v; return this; }
        public Builder stdoutLog(Path v) { stdoutLog = v; return this; }
        public Builder hostApiSocket(Path v) { hostApiSocket = v; return this; }
        public Builder config(VmmConfig v) { config = v; return this; }

        public VmLaunch build() {
            Objects.requireNonNull(workDir, "workDir");
            return new VmLaunch(id, name, appId, composeHash, workDir,
                    sharedDir != null ? sharedDir : workDir.resolve("shared"), cid, vcpu, memoryMb, diskGb, image,
                    ports, hugepages, pinNuma, gpus, noTee, simulatedTee,
                    serialLog != null ? serialLog : workDir.resolve("serial.log"),
                    stdoutLog != null ? stdoutLog : workDir.resolve("stdout.log"),
                    hostApiSocket != null ? hostApiSocket : workDir.resolve("host-api.sock"), config);
        }
    }
}
