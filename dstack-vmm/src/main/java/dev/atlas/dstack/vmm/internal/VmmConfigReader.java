package dev.atlas.dstack.vmm.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.config.ConfigTree;
import dev.atlas.dstack.vmm.VmmConfig;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Reads {@code vmm.toml}: the defaults are the values of dstack's shipped {@code dstack/vmm/vmm.toml} (and
 * {@code src/config.rs} for keys the file leaves out); keys we do not know are named in the warnings; the
 * deprecated top-level {@code image_path} moves to {@code [image] path} with a warning (as {@code config.rs}).
 */
public final class VmmConfigReader {
    /** Rocket and dstack keys that are read and accepted but have no effect here (documented). */
    private static final List<String> ACCEPTED = List.of(
            "workers", "max_blocking", "ident", "temp_dir", "keep_alive", "log_level", "limits", "port", "tls",
            "cli_colors", "shutdown", "ip_header", "secret_key",
            "supervisor", "netd", "cvm.product", "cvm.network_filter", "cvm.tee_simulator",
            "cvm.nvidia_attestation_proxy_url", "cvm.volumes_dir", "image.registry");

    private static final TomlMapper MAPPER = new TomlMapper();

    private VmmConfigReader() {}

    public static VmmConfig load(Path file) throws RaException {
        byte[] bytes = ConfigTree.readFile(file);
        Path base = file.toAbsolutePath().getParent();
        return read(tree(bytes, file.toString()), base == null ? Path.of("").toAbsolutePath() : base);
    }

    public static VmmConfig parse(String toml, Path baseDir, String source) throws RaException {
        return read(tree(toml.getBytes(StandardCharsets.UTF_8), source), baseDir.toAbsolutePath());
    }

    static VmmConfig parseBytes(byte[] toml, Path baseDir) throws RaException {
        return read(tree(toml, "vmm.toml"), baseDir.toAbsolutePath());
    }

    /** Parses {@code vmm.toml} (strict UTF-8, at most {@link ConfigTree#MAX_BYTES}) into the shared reader's tree. */
    private static ConfigTree.Table tree(byte[] bytes, String source) throws RaException {
        String text = ConfigTree.text(bytes, source);
        ObjectNode root = text.isBlank() ? ConfigTree.requireTable(null, source)
                : ConfigTree.parseToml(text, MAPPER, source);
        return ConfigTree.of(root, source).root();
    }

    private static VmmConfig read(ConfigTree.Table t, Path base) throws RaException {
        List<String> warnings = new ArrayList<>();
        for (String k : ACCEPTED) {
            t.accept(k);
        }
        String address = t.string("address", "unix:./vmm.sock");
        ListenAddress.parse(address, base); // validated here, resolved again by the server
        boolean reuse = t.bool("reuse", true);
        String kmsUrl = t.string("kms_url", "http://127.0.0.1:8081");
        String nodeName = t.string("node_name", "");
        int eventBuffer = (int) t.integer("event_buffer_size", 20, 1, 100_000);
        Path home = Path.of(System.getProperty("user.home", "/root"), ".dstack-vmm");
        String runPathText = t.string("run_path", "");
        Path runPath = runPathText.isEmpty() ? home.resolve("vm") : base.resolve(runPathText).normalize();

        String imagePathOld = t.string("image_path", "");
        String imagePathNew = t.string("image.path", "");
        String imagePath = imagePathNew;
        if (!imagePathOld.isEmpty()) {
            if (imagePathNew.isEmpty()) {
                warnings.add("image_path: deprecated, use [image] path instead (migrated to [image] path)");
                imagePath = imagePathOld;
            } else {
                warnings.add("image_path: both image_path and [image] path are set, using [image] path");
            }
        }
        VmmConfig.Image image = new VmmConfig.Image(
                imagePath.isEmpty() ? home.resolve("image") : base.resolve(imagePath).normalize(),
                t.string("image.registry", ""));

        VmmConfig.Cvm cvm = readCvm(t, base, warnings);

        VmmConfig.Gateway gateway = new VmmConfig.Gateway(t.string("gateway.base_domain", "localhost"),
                (int) t.integer("gateway.port", 8082, 0, 65535), (int) t.integer("gateway.agent_port", 8090, 0, 65535));

        String htpasswd = t.string("auth.htpasswd_file", "");
        VmmConfig.Auth auth = new VmmConfig.Auth(t.bool("auth.enabled", false), t.strings("auth.tokens", List.of()),
                htpasswd.isEmpty() ? Optional.empty() : Optional.of(base.resolve(htpasswd).normalize()));

        VmmConfig.HostApi hostApi = new VmmConfig.HostApi(t.string("host_api.ident", "dstack VMM"),
                t.string("host_api.address", "vsock:2"), (int) t.integer("host_api.port", 10000, 0, 0xffffffffL));
        VmmConfig.KeyProvider keyProvider = new VmmConfig.KeyProvider(t.bool("key_provider.enabled", true),
                t.string("key_provider.address", "127.0.0.1"), (int) t.integer("key_provider.port", 3443, 0, 65535));
        if (!Ips.isIpLiteral(keyProvider.address())) {
            throw t.invalid("key_provider.address", "must be an IP address");
        }

        for (String k : t.unknownKeys()) {
            warnings.add(k + ": unknown key (ignored)");
        }
        return new VmmConfig(address, reuse, runPath, kmsUrl, nodeName, eventBuffer, image, cvm, gateway, auth,
                hostApi, keyProvider, base, warnings);
    }

    private static VmmConfig.Cvm readCvm(ConfigTree.Table t, Path base, List<String> warnings) throws RaException {
        String platform = t.string("cvm.platform", "auto");
        if (!List.of("auto", "tdx", "amd-sev-snp").contains(platform)) {
            throw t.invalid("cvm.platform", "must be \"auto\", \"tdx\" or \"amd-sev-snp\"");
        }
        long cidStart = t.integer("cvm.cid_start", 1000, 0, 0xffffffffL);
        long cidPoolSize = t.integer("cvm.cid_pool_size", 1000, 0, 0xffffffffL);
        if (cidStart + cidPoolSize > 0x1_0000_0000L) {
            throw t.invalid("cvm.cid_pool_size", "cid_start + cid_pool_size exceeds the u32 CID space");
        }
        boolean pmEnabled = t.bool("cvm.port_mapping.enabled", false);
        String pmAddress = t.string("cvm.port_mapping.address", "127.0.0.1");
        if (!Ips.isIpLiteral(pmAddress)) {
            throw t.invalid("cvm.port_mapping.address", "must be an IP address");
        }
        List<VmmConfig.PortRange> ranges = new ArrayList<>();
        JsonNode range = t.get("cvm.port_mapping.range");
        if (range == null) {
            ranges.add(new VmmConfig.PortRange("tcp", 1, 20000));
        } else {
            if (!range.isArray()) {
                throw t.invalid("cvm.port_mapping.range", "expected an array of tables, got " + ConfigTree.kind(range));
            }
            for (int i = 0; i < range.size(); i++) {
                String k = "cvm.port_mapping.range[" + i + "]";
                JsonNode r = range.get(i);
                if (!r.isObject()) {
                    throw t.invalid(k, "expected a table {protocol, from, to}, got " + ConfigTree.kind(r));
                }
                JsonNode p = r.get("protocol");
                if (p == null || !p.isTextual()
                        || !(p.textValue().equals("tcp") || p.textValue().equals("udp"))) {
                    throw t.invalid(k + ".protocol", "must be \"tcp\" or \"udp\"");
                }
                if (r.get("from") == null || r.get("to") == null) {
                    throw t.invalid(k, "needs from and to");
                }
                int from = (int) t.integerValue(k + ".from", r.get("from"), 0, 65535);
                int to = (int) t.integerValue(k + ".to", r.get("to"), 0, 65535);
                var it = r.fieldNames();
                while (it.hasNext()) {
                    String f = it.next();
                    if (!List.of("protocol", "from", "to").contains(f)) {
                        warnings.add(k + "." + f + ": unknown key (ignored)");
                    }
                }
                ranges.add(new VmmConfig.PortRange(p.textValue(), from, to));
            }
        }
        VmmConfig.PortMappingRules portMapping = new VmmConfig.PortMappingRules(pmEnabled, pmAddress, ranges);

        VmmConfig.Gpu gpu = new VmmConfig.Gpu(t.bool("cvm.gpu.enabled", false),
                t.strings("cvm.gpu.listing", List.of("10de:2335")), t.strings("cvm.gpu.exclude", List.of()),
                t.strings("cvm.gpu.include", List.of()), t.bool("cvm.gpu.allow_attach_all", true));

        boolean arEnabled = t.bool("cvm.auto_restart.enabled", true);
        long interval = t.integer("cvm.auto_restart.interval", 20, 0, Integer.MAX_VALUE);
        long maxRetries = t.integer("cvm.auto_restart.max_retries", 5, 0, Integer.MAX_VALUE);
        long initialBackoff = t.integer("cvm.auto_restart.initial_backoff", 5, 0, Integer.MAX_VALUE);
        long maxBackoff = t.integer("cvm.auto_restart.max_backoff", 300, 0, Integer.MAX_VALUE);
        long resetWindow = t.integer("cvm.auto_restart.reset_window", 300, 0, Integer.MAX_VALUE);
        if (arEnabled) { // config.rs AutoRestartConfig::validate
            if (interval == 0) {
                throw t.invalid("cvm.auto_restart.interval", "must be greater than zero when enabled");
            }
            if (initialBackoff == 0) {
                throw t.invalid("cvm.auto_restart.initial_backoff", "must be greater than zero when enabled");
            }
            if (initialBackoff > maxBackoff) {
                throw t.invalid("cvm.auto_restart.initial_backoff", "must not exceed max_backoff");
            }
        }
        VmmConfig.AutoRestart autoRestart = new VmmConfig.AutoRestart(arEnabled, Duration.ofSeconds(interval),
                (int) maxRetries, Duration.ofSeconds(initialBackoff), Duration.ofSeconds(maxBackoff),
                Duration.ofSeconds(resetWindow));

        VmmConfig.Log log = new VmmConfig.Log(t.size("cvm.log.max_bytes", 4L << 20),
                (int) t.integer("cvm.log.max_backups", 3, 0, 10_000),
                Duration.ofSeconds(t.integer("cvm.log.check_interval_secs", 5, 0, Integer.MAX_VALUE)));

        String mode = t.string("cvm.networking.mode", "user");
        if (!List.of("user", "bridge", "custom").contains(mode)) {
            throw t.invalid("cvm.networking.mode", "must be \"user\", \"bridge\" or \"custom\"");
        }
        VmmConfig.Networking networking = new VmmConfig.Networking(mode, t.string("cvm.networking.net", "10.0.2.0/24"),
                t.string("cvm.networking.dhcp_start", "10.0.2.10"), t.bool("cvm.networking.restrict", false),
                t.string("cvm.networking.bridge", ""), t.string("cvm.networking.mac_prefix", ""),
                t.string("cvm.networking.netdev", ""));

        String variant = t.string("cvm.tdx_attestation_variant", "auto");
        if (!List.of("auto", "legacy", "lite").contains(variant)) {
            throw t.invalid("cvm.tdx_attestation_variant", "must be \"auto\", \"legacy\" or \"lite\"");
        }
        String hostShareMode = t.string("cvm.host_share_mode", "9p");
        JsonNode qgs = t.get("cvm.qgs_port");
        OptionalInt qgsPort = qgs == null ? OptionalInt.empty()
                : OptionalInt.of((int) t.integerValue("cvm.qgs_port", qgs, 0, 0xffffffffL));

        String backend = t.string("cvm.backend", VmmConfig.Cvm.BACKEND_QEMU).toLowerCase(Locale.ROOT);
        if (!backend.equals(VmmConfig.Cvm.BACKEND_QEMU) && !backend.equals(VmmConfig.Cvm.BACKEND_SIMULATOR)) {
            throw t.invalid("cvm.backend", "must be \"qemu\" or \"simulator\"");
        }
        VmmConfig.Simulator simulator = new VmmConfig.Simulator(t.strings("cvm.simulator.command", List.of()),
                t.integer("cvm.simulator.pki_seed", 1, Long.MIN_VALUE, Long.MAX_VALUE),
                t.bool("cvm.simulator.insecure_skip_kms_attestation", false),
                t.bool("cvm.simulator.insecure_loopback_transport", false));
        if (simulator.insecureSkipKmsAttestation()) {
            warnings.add("cvm.simulator.insecure_skip_kms_attestation: insecure: simulated guests do not check "
                    + "the KMS's attestation");
        }
        if (simulator.insecureLoopbackTransport()) {
            warnings.add("cvm.simulator.insecure_loopback_transport: insecure: simulated guests register with "
                    + "gateways over loopback instead of WireGuard");
        }

        String qemuPath = t.string("cvm.qemu_path", "");
        return new VmmConfig.Cvm(platform, qemuPath.isEmpty() ? "" : base.resolve(qemuPath).normalize().toString(),
                t.strings("cvm.kms_urls", List.of("http://127.0.0.1:8081")),
                t.has("cvm.gateway_urls") ? t.strings("cvm.gateway_urls", List.of())
                        : t.strings("cvm.tproxy_urls", List.of("http://127.0.0.1:8082")),
                t.string("cvm.pccs_url", ""), t.string("cvm.docker_registry", ""), cidStart, cidPoolSize,
                portMapping, (int) t.integer("cvm.max_allocable_vcpu", 20, 0, 0xffffffffL),
                t.integer("cvm.max_allocable_memory_in_mb", 100_000, 0, 0xffffffffL), t.bool("cvm.qmp_socket", false),
                gpu, t.string("cvm.user", ""), autoRestart, t.bool("cvm.use_mrconfigid", true),
                t.optBool("cvm.qemu_single_pass_add_pages"), t.optBool("cvm.qemu_pic"), t.optString("cvm.qemu_version"),
                t.size("cvm.qemu_pci_hole64_size", 0), t.bool("cvm.qemu_hotplug_off", false), variant, networking,
                t.string("cvm.instance_id", ""), hostShareMode, qgsPort, log, backend, simulator);
    }
}
