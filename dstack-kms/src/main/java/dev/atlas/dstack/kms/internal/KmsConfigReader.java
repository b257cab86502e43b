package dev.atlas.dstack.kms.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import dev.atlas.dstack.kms.KmsConfig;
import dev.atlas.dstack.kms.KmsFiles;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.config.ConfigTree;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Reads {@code kms.toml} as dstack-kms does: the shipped file's values first, the operator's file merged over them
 * ({@code load_config}, {@code kms/src/config.rs}); then every key is checked, the unknown ones named.
 */
public final class KmsConfigReader {
    /**
     * The values of dstack's shipped {@code kms/kms.toml} (the defaults {@code load_config} starts from). Values
     * only; see docs/dstack-kms.md.
     */
    static final String SHIPPED_DEFAULTS = """
            [default]
            workers = 8
            max_blocking = 64
            ident = "DStack KMS"
            temp_dir = "/tmp"
            keep_alive = 10
            log_level = "info"

            [rpc]
            address = "0.0.0.0"
            port = 8000

            [rpc.tls]
            key = "/etc/kms/certs/rpc.key"
            certs = "/etc/kms/certs/rpc.crt"

            [rpc.tls.mutual]
            ca_certs = "/etc/kms/certs/tmp-ca.crt"
            mandatory = false

            [core]
            cert_dir = "/etc/kms/certs"
            subject_postfix = ".dstack"
            site_name = ""
            enforce_self_authorization = true
            attest_rpc_cert = true
            sev_snp_key_release = false
            aws_nitro_tpm_key_release = false

            [core.attestation]
            insecure_allow_external_trust_anchors = false

            [core.attestation.urls]

            [core.attestation.root_ca]

            [core.image]
            verify = true
            cache_dir = "/usr/share/dstack/images"
            download_url = "http://localhost:8000/{OS_IMAGE_HASH}.tar.gz"
            download_timeout = "2m"

            [core.admin]
            enabled = false
            address = "127.0.0.1"
            port = 8001
            auth_token = ""
            htpasswd_file = ""
            insecure_no_auth = false

            [core.metrics]
            enabled = true

            [core.auth_api]
            type = "webhook"

            [core.auth_api.webhook]
            url = "http://auth-api:8000"

            [core.auth_api.dev]
            gateway_app_id = "any"

            [core.onboard]
            enabled = true
            auto_bootstrap_domain = ""
            address = "0.0.0.0"
            port = 8000
            """;

    /** Rocket's own settings: accepted where Rocket reads them and named as ignored (the JDK server is used). */
    static final Set<String> ROCKET_KNOBS = Set.of("workers", "max_blocking", "ident", "ip_header",
            "proxy_proto_header", "limits", "temp_dir", "keep_alive", "log_level", "cli_colors", "secret_key",
            "shutdown", "reuse", "profile");

    /** The trust-anchor keys of {@code [core.attestation.root_ca]} ({@code RootCaPaths}). */
    static final List<String> ROOT_CA_KEYS = List.of("tdx", "gcp_tpm", "aws_nitro_enclave", "aws_nitro_tpm",
            "sev_snp_milan", "sev_snp_genoa", "sev_snp_turin");

    /** dstack-attest's refusal ({@code AttestationVerifier::load}). */
    public static final String EXTERNAL_ANCHORS_REFUSED = "external attestation trust anchors are configured but "
            + "insecure_allow_external_trust_anchors is false";

    private static final TomlMapper MAPPER = new TomlMapper();

    private KmsConfigReader() {
    }

    public static KmsConfig load(Path file) throws RaException {
        byte[] bytes = ConfigTree.readFile(file);
        return read(bytes, file);
    }

    public static KmsConfig read(byte[] bytes, Path file) throws RaException {
        String src = file.toString();
        ObjectNode user = parse(bytes, src);
        ObjectNode shipped = parse(SHIPPED_DEFAULTS.getBytes(java.nio.charset.StandardCharsets.UTF_8),
                "shipped defaults");
        return new KmsConfigReader().build(ConfigTree.overlaid(shipped, user, src).root(), file);
    }

    /** Parses a whole document (strict UTF-8, at most {@link ConfigTree#MAX_BYTES}). */
    static ObjectNode parse(byte[] bytes, String source) throws RaException {
        return ConfigTree.parseToml(ConfigTree.text(bytes, source), MAPPER, source);
    }

    /** Rocket's {@code address} (an IP literal, no host names) and {@code port}. */
    private static InetSocketAddress socketAddress(ConfigTree.Table t, String addressKey, String portKey,
            String dfltAddress, int dfltPort) throws RaException {
        String s = t.string(addressKey, dfltAddress);
        InetAddress ip;
        try {
            if (s.isEmpty() || s.length() > 64 || s.chars().anyMatch(c -> !(Character.isLetterOrDigit(c)
                    || c == '.' || c == ':' || c == '%'))) {
                throw new IllegalArgumentException();
            }
            ip = InetAddress.ofLiteral(s);
        } catch (IllegalArgumentException e) {
            throw t.invalid(addressKey, "expected an IPv4 or IPv6 address literal");
        }
        return new InetSocketAddress(ip, t.port(portKey, dfltPort));
    }

    private final List<String> warnings = new ArrayList<>();

    private void warn(String s) {
        warnings.add(s);
    }

    private KmsConfig build(ConfigTree.Table root, Path file) throws RaException {
        // [default]: Rocket's profile table; dstack-kms's loader does not select it either
        ConfigTree.Table dflt = root.table("default");
        List<String> dk = dflt.unread();
        if (!dk.isEmpty()) {
            warn("[default] " + String.join(", ", dk) + ": Rocket settings, ignored (this KMS runs on the JDK HTTP "
                    + "server)");
        }

        // [rpc]
        ConfigTree.Table rpc = root.table("rpc");
        InetSocketAddress rpcAddress = socketAddress(rpc, "address", "port", "127.0.0.1", 8000);
        ConfigTree.Table tls = rpc.table("tls");
        if (!rpc.has("tls")) {
            throw rpc.unsupported("tls", "missing: the KMS RPC listener serves TLS only");
        }
        Path tlsKey = path(tls, "key", true).orElseThrow();
        Path tlsCerts = path(tls, "certs", true).orElseThrow();
        if (tls.has("ciphers")) {
            throw tls.unsupported("ciphers", "a cipher-suite restriction is not supported (the JDK's TLS 1.2/1.3 "
                    + "defaults are used); remove the key");
        }
        ConfigTree.Table mutual = tls.table("mutual");
        Optional<Path> clientCa = tls.has("mutual") ? path(mutual, "ca_certs", false) : Optional.empty();
        boolean mandatory = mutual.bool("mandatory", false);
        if (mandatory && clientCa.isEmpty()) {
            throw mutual.invalid("ca_certs", "required when mandatory = true");
        }
        ignoredKeys(mutual, Set.of());
        ignoredKeys(tls, Set.of("prefer_server_cipher_order"));
        ignoredKeys(rpc, ROCKET_KNOBS);

        // [core]
        ConfigTree.Table core = root.table("core");
        Path certDir = path(core, "cert_dir", true).orElseThrow();
        String subjectPostfix = core.string("subject_postfix", "");
        String siteName = core.string("site_name", "");
        boolean enforceSelf = core.bool("enforce_self_authorization", true);
        boolean attestRpc = core.bool("attest_rpc_cert", true);
        boolean sev = core.bool("sev_snp_key_release", false);
        boolean nitro = core.bool("aws_nitro_tpm_key_release", false);
        if (sev) {
            warn("core.sev_snp_key_release = true: AMD SEV-SNP evidence is not supported by this KMS and is always "
                    + "refused");
        }
        if (nitro) {
            warn("core.aws_nitro_tpm_key_release = true: AWS NitroTPM evidence is not supported by this KMS and is "
                    + "always refused");
        }
        if (!attestRpc) {
            warn("core.attest_rpc_cert = false: INSECURE, the RPC certificate carries no attestation, so guests "
                    + "cannot check which KMS they talk to (development outside a TEE only)");
        }
        if (!enforceSelf) {
            warn("core.enforce_self_authorization = false: INSECURE, trusted RPCs are served without this KMS first "
                    + "being allowed by its own auth API (development outside a TEE only)");
        }

        // [core.attestation] (dstack: deny_unknown_fields in all three tables)
        ConfigTree.Table att = core.table("attestation");
        boolean allowExternal = att.bool("insecure_allow_external_trust_anchors", false);
        ConfigTree.Table urls = att.table("urls");
        String pccs = urls.optString("pccs").filter(s -> !s.isBlank()).orElse(KmsConfig.DEFAULT_PCCS_URL);
        String amdKds = urls.optString("amd_kds").orElse("");
        if (!amdKds.isBlank()) {
            warn("core.attestation.urls.amd_kds: not used (this KMS verifies TDX evidence only)");
        }
        checkUrl(urls, "pccs", pccs);
        refuseUnknown(urls);
        ConfigTree.Table roots = att.table("root_ca");
        boolean anyRoot = false;
        Optional<Path> tdxRoot = Optional.empty();
        for (String k : ROOT_CA_KEYS) {
            Optional<Path> p = path(roots, k, false);
            if (p.isPresent()) {
                anyRoot = true;
                if (k.equals("tdx")) {
                    tdxRoot = p;
                }
            }
        }
        refuseUnknown(roots);
        refuseUnknown(att);
        if (anyRoot && !allowExternal) {
            throw new RaException(Reason.CONFIG_INVALID, "core.attestation.root_ca", EXTERNAL_ANCHORS_REFUSED
                    + " (in " + root.source() + ")");
        }
        for (String k : ROOT_CA_KEYS) {
            if (!k.equals("tdx") && roots.has(k)) {
                warn("core.attestation.root_ca." + k + ": not used (this KMS verifies TDX evidence only; such "
                        + "evidence is refused)");
            }
        }
        if (tdxRoot.isPresent()) {
            Path p = tdxRoot.get();
            if (!Files.isRegularFile(p) || !Files.isReadable(p)) {
                throw new RaException(Reason.CONFIG_FILE_UNREADABLE, "core.attestation.root_ca.tdx",
                        "failed to read TDX root CA from " + p + " (in " + root.source() + ")");
            }
        }
        if (allowExternal) {
            warn("core.attestation.insecure_allow_external_trust_anchors = true: INSECURE, attestation may be "
                    + "verified against a root other than Intel's (development and tests only)"
                    + (tdxRoot.isPresent() ? "; TDX root: " + tdxRoot.get() : ""));
        }

        // [core.image]
        ConfigTree.Table image = core.table("image");
        boolean imageVerify = image.bool("verify");
        Path cacheDir = path(image, "cache_dir", true).orElseThrow();
        String downloadUrl = image.string("download_url");
        Duration downloadTimeout = image.duration("download_timeout", null);
        ignoredKeys(image, Set.of());

        // [core.auth_api]: an internally tagged enum; the other variant's table is not read
        ConfigTree.Table auth = core.table("auth_api");
        String type = auth.string("type");
        Optional<URI> webhookUrl = Optional.empty();
        String devGateway;
        ConfigTree.Table dev = auth.table("dev");
        ConfigTree.Table hook = auth.table("webhook");
        switch (type) {
            case KmsConfig.AUTH_WEBHOOK -> {
                String u = hook.string("url");
                webhookUrl = Optional.of(checkUrl(hook, "url", u));
                ignoredKeys(hook, Set.of());
                devGateway = "";
            }
            case KmsConfig.AUTH_DEV -> {
                devGateway = dev.string("gateway_app_id");
                ignoredKeys(dev, Set.of());
                warn("core.auth_api.type = \"dev\": INSECURE, every app and KMS is allowed to boot and get keys "
                        + "(reported as is_dev, allow_any_upgrade)");
            }
            default -> throw auth.invalid("type", "unknown variant: expected \"webhook\" or \"dev\"");
        }
        ignoredKeys(auth, Set.of());

        // [core.onboard]: Rocket reads the same table for its listener
        ConfigTree.Table onboard = core.table("onboard");
        boolean onboardEnabled = onboard.bool("enabled");
        String autoDomain = onboard.string("auto_bootstrap_domain");
        InetSocketAddress onboardAddr = socketAddress(onboard, "address", "port", "127.0.0.1", 8000);
        if (onboard.has("tls")) {
            throw onboard.unsupported("tls", "TLS on the onboard listener is not supported (it serves plain HTTP "
                    + "before keys exist); remove the table");
        }
        ignoredKeys(onboard, ROCKET_KNOBS);

        // [core.admin]
        ConfigTree.Table admin = core.table("admin");
        boolean adminEnabled = admin.bool("enabled", false);
        InetSocketAddress adminAddr = socketAddress(admin, "address", "port", "127.0.0.1", 8000);
        String token = admin.string("auth_token", "");
        Optional<Path> htpasswd = path(admin, "htpasswd_file", false);
        boolean noAuth = admin.bool("insecure_no_auth", false);
        if (admin.has("tls")) {
            throw admin.unsupported("tls", "TLS on the admin listener is not supported: without it the admin "
                    + "credentials would travel in clear; keep the listener on loopback and remove the table");
        }
        ignoredKeys(admin, ROCKET_KNOBS);
        if (adminEnabled && noAuth) {
            warn("core.admin.insecure_no_auth = true: INSECURE, the admin API is served without authentication");
        }

        // [core.metrics]
        ConfigTree.Table metrics = core.table("metrics");
        boolean metricsEnabled = metrics.bool("enabled");
        ignoredKeys(metrics, Set.of());

        ignoredKeys(core, Set.of());
        ignoredKeys(root, Set.of());

        String certDirText = certDir.toString();
        if (!tlsKey.equals(certDir.resolve(KmsFiles.RPC_KEY))
                || !tlsCerts.equals(certDir.resolve(KmsFiles.RPC_CERT))) {
            warn("rpc.tls.key/certs are not " + certDirText + "/rpc.key and rpc.crt: the listener serves those "
                    + "files, while the fresh RPC certificate is written to core.cert_dir");
        }

        return new KmsConfig(file, certDir, subjectPostfix, siteName, enforceSelf, attestRpc, sev, nitro,
                allowExternal, tdxRoot, pccs, amdKds, imageVerify, cacheDir, downloadUrl, downloadTimeout, type,
                webhookUrl, devGateway, onboardEnabled, autoDomain, onboardAddr, rpcAddress, tlsKey, tlsCerts,
                clientCa, mandatory, metricsEnabled, adminEnabled, adminAddr,
                token.isEmpty() ? Optional.empty() : Optional.of(token), htpasswd, noAuth, warnings);
    }

    /** A path; empty means absent unless {@code required}. */
    private static Optional<Path> path(ConfigTree.Table t, String key, boolean required) throws RaException {
        Optional<String> s = t.optString(key);
        if (s.isEmpty() || s.get().isEmpty()) {
            if (required) {
                throw t.invalid(key, s.isEmpty() ? "missing" : "must not be empty");
            }
            return Optional.empty();
        }
        if (s.get().indexOf('\0') >= 0 || s.get().length() > 4096) {
            throw t.invalid(key, "not a valid path");
        }
        try {
            return Optional.of(Path.of(s.get()));
        } catch (java.nio.file.InvalidPathException e) {
            throw t.invalid(key, "not a valid path");
        }
    }

    private static URI checkUrl(ConfigTree.Table t, String key, String u) throws RaException {
        try {
            URI uri = new URI(u);
            String scheme = uri.getScheme();
            if (scheme == null || !(scheme.equals("http") || scheme.equals("https")) || uri.getHost() == null) {
                throw t.invalid(key, "expected an http:// or https:// URL with a host");
            }
            return uri;
        } catch (URISyntaxException e) {
            throw t.invalid(key, "not a valid URL");
        }
    }

    /** Names the keys not read in {@code t}: Rocket knobs and harmless ones as ignored, the rest as unknown. */
    private void ignoredKeys(ConfigTree.Table t, Set<String> knownIgnored) {
        for (String k : t.unread()) {
            if (knownIgnored.contains(k)) {
                warn(t.key(k) + ": " + (ROCKET_KNOBS.contains(k) ? "Rocket setting, " : "") + "not supported, "
                        + "ignored");
            } else {
                warn(t.key(k) + ": unknown key, ignored");
            }
        }
    }

    /** dstack refuses unknown keys in the attestation tables ({@code deny_unknown_fields}); so do we. */
    private static void refuseUnknown(ConfigTree.Table t) throws RaException {
        List<String> u = t.unread();
        if (!u.isEmpty()) {
            throw t.invalid(u.get(0), "unknown key (dstack refuses unknown keys in [" + t.key("").replaceAll("\\.$",
                    "") + "])");
        }
    }
}
