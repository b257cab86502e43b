package dev.atlas.dstack.vmm.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcJson;
import dev.atlas.dstack.vmm.CvmBackend;
import dev.atlas.dstack.vmm.CvmProcess;
import dev.atlas.dstack.vmm.ImageInfo;
import dev.atlas.dstack.vmm.PortMapping;
import dev.atlas.dstack.vmm.VmLaunch;
import dev.atlas.dstack.vmm.VmmConfig;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * The VMs: one directory per VM under {@code run_path} ({@code vm-manifest.json}, {@code vm-state.json},
 * {@code shared/} host share, logs, pid file, host-API socket), the CID pool, the port rules, and the lifecycle
 * through a {@link CvmBackend}. Upstream: {@code dstack/vmm/src/app.rs}, {@code main_service.rs},
 * {@code app/workdir.rs}, {@code app/vm_info.rs}, {@code app/id_pool.rs}. Methods throw {@link PrpcException}
 * with the text the caller sees. Thread-safe (one lock).
 */
public final class VmManager implements HostApiListener {
    private static final System.Logger LOG = System.getLogger("dev.atlas.dstack.vmm");
    private static final HexFormat HEX = HexFormat.of();
    static final String MANIFEST = "vm-manifest.json";
    static final String STATE = "vm-state.json";
    static final String SHARED = "shared";
    static final String APP_COMPOSE = "app-compose.json";
    static final String SYS_CONFIG = ".sys-config.json";
    static final String INSTANCE_INFO = ".instance_info";
    static final String ENCRYPTED_ENV = ".encrypted-env";
    static final String USER_CONFIG = ".user-config";
    /** Upstream's limit on one guest event body ({@code vm_event_report}). */
    static final int MAX_EVENT_BODY = 4 * 1024;
    static final List<String> SIMULATED_TEES = List.of("dstack-tdx", "dstack-gcp-tdx", "dstack-nitro-enclave", "dstack-amd-sev-snp",
            "dstack-aws-nitro-tpm");

    private final VmmConfig config;
    private final CvmBackend backend;
    private final Clock clock;
    private final HostApiServer hostApi;
    private final Images images;
    private final CidPool cids;
    private final SecureRandom random = new SecureRandom();
    private final Map<String, VmEntry> vms = new LinkedHashMap<>();
    private final List<String> startupWarnings = new ArrayList<>();

    /** One VM in memory. */
    static final class VmEntry {
        Manifest manifest;
        final Path dir;
        long cid;
        boolean started;
        CvmProcess process;
        Instant startedAt;
        Instant exitedAt;
        String bootProgress = "";
        String bootError = "";
        String shutdownProgress = "";
        final ArrayDeque<ObjectNode> events = new ArrayDeque<>();

        VmEntry(Manifest manifest, Path dir, long cid) {
            this.manifest = manifest;
            this.dir = dir;
            this.cid = cid;
        }

        boolean alive() {
            return process != null && process.isAlive();
        }

        Path shared() {
            return dir.resolve(SHARED);
        }
    }

    public VmManager(VmmConfig config, CvmBackend backend, Clock clock, HostApiServer hostApi) {
        this.config = config;
        this.backend = backend;
        this.clock = clock;
        this.hostApi = hostApi;
        this.images = new Images(config.image().path());
        this.cids = new CidPool(config.cvm().cidStart(), config.cvm().cidPoolSize());
    }

    public VmmConfig config() {
        return config;
    }

    Images images() {
        return images;
    }

    /** Warnings of the last {@link #loadAll()} (out-of-range CIDs, unreadable VM directories). */
    public synchronized List<String> startupWarnings() {
        return List.copyOf(startupWarnings);
    }

    // ---- loading and re-adoption ---------------------------------------------------------------------------

    /** Reads every VM directory under {@code run_path}, re-occupies CIDs, re-adopts running VMs. */
    public synchronized void loadAll() throws RaException {
        try {
            Files.createDirectories(config.runPath());
        } catch (IOException e) {
            throw new RaException(RaException.Reason.CONFIG_FILE_UNREADABLE, "run_path",
                    "cannot create " + config.runPath() + ": " + e.getClass().getSimpleName());
        }
        startupWarnings.clear();
        List<Path> dirs = vmDirs();
        List<VmEntry> loaded = new ArrayList<>();
        for (Path d : dirs) {
            Optional<VmEntry> e = readEntry(d);
            e.ifPresent(loaded::add);
        }
        loaded.sort(Comparator.comparingLong(v -> v.manifest.createdAtMs()));
        // CIDs recorded in the state files first, so the pool hands new ones only around them
        List<VmEntry> needCid = new ArrayList<>();
        for (VmEntry e : loaded) {
            if (e.cid < 0) {
                needCid.add(e);
                continue;
            }
            String err = cids.occupy(e.cid);
            if (err != null) {
                warn("VM " + e.manifest.id() + ": " + err + " (kept; cid_start/cid_pool_size changed?)");
            }
        }
        for (VmEntry e : needCid) {
            Optional<Long> c = cids.allocate();
            if (c.isEmpty()) {
                warn("VM " + e.manifest.id() + ": not loaded: CID pool exhausted (cid_start " + cids.start()
                        + ", cid_pool_size " + cids.size() + ")");
                continue;
            }
            e.cid = c.get();
            writeState(e);
        }
        for (VmEntry e : loaded) {
            if (e.cid < 0) {
                continue;
            }
            vms.put(e.manifest.id(), e);
            adoptOrStart(e);
        }
    }

    private void adoptOrStart(VmEntry e) {
        Optional<ImageInfo> image = imageOf(e);
        if (image.isEmpty()) {
            warn("VM " + e.manifest.id() + ": image " + e.manifest.image() + " cannot be loaded; shown as stopped");
            return;
        }
        VmLaunch launch = launch(e, image.get());
        Optional<CvmProcess> p;
        try {
            p = backend.adopt(launch);
        } catch (RuntimeException ex) {
            warn("VM " + e.manifest.id() + ": adopt failed: " + ex);
            p = Optional.empty();
        }
        if (p.isPresent()) {
            e.process = p.get();
            e.startedAt = clock.instant();
            bindHostApi(e);
            watchExit(e, p.get());
            LOG.log(System.Logger.Level.INFO, "re-adopted VM {0} ({1}, cid {2}, pid {3})", e.manifest.id(),
                    e.manifest.name(), e.cid, p.get().pid());
        } else if (e.started) {
            // upstream load_vm(auto_start = true): a VM that should run but does not is started again
            try {
                startLocked(e);
                LOG.log(System.Logger.Level.INFO, "restarted VM {0} ({1}) that was not running",
                        e.manifest.id(), e.manifest.name());
            } catch (PrpcException ex) {
                warn("VM " + e.manifest.id() + ": restart after VMM start failed: " + ex.getMessage());
            }
        }
    }

    private List<Path> vmDirs() {
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(config.runPath())) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                if (!n.startsWith(".") && Files.isDirectory(p) && Files.isRegularFile(p.resolve(MANIFEST))) {
                    out.add(p);
                }
            }
        } catch (IOException e) {
            warn("cannot list run_path " + config.runPath() + ": " + e.getClass().getSimpleName());
        }
        out.sort(Comparator.naturalOrder());
        return out;
    }

    private Optional<VmEntry> readEntry(Path d) {
        try {
            Manifest m = Manifest.fromJson(Manifest.MAPPER.readTree(Files.readAllBytes(d.resolve(MANIFEST))));
            if (!m.id().equals(d.getFileName().toString())) {
                warn("VM directory " + d + ": manifest id " + m.id() + " differs from the directory name; skipped");
                return Optional.empty();
            }
            long cid = -1;
            boolean started = false;
            Path st = d.resolve(STATE);
            if (Files.isRegularFile(st)) {
                JsonNode s = Manifest.MAPPER.readTree(Files.readAllBytes(st));
                if (s != null && s.isObject()) {
                    started = s.path("started").asBoolean(false);
                    if (s.has("cid") && s.get("cid").canConvertToLong() && s.get("cid").longValue() >= 0) {
                        cid = s.get("cid").longValue();
                    }
                }
            }
            VmEntry e = new VmEntry(m, d, cid);
            e.started = started;
            return Optional.of(e);
        } catch (IOException | IllegalArgumentException e) {
            warn("VM directory " + d + ": unreadable manifest or state (" + e.getMessage() + "); skipped");
            return Optional.empty();
        }
    }

    private void warn(String w) {
        startupWarnings.add(w);
        LOG.log(System.Logger.Level.WARNING, w);
    }

    // ---- CreateVm ----------------------------------------------------------------------------------------------

    /** {@code CreateVm}: validates everything first; on any refusal nothing stays on disk or in the pool. */
    public synchronized String create(VmRequests.VmConfiguration r) throws PrpcException {
        validateLabel(r.name());
        JsonNode compose = AppComposeCheck.check(r.composeFile());
        ImageInfo image = loadImage(r.image());
        checkResources(r.vcpu(), r.memory());
        if (r.diskSize() > 0xffffffffL) {
            throw new PrpcException("disk_size out of range");
        }
        List<Manifest.PortRule> ports = portRules(r.ports());
        checkPortConflicts(null, ports);
        String appId = r.appId().map(VmManager::normalizeAppId).orElse(appIdOf(r.composeFile()));
        if (!appId.matches("[0-9a-f]{40}")) {
            throw new PrpcException("Invalid app_id: expected 20 bytes of hex (40 hex digits, optional 0x)");
        }
        Optional<Manifest.Gpus> gpus = resolveGpus(r.gpus());
        Optional<String> simTee = r.simulatedTee();
        if (simTee.isPresent()) {
            if (!SIMULATED_TEES.contains(simTee.get())) {
                throw new PrpcException("invalid simulated_tee: " + PrpcSafe.of(simTee.get()) + " (expected one of "
                        + String.join(", ", SIMULATED_TEES) + ")");
            }
            // upstream needs [cvm.tee_simulator] credentials to run a simulated TEE under QEMU; we have none to give
            if (backend.name().equals(VmmConfig.Cvm.BACKEND_QEMU)) {
                throw new PrpcException("tee simulator credentials are not configured on this VMM");
            }
        }
        List<Manifest.Network> nets = networks(r.networks(), r.networking());
        Optional<Long> cid = cids.allocate();
        if (cid.isEmpty()) {
            throw new PrpcException("CID pool exhausted: all " + cids.size() + " CIDs from cid_start "
                    + cids.start() + " are in use (raise [cvm] cid_pool_size or move cid_start)");
        }
        String id = UUID.randomUUID().toString();
        Manifest m = new Manifest(id, r.name(), appId, r.vcpu(), r.memory(), r.diskSize(), r.image(), ports,
                clock.millis(), r.hugepages(), r.pinNuma(), gpus, r.kmsUrls(), r.gatewayUrls(),
                r.noTee() || simTee.isPresent(), simTee, nets);
        Path dir = config.runPath().resolve(id);
        Path tmp = config.runPath().resolve(".creating-" + id);
        VmEntry e = new VmEntry(m, dir, cid.get());
        e.started = !r.stopped();
        try {
            Files.createDirectories(tmp.resolve(SHARED));
            Files.write(tmp.resolve(MANIFEST), m.toBytes());
            Path sh = tmp.resolve(SHARED);
            Files.write(sh.resolve(APP_COMPOSE), r.composeFile().getBytes(StandardCharsets.UTF_8));
            if (r.encryptedEnv().length > 0) {
                Files.write(sh.resolve(ENCRYPTED_ENV), r.encryptedEnv());
            }
            if (!r.userConfig().isEmpty()) {
                Files.write(sh.resolve(USER_CONFIG), r.userConfig().getBytes(StandardCharsets.UTF_8));
            }
            Files.write(sh.resolve(INSTANCE_INFO), instanceInfo(appId, compose));
            Files.write(sh.resolve(SYS_CONFIG), sysConfig(m, image, sha256Hex(r.composeFile()
                    .getBytes(StandardCharsets.UTF_8))));
            Files.write(tmp.resolve(STATE), stateJson(e));
            Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | UncheckedIOException ex) {
            cids.free(cid.get());
            deleteTree(tmp);
            deleteTree(dir);
            throw new PrpcException("Failed to write the VM directory under run_path " + config.runPath() + ": "
                    + ex.getClass().getSimpleName());
        }
        vms.put(id, e);
        if (!r.stopped()) {
            try {
                startLocked(e);
            } catch (PrpcException ex) {
                // upstream create_vm: the work dir goes when the first start fails
                vms.remove(id);
                unbindHostApi(id);
                cids.free(e.cid);
                deleteTree(dir);
                throw ex;
            }
        }
        LOG.log(System.Logger.Level.INFO, "created VM {0} ({1}, app {2}, cid {3}{4})", id, m.name(), appId, e.cid,
                r.stopped() ? ", stopped" : "");
        return id;
    }

    /** {@code GetComposeHash}: the name label and the AppCompose checked, SHA-256 of the exact compose bytes. */
    static String composeHash(VmRequests.VmConfiguration r) throws PrpcException {
        validateLabel(r.name());
        AppComposeCheck.check(r.composeFile());
        return sha256Hex(r.composeFile().getBytes(StandardCharsets.UTF_8));
    }

    /** Upstream's {@code validate_label} (alphanumerics and {@code -_. @~!$^()}); we also refuse an empty name. */
    static void validateLabel(String label) throws PrpcException {
        boolean ok = !label.isEmpty() && label.length() <= 255;
        for (int i = 0; ok && i < label.length(); i++) {
            char c = label.charAt(i);
            ok = (c < 0x80 && Character.isLetterOrDigit(c)) || "-_. @~!$^()".indexOf(c) >= 0;
        }
        if (!ok) {
            throw new PrpcException("Invalid name: " + PrpcSafe.of(label));
        }
    }

    static String normalizeAppId(String id) {
        String s = id.startsWith("0x") ? id.substring(2) : id;
        return s.toLowerCase(Locale.ROOT);
    }

    /** {@code hex(SHA-256(compose))[0..40]} (upstream {@code app_id_of}). */
    static String appIdOf(String compose) {
        return sha256Hex(compose.getBytes(StandardCharsets.UTF_8)).substring(0, 40);
    }

    static String sha256Hex(byte[] b) {
        try {
            return HEX.formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private ImageInfo loadImage(String name) throws PrpcException {
        ImageInfo image = images.load(name);
        int[] v = Images.versionTuple(image.version()).orElse(new int[] {0, 0, 0});
        if (v[0] == 0 && v[1] < 5) {
            throw new PrpcException("Unsupported image version: (" + v[0] + ", " + v[1] + ", " + v[2] + ") of image "
                    + name + " (needs 0.5.0 or later)");
        }
        return image;
    }

    private void checkResources(long vcpu, long memory) throws PrpcException {
        if (vcpu == 0) {
            throw new PrpcException("vcpu must be greater than zero");
        }
        if (memory == 0) {
            throw new PrpcException("memory must be greater than zero");
        }
        if (vcpu > config.cvm().maxAllocableVcpu()) {
            throw new PrpcException("vcpu " + vcpu + " exceeds max_allocable_vcpu " + config.cvm().maxAllocableVcpu());
        }
        if (memory > config.cvm().maxAllocableMemoryMb()) {
            throw new PrpcException("memory " + memory + " MB exceeds max_allocable_memory_in_mb "
                    + config.cvm().maxAllocableMemoryMb());
        }
    }

    /** Upstream's {@code create_manifest_from_vm_config} port checks, plus the range check on updates too. */
    private List<Manifest.PortRule> portRules(List<VmRequests.Port> ports) throws PrpcException {
        VmmConfig.PortMappingRules pm = config.cvm().portMapping();
        if (!ports.isEmpty() && !pm.enabled()) {
            throw new PrpcException("Port mapping is disabled");
        }
        List<Manifest.PortRule> out = new ArrayList<>();
        for (VmRequests.Port p : ports) {
            if (p.hostPort() > 65535) {
                throw new PrpcException("Invalid host port: " + p.hostPort());
            }
            if (p.vmPort() > 65535) {
                throw new PrpcException("Invalid vm port: " + p.vmPort());
            }
            String proto = p.protocol();
            if (!pm.allows(proto, (int) p.hostPort()) || !(proto.equals("tcp") || proto.equals("udp"))) {
                throw new PrpcException("Port mapping is not allowed for " + PrpcSafe.of(proto) + ":" + p.hostPort());
            }
            String addr = p.hostAddress().isEmpty() ? pm.address() : p.hostAddress();
            if (!Ips.isIpLiteral(addr)) {
                throw new PrpcException("Invalid host address: " + PrpcSafe.of(addr));
            }
            out.add(new Manifest.PortRule(addr, proto, (int) p.hostPort(), (int) p.vmPort()));
        }
        for (int i = 0; i < out.size(); i++) {
            for (int j = 0; j < i; j++) {
                if (out.get(i).conflicts(out.get(j))) {
                    Manifest.PortRule r = out.get(i);
                    throw new PrpcException("duplicate host port mapping: " + r.protocol() + " " + r.address() + ":"
                            + r.from());
                }
            }
        }
        return out;
    }

    private void checkPortConflicts(String selfId, List<Manifest.PortRule> ports) throws PrpcException {
        for (VmEntry v : vms.values()) {
            if (v.manifest.id().equals(selfId)) {
                continue;
            }
            for (Manifest.PortRule p : ports) {
                for (Manifest.PortRule q : v.manifest.portMap()) {
                    if (p.conflicts(q)) {
                        throw new PrpcException("host port mapping conflicts with VM " + v.manifest.id() + ": "
                                + p.protocol() + " " + p.address() + ":" + p.from());
                    }
                }
            }
        }
    }

    private Optional<Manifest.Gpus> resolveGpus(Optional<VmRequests.GpuConfig> g) throws PrpcException {
        if (g.isEmpty()) {
            return Optional.empty();
        }
        VmRequests.GpuConfig c = g.get();
        boolean empty = !c.attachMode().equals("all") && c.slots().isEmpty();
        if (!config.cvm().gpu().enabled() && !empty) {
            throw new PrpcException("GPU is not enabled");
        }
        return switch (c.attachMode()) {
            case "listed", "" -> Optional.of(new Manifest.Gpus("listed", c.slots()));
            case "all" -> {
                if (!config.cvm().gpu().allowAttachAll()) {
                    throw new PrpcException("Attaching all GPUs is not allowed");
                }
                throw new PrpcException("GPU attach mode all is not supported by this VMM (list the slots)");
            }
            default -> throw new PrpcException("Invalid GPU attach mode: " + PrpcSafe.of(c.attachMode()));
        };
    }

    private static List<Manifest.Network> networks(List<VmRequests.Net> networks, Optional<VmRequests.Net> single)
            throws PrpcException {
        List<VmRequests.Net> in = !networks.isEmpty() ? networks : single.map(List::of).orElse(List.of());
        List<Manifest.Network> out = new ArrayList<>();
        for (VmRequests.Net n : in) {
            String bridge = n.bridgeName().trim();
            switch (n.mode()) {
                case "user" -> {
                    if (!bridge.isEmpty()) {
                        throw new PrpcException("bridge_name is only valid for bridge networking mode");
                    }
                    out.add(new Manifest.Network("user", ""));
                }
                case "bridge" -> out.add(new Manifest.Network("bridge", bridge));
                case "" -> {
                    if (!bridge.isEmpty()) {
                        throw new PrpcException("networking mode is required when bridge is set");
                    }
                    if (!networks.isEmpty()) {
                        throw new PrpcException("networking mode is required");
                    }
                }
                case "custom" -> throw new PrpcException("custom networking mode is manifest-only");
                default -> throw new PrpcException("unsupported networking mode '" + PrpcSafe.of(n.mode()) + "'");
            }
        }
        return out;
    }

    /**
     * {@code .instance_info}: {@code app_id}, and (ours) a fresh 20-byte {@code instance_id_seed} with its
     * {@code instance_id = SHA-256(seed ‖ app_id)[0..20]} (empty with {@code no_instance_id}), so the instance id
     * and the app URL are known before the guest boots. A guest's {@code instance.info} notification replaces it.
     */
    private byte[] instanceInfo(String appId, JsonNode compose) {
        byte[] seed = new byte[20];
        random.nextBytes(seed);
        byte[] app = HEX.parseHex(appId);
        boolean noInstanceId = compose.path("no_instance_id").asBoolean(false);
        String instanceId = "";
        if (!noInstanceId) {
            byte[] in = new byte[seed.length + app.length];
            System.arraycopy(seed, 0, in, 0, seed.length);
            System.arraycopy(app, 0, in, seed.length, app.length);
            instanceId = sha256Hex(in).substring(0, 40);
        }
        ObjectNode o = Manifest.NODES.objectNode();
        o.put("instance_id_seed", HEX.formatHex(seed));
        o.put("instance_id", instanceId);
        o.put("app_id", appId);
        return o.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** {@code .sys-config.json} as upstream's {@code make_sys_config} (without the TDX-lite and mr_config parts). */
    private byte[] sysConfig(Manifest m, ImageInfo image, String composeHash) {
        ObjectNode o = Manifest.NODES.objectNode();
        ArrayNode k = o.putArray("kms_urls");
        (m.kmsUrls().isEmpty() ? config.cvm().kmsUrls() : m.kmsUrls()).forEach(k::add);
        ArrayNode g = o.putArray("gateway_urls");
        (m.gatewayUrls().isEmpty() ? config.cvm().gatewayUrls() : m.gatewayUrls()).forEach(g::add);
        o.put("pccs_url", config.cvm().pccsUrl());
        o.putObject("collateral_urls").put("pccs", config.cvm().pccsUrl());
        o.putNull("nvidia_attestation_proxy_url");
        o.put("docker_registry", config.cvm().dockerRegistry());
        o.put("host_api_url", "vsock://2:" + config.hostApi().port() + "/api");
        o.put("vm_config", vmConfig(m, image).toString());
        return o.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** The {@code vm_config} string ({@code dstack-types} {@code VmConfig}, legacy TDX variant). */
    private ObjectNode vmConfig(Manifest m, ImageInfo image) {
        ObjectNode v = Manifest.NODES.objectNode();
        v.put("os_image_hash", image.digest().filter(d -> d.matches("(0x)?[0-9a-fA-F]*") && d.length() % 2 == 0)
                .map(d -> d.startsWith("0x") ? d.substring(2) : d).map(d -> d.toLowerCase(Locale.ROOT)).orElse(""));
        v.put("cpu_count", Math.max(1, m.vcpu()));
        v.put("memory_size", m.memory() * 1024 * 1024);
        config.cvm().qemuSinglePassAddPages().ifPresent(b -> v.put("qemu_single_pass_add_pages", b));
        config.cvm().qemuPic().ifPresent(b -> v.put("pic", b));
        config.cvm().qemuVersion().ifPresent(s -> v.put("qemu_version", s));
        v.put("pci_hole64_size", config.cvm().qemuPciHole64Size());
        v.put("hugepages", m.hugepages());
        v.put("num_gpus", config.cvm().gpu().enabled() ? m.gpus().map(x -> x.slots().size()).orElse(0) : 0);
        v.put("num_nvswitches", 0);
        if (m.networks().size() > 1) {
            v.put("num_nics", m.networks().size());
        }
        v.put("hotplug_off", config.cvm().qemuHotplugOff());
        v.put("image", m.image());
        v.put("host_share_mode", config.cvm().hostShareMode());
        v.put("spec_version", 1);
        return v;
    }

    // ---- lifecycle ---------------------------------------------------------------------------------------------

    public synchronized void start(String id) throws PrpcException {
        VmEntry e = get(id, "Failed to start VM");
        startLocked(e);
    }

    private void startLocked(VmEntry e) throws PrpcException {
        if (e.alive()) {
            return;
        }
        ImageInfo image;
        try {
            image = loadImage(e.manifest.image());
            Files.write(e.shared().resolve(SYS_CONFIG), sysConfig(e.manifest, image,
                    sha256Hex(Files.readAllBytes(e.shared().resolve(APP_COMPOSE)))));
        } catch (IOException ex) {
            throw new PrpcException("Failed to start VM: cannot refresh the host share of " + e.manifest.id() + ": "
                    + ex.getClass().getSimpleName());
        }
        VmLaunch launch = launch(e, image);
        bindHostApi(e);
        CvmProcess p;
        try {
            p = backend.start(launch);
        } catch (RaException ex) {
            unbindHostApi(e.manifest.id());
            throw new PrpcException("Failed to start VM: " + ex.getMessage());
        } catch (RuntimeException ex) {
            unbindHostApi(e.manifest.id());
            LOG.log(System.Logger.Level.WARNING, "backend " + backend.name() + " failed to start VM "
                    + e.manifest.id(), ex);
            throw new PrpcException("Failed to start VM: the " + backend.name() + " backend failed");
        }
        e.process = p;
        e.startedAt = clock.instant();
        e.exitedAt = null;
        e.bootProgress = "";
        e.bootError = "";
        e.shutdownProgress = "";
        e.started = true;
        writeState(e);
        watchExit(e, p);
    }

    private void watchExit(VmEntry e, CvmProcess p) {
        p.onExit().whenComplete((code, ex) -> {
            synchronized (VmManager.this) {
                if (e.process == p) {
                    e.exitedAt = clock.instant();
                }
            }
        });
    }

    public synchronized void stop(String id) throws PrpcException {
        VmEntry e = get(id, "Failed to stop VM");
        e.started = false;
        writeState(e);
        if (e.alive()) {
            e.process.kill();
        }
    }

    /** {@code ShutdownVm}: a graceful power-off request (upstream asks the guest agent; we ask the backend). */
    public synchronized void shutdown(String id) throws PrpcException {
        VmEntry e = get(id, "Failed to shutdown VM");
        if (!e.alive()) {
            throw new PrpcException("VM is not running");
        }
        e.started = false;
        writeState(e);
        e.process.shutdown();
    }

    /** {@code RemoveVm}: refused while the VM runs (dstack before 67f42ced: "VM is running, stop it first"). */
    public synchronized void remove(String id) throws PrpcException {
        VmEntry e = get(id, "Failed to remove VM");
        if (e.alive()) {
            throw new PrpcException("Failed to remove VM: VM is running, stop it first");
        }
        vms.remove(id);
        unbindHostApi(id);
        cids.free(e.cid);
        deleteTree(e.dir);
        LOG.log(System.Logger.Level.INFO, "removed VM {0} ({1})", id, e.manifest.name());
    }

    // ---- UpdateVm / ResizeVm -----------------------------------------------------------------------------------

    /** {@code UpdateVm}/{@code UpgradeApp}: all checks first, then the writes. Returns upstream's {@code Id}. */
    public synchronized String update(VmRequests.UpdateVm r) throws PrpcException {
        VmEntry e = get(r.id(), "Failed to update VM");
        String newId = "";
        if (!r.composeFile().isEmpty()) {
            AppComposeCheck.check(r.composeFile());
            newId = appIdOf(r.composeFile());
        }
        Manifest m = resourceUpdates(e, r.vcpu(), r.memory(), r.diskSize(), r.image());
        Optional<Manifest.Gpus> gpus = r.gpus().isPresent() ? resolveGpus(r.gpus()) : m.gpus();
        boolean noTee = r.noTee().orElse(m.noTee());
        List<Manifest.Network> nets = r.updateNetworking() ? networks(r.networks(), Optional.empty()) : m.networks();
        m = m.withGpusNoTeeNetworks(gpus, noTee, nets);
        if (r.updatePorts()) {
            List<Manifest.PortRule> ports = portRules(r.ports());
            checkPortConflicts(r.id(), ports);
            m = m.withPorts(ports);
        }
        m = m.withUrls(r.updateKmsUrls() ? r.kmsUrls() : m.kmsUrls(),
                r.updateGatewayUrls() ? r.gatewayUrls() : m.gatewayUrls());
        try {
            Path sh = e.shared();
            if (!r.composeFile().isEmpty()) {
                Files.write(sh.resolve(APP_COMPOSE), r.composeFile().getBytes(StandardCharsets.UTF_8));
            }
            if (r.encryptedEnv().length > 0) {
                Files.write(sh.resolve(ENCRYPTED_ENV), r.encryptedEnv());
            }
            if (!r.userConfig().isEmpty()) {
                Files.write(sh.resolve(USER_CONFIG), r.userConfig().getBytes(StandardCharsets.UTF_8));
            }
            writeManifest(e, m);
        } catch (IOException ex) {
            throw new PrpcException("Failed to update VM: " + ex.getClass().getSimpleName());
        }
        return newId;
    }

    public synchronized void resize(VmRequests.Resize r) throws PrpcException {
        if (r.vcpu().isEmpty() && r.memory().isEmpty() && r.diskSize().isEmpty() && r.image().isEmpty()) {
            throw new PrpcException("resize request contains no updates");
        }
        if (r.vcpu().isPresent() && r.vcpu().getAsLong() == 0) {
            throw new PrpcException("vcpu must be greater than zero");
        }
        if (r.memory().isPresent() && r.memory().getAsLong() == 0) {
            throw new PrpcException("memory must be greater than zero");
        }
        if (r.diskSize().isPresent() && r.diskSize().getAsLong() == 0) {
            throw new PrpcException("disk_size must be greater than zero");
        }
        if (r.image().isPresent() && r.image().get().isEmpty()) {
            throw new PrpcException("image must not be empty");
        }
        VmEntry e = get(r.id(), "Failed to resize VM");
        Manifest m = resourceUpdates(e, r.vcpu(), r.memory(), r.diskSize(), r.image());
        try {
            writeManifest(e, m);
        } catch (IOException ex) {
            throw new PrpcException("failed to update manifest: " + ex.getClass().getSimpleName());
        }
    }

    private Manifest resourceUpdates(VmEntry e, java.util.OptionalLong vcpu, java.util.OptionalLong memory,
            java.util.OptionalLong disk, Optional<String> image) throws PrpcException {
        Manifest m = e.manifest;
        if (vcpu.isEmpty() && memory.isEmpty() && disk.isEmpty() && image.isEmpty()) {
            return m;
        }
        if (e.alive()) {
            throw new PrpcException("vm should be stopped before resize: " + m.id());
        }
        long v = vcpu.orElse(m.vcpu());
        long mem = memory.orElse(m.memory());
        checkResources(v, mem);
        String img = image.orElse(m.image());
        if (image.isPresent()) {
            loadImage(img);
        }
        long d = m.diskSize();
        if (disk.isPresent()) {
            if (disk.getAsLong() < m.diskSize()) {
                throw new PrpcException("Cannot shrink disk size");
            }
            d = disk.getAsLong();
        }
        return m.with(v, mem, d, img);
    }

    private void writeManifest(VmEntry e, Manifest m) throws IOException {
        Path tmp = e.dir.resolve(MANIFEST + ".tmp");
        Files.write(tmp, m.toBytes());
        Files.move(tmp, e.dir.resolve(MANIFEST), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        e.manifest = m;
    }

    // ---- ReloadVms -----------------------------------------------------------------------------------------------

    /** {@code ReloadVms}: new directories loaded, changed manifests updated, vanished ones dropped. */
    public synchronized ObjectNode reload() {
        int loaded = 0;
        int updated = 0;
        int removed = 0;
        List<Path> dirs = vmDirs();
        List<String> seen = new ArrayList<>();
        for (Path d : dirs) {
            Optional<VmEntry> read = readEntry(d);
            if (read.isEmpty()) {
                continue;
            }
            VmEntry n = read.get();
            String id = n.manifest.id();
            seen.add(id);
            VmEntry cur = vms.get(id);
            if (cur == null) {
                if (n.cid < 0 || cids.occupy(n.cid) != null) {
                    Optional<Long> c = cids.allocate();
                    if (c.isEmpty()) {
                        warn("ReloadVms: VM " + id + " not loaded: CID pool exhausted (cid_start " + cids.start()
                                + ", cid_pool_size " + cids.size() + ")");
                        continue;
                    }
                    n.cid = c.get();
                    writeState(n);
                }
                vms.put(id, n);
                Optional<ImageInfo> img = imageOf(n);
                if (img.isPresent()) {
                    backend.adopt(launch(n, img.get())).ifPresent(p -> {
                        n.process = p;
                        n.startedAt = clock.instant();
                        watchExit(n, p);
                    });
                }
                loaded++;
            } else if (!cur.manifest.equals(n.manifest)) {
                cur.manifest = n.manifest;
                updated++;
            }
        }
        for (String id : new ArrayList<>(vms.keySet())) {
            if (!seen.contains(id)) {
                VmEntry e = vms.remove(id);
                cids.free(e.cid);
                unbindHostApi(id);
                removed++;
            }
        }
        ObjectNode o = Manifest.NODES.objectNode();
        o.put("loaded", loaded);
        o.put("updated", updated);
        o.put("removed", removed);
        return o;
    }

    // ---- Status / GetInfo ----------------------------------------------------------------------------------------

    public synchronized ObjectNode status(VmRequests.Status r) {
        List<VmEntry> list = new ArrayList<>();
        for (VmEntry e : vms.values()) {
            Manifest m = e.manifest;
            if (!r.ids().isEmpty() && !r.ids().contains(m.id())) {
                continue;
            }
            String k = r.keyword();
            if (!k.isEmpty() && !(m.name().contains(k) || m.id().contains(k) || m.appId().contains(k)
                    || m.image().contains(k))) {
                continue;
            }
            list.add(e);
        }
        list.sort(Comparator.comparingLong(e -> e.manifest.createdAtMs()));
        ObjectNode o = Manifest.NODES.objectNode();
        ArrayNode arr = o.putArray("vms");
        Stream<VmEntry> s = list.stream();
        if (r.page() != 0 && r.pageSize() != 0) {
            s = s.skip((r.page() - 1) * r.pageSize()).limit(r.pageSize());
        }
        s.forEach(e -> arr.add(info(e, r.brief())));
        o.put("port_mapping_enabled", config.cvm().portMapping().enabled());
        o.put("total", list.size());
        return o;
    }

    public synchronized ObjectNode getInfo(String id) {
        ObjectNode o = Manifest.NODES.objectNode();
        VmEntry e = vms.get(id);
        o.put("found", e != null);
        if (e != null) {
            o.set("info", info(e, false));
        } else {
            o.putNull("info");
        }
        return o;
    }

    /** The number of VMs, their ids in creation order. */
    public synchronized List<String> ids() {
        return vms.values().stream().sorted(Comparator.comparingLong(e -> e.manifest.createdAtMs()))
                .map(e -> e.manifest.id()).toList();
    }

    /** The directory of a VM, if it exists. */
    public synchronized Optional<Path> dirOf(String id) {
        VmEntry e = vms.get(id);
        return e == null ? Optional.empty() : Optional.of(e.dir);
    }

    /** The CID of a VM, if it exists. */
    public synchronized Optional<Long> cidOf(String id) {
        VmEntry e = vms.get(id);
        return e == null ? Optional.empty() : Optional.of(e.cid);
    }

    /** Whether the VM exists and its process is alive. */
    public synchronized boolean isRunning(String id) {
        VmEntry e = vms.get(id);
        return e != null && e.alive();
    }

    /** {@code VmInfo} with the proto's field names ({@code app/vm_info.rs} {@code to_pb}). */
    private ObjectNode info(VmEntry e, boolean brief) {
        Manifest m = e.manifest;
        boolean running = e.alive();
        String status = e.started ? (running ? "running" : "exited") : (running ? "stopping" : "stopped");
        JsonNode ii = readJson(e.shared().resolve(INSTANCE_INFO));
        String instanceId = ii == null ? "" : ii.path("instance_id").asText("").trim();
        JsonNode compose = readJson(e.shared().resolve(APP_COMPOSE));
        boolean gatewayEnabled = compose != null && AppComposeCheck.gatewayEnabled(compose);
        Instant now = clock.instant();
        ObjectNode o = Manifest.NODES.objectNode();
        o.put("id", m.id());
        o.put("name", m.name());
        o.put("status", status);
        o.put("uptime", running && e.startedAt != null ? humanDuration(Duration.between(e.startedAt, now)) : "never");
        if (gatewayEnabled && !instanceId.isEmpty()) {
            o.put("app_url", appUrl(instanceId, m.gatewayUrls()));
        } else {
            o.putNull("app_url");
        }
        o.put("app_id", m.appId());
        if (instanceId.isEmpty()) {
            o.putNull("instance_id");
        } else {
            o.put("instance_id", instanceId);
        }
        if (brief) {
            o.putNull("configuration");
        } else {
            o.set("configuration", configuration(e));
        }
        o.put("exited_at", !running && e.exitedAt != null ? humanDuration(Duration.between(e.exitedAt, now))
                : "never");
        o.put("boot_progress", e.bootProgress);
        o.put("boot_error", e.bootError);
        o.put("shutdown_progress", e.shutdownProgress);
        o.put("image_version", imageOf(e).map(ImageInfo::version).orElse(""));
        ArrayNode ev = o.putArray("events");
        e.events.forEach(ev::add);
        ArrayNode ifs = o.putArray("interfaces");
        List<Manifest.Network> nets = m.networks().isEmpty()
                ? List.of(new Manifest.Network(config.cvm().networking().mode(), config.cvm().networking().bridge()))
                : m.networks();
        for (int i = 0; i < nets.size(); i++) {
            Manifest.Network n = nets.get(i);
            ObjectNode x = ifs.addObject();
            x.put("mode", n.mode());
            x.put("backend", switch (n.mode()) {
                case "bridge" -> "tap_bridge";
                case "user" -> "slirp";
                default -> "custom";
            });
            x.put("mac", mac(m.id(), i));
            if (n.mode().equals("bridge")) {
                x.put("bridge_name", n.bridge());
            } else {
                x.putNull("bridge_name");
            }
            x.put("netdev_id", "net" + i);
        }
        return o;
    }

    private ObjectNode configuration(VmEntry e) {
        Manifest m = e.manifest;
        ObjectNode c = Manifest.NODES.objectNode();
        c.put("name", m.name());
        c.put("image", m.image());
        c.put("compose_file", readText(e.shared().resolve(APP_COMPOSE)));
        c.put("vcpu", m.vcpu());
        c.put("memory", m.memory());
        c.put("disk_size", m.diskSize());
        ArrayNode p = c.putArray("ports");
        for (Manifest.PortRule r : m.portMap()) {
            p.addObject().put("protocol", r.protocol()).put("host_port", r.from()).put("vm_port", r.to())
                    .put("host_address", r.address());
        }
        byte[] env = readBytes(e.shared().resolve(ENCRYPTED_ENV));
        c.put("encrypted_env", PrpcJson.hex(env));
        c.put("app_id", m.appId());
        c.put("user_config", readText(e.shared().resolve(USER_CONFIG)));
        c.put("hugepages", m.hugepages());
        c.put("pin_numa", m.pinNuma());
        if (m.gpus().isPresent()) {
            ObjectNode g = c.putObject("gpus");
            ArrayNode gs = g.putArray("gpus");
            m.gpus().get().slots().forEach(s -> gs.addObject().put("slot", s));
            g.put("attach_mode", m.gpus().get().attachMode());
        } else {
            c.putNull("gpus");
        }
        ArrayNode k = c.putArray("kms_urls");
        m.kmsUrls().forEach(k::add);
        ArrayNode gw = c.putArray("gateway_urls");
        m.gatewayUrls().forEach(gw::add);
        c.put("stopped", !e.started);
        c.put("no_tee", m.noTee());
        ArrayNode nets = Manifest.NODES.arrayNode();
        m.networks().forEach(n -> nets.addObject().put("mode", n.mode())
                .put("bridge_name", n.mode().equals("bridge") ? n.bridge() : ""));
        if (nets.isEmpty()) {
            c.putNull("networking");
        } else {
            c.set("networking", nets.get(0).deepCopy());
        }
        c.set("networks", nets);
        if (m.simulatedTee().isPresent()) {
            c.put("simulated_tee", m.simulatedTee().get());
        } else {
            c.putNull("simulated_tee");
        }
        return c;
    }

    /** Upstream's {@code app_url}: the first custom gateway URL's host and port, else {@code [gateway]}. */
    private String appUrl(String instanceId, List<String> customGatewayUrls) {
        VmmConfig.Gateway g = config.gateway();
        if (!customGatewayUrls.isEmpty()) {
            try {
                java.net.URI u = java.net.URI.create(customGatewayUrls.get(0));
                String host = u.getHost() == null ? g.baseDomain() : u.getHost();
                int port = u.getPort() < 0 ? 443 : u.getPort();
                return "https://" + instanceId + "-" + g.agentPort() + "." + host + (port == 443 ? "" : ":" + port);
            } catch (IllegalArgumentException ignored) {
                // fall through to [gateway]
            }
        }
        return "https://" + instanceId + "-" + g.agentPort() + "." + g.baseDomain()
                + (g.port() == 443 ? "" : ":" + g.port());
    }

    /** A stable locally administered MAC per VM and interface index. */
    private static String mac(String id, int index) {
        byte[] h = HEX.parseHex(sha256Hex((id + "/" + index).getBytes(StandardCharsets.UTF_8)).substring(0, 10));
        return String.format("02:%02x:%02x:%02x:%02x:%02x", h[0], h[1], h[2], h[3], h[4]);
    }

    /** humantime's {@code format_duration} for whole seconds: {@code 1day 2h 3m 4s}, {@code 0s}. */
    static String humanDuration(Duration d) {
        long s = Math.max(0, d.getSeconds());
        if (s == 0) {
            return "0s";
        }
        long days = s / 86400;
        long h = (s % 86400) / 3600;
        long m = (s % 3600) / 60;
        long sec = s % 60;
        StringBuilder b = new StringBuilder();
        if (days > 0) {
            b.append(days).append(days == 1 ? "day" : "days");
        }
        if (h > 0) {
            b.append(b.isEmpty() ? "" : " ").append(h).append('h');
        }
        if (m > 0) {
            b.append(b.isEmpty() ? "" : " ").append(m).append('m');
        }
        if (sec > 0) {
            b.append(b.isEmpty() ? "" : " ").append(sec).append('s');
        }
        return b.toString();
    }

    // ---- host API events -----------------------------------------------------------------------------------

    /** {@code HostApi.Notify} ({@code vm_event_report}): events, boot progress/error, shutdown, instance info. */
    @Override
    public void notify(String vmId, String event, String payload) {
        synchronized (this) {
            VmEntry e = vms.get(vmId);
            if (e == null) {
                return;
            }
            if (payload.length() > MAX_EVENT_BODY) {
                LOG.log(System.Logger.Level.WARNING, "VM {0}: event {1} body larger than {2} bytes, skipped",
                        vmId, PrpcSafe.of(event), MAX_EVENT_BODY);
                return;
            }
            ObjectNode ev = Manifest.NODES.objectNode();
            ev.put("event", event);
            ev.put("body", payload);
            ev.put("timestamp", clock.millis());
            e.events.addLast(ev);
            while (e.events.size() > config.eventBufferSize()) {
                e.events.removeFirst();
            }
            switch (event) {
                case "boot.progress" -> e.bootProgress = payload;
                case "boot.error" -> e.bootError = payload;
                case "shutdown.progress" -> {
                    if (payload.equals("powering off")) {
                        e.started = false;
                        writeState(e);
                    }
                    e.shutdownProgress = payload;
                }
                case "instance.info" -> {
                    JsonNode n;
                    try {
                        n = Manifest.MAPPER.readTree(payload);
                    } catch (IOException ex) {
                        n = null;
                    }
                    if (n != null && n.isObject()) {
                        try {
                            Files.write(e.shared().resolve(INSTANCE_INFO), payload.getBytes(StandardCharsets.UTF_8));
                        } catch (IOException ex) {
                            LOG.log(System.Logger.Level.WARNING, "VM {0}: cannot write .instance_info", vmId);
                        }
                    }
                }
                default -> LOG.log(System.Logger.Level.WARNING, "VM {0} reported unknown event: {1}", vmId,
                        PrpcSafe.of(event));
            }
        }
    }

    // ---- helpers -----------------------------------------------------------------------------------------------

    private VmEntry get(String id, String context) throws PrpcException {
        VmEntry e = vms.get(id);
        if (e == null) {
            throw new PrpcException(context + ": VM not found");
        }
        return e;
    }

    private Optional<ImageInfo> imageOf(VmEntry e) {
        try {
            return Optional.of(images.load(e.manifest.image()));
        } catch (PrpcException ex) {
            return Optional.empty();
        }
    }

    VmLaunch launch(VmEntry e, ImageInfo image) {
        Manifest m = e.manifest;
        List<PortMapping> ports = new ArrayList<>();
        for (Manifest.PortRule r : m.portMap()) {
            ports.add(new PortMapping(r.protocol(), r.address(), r.from(), r.to()));
        }
        String composeHash = "";
        try {
            composeHash = sha256Hex(Files.readAllBytes(e.shared().resolve(APP_COMPOSE)));
        } catch (IOException ignored) {
            // the backend reads the share itself
        }
        return VmLaunch.builder().id(m.id()).name(m.name()).appId(m.appId()).composeHash(composeHash).workDir(e.dir)
                .sharedDir(e.shared()).cid(e.cid).vcpu((int) Math.max(1, m.vcpu())).memoryMb(Math.max(1, m.memory()))
                .diskGb(m.diskSize()).image(image).ports(ports).hugepages(m.hugepages()).pinNuma(m.pinNuma())
                .gpus(m.gpus().map(Manifest.Gpus::slots).orElse(List.of())).noTee(m.noTee())
                .simulatedTee(m.simulatedTee()).config(config).build();
    }

    private void bindHostApi(VmEntry e) {
        if (hostApi == null) {
            return;
        }
        try {
            hostApi.bind(e.manifest.id(), e.dir.resolve("host-api.sock"));
        } catch (RaException | RuntimeException ex) {
            LOG.log(System.Logger.Level.WARNING, "VM {0}: host API socket not bound: {1}", e.manifest.id(),
                    ex.getMessage());
        }
    }

    private void unbindHostApi(String id) {
        if (hostApi == null) {
            return;
        }
        try {
            hostApi.unbind(id);
        } catch (RuntimeException ex) {
            LOG.log(System.Logger.Level.DEBUG, "host API unbind failed for {0}", id);
        }
    }

    private static byte[] stateJson(VmEntry e) {
        ObjectNode s = Manifest.NODES.objectNode();
        s.put("started", e.started);
        s.put("cid", e.cid);
        return s.toString().getBytes(StandardCharsets.UTF_8);
    }

    private void writeState(VmEntry e) {
        try {
            Path tmp = e.dir.resolve(STATE + ".tmp");
            Files.write(tmp, stateJson(e));
            Files.move(tmp, e.dir.resolve(STATE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException ex) {
            LOG.log(System.Logger.Level.WARNING, "VM {0}: cannot write {1}: {2}", e.manifest.id(), STATE,
                    ex.getClass().getSimpleName());
        }
    }

    private static JsonNode readJson(Path p) {
        try {
            return Files.isRegularFile(p) && Files.size(p) <= AppComposeCheck.MAX_BYTES
                    ? Manifest.MAPPER.readTree(Files.readAllBytes(p)) : null;
        } catch (IOException e) {
            return null;
        }
    }

    private static String readText(Path p) {
        return new String(readBytes(p), StandardCharsets.UTF_8);
    }

    private static byte[] readBytes(Path p) {
        try {
            return Files.isRegularFile(p) ? Files.readAllBytes(p) : new byte[0];
        } catch (IOException e) {
            return new byte[0];
        }
    }

    static void deleteTree(Path p) {
        if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path x : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(x);
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot delete {0}: {1}", p, e.getClass().getSimpleName());
        }
    }
}
