package dev.atlas.dstack.simulator;

import dev.atlas.dstack.ra.EnvCrypt;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.SecretBytes;
import dev.atlas.dstack.ra.prpc.PrpcRemoteException;
import dev.atlas.dstack.simulator.internal.HostApiNotifier;
import dev.atlas.dstack.simulator.internal.HostShare;
import dev.atlas.dstack.simulator.internal.PortForwarder;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * A simulated dstack guest OS booting from a VMM host share (design "One boot, end to end"; spec §6.3, §6.4, §2.8,
 * §2.12; {@code dstack-util/src/system_setup.rs}, {@code os/common/rootfs/app-compose.sh}): it reads
 * {@code app-compose.json}, {@code .sys-config.json}, {@code .instance_info}, {@code .encrypted-env} and
 * {@code .user-config}; computes the app id and the instance id; boots a {@link GuestAgentSimulator} that measures
 * them into RTMR3 and gets the app keys from the first KMS of {@code kms_urls} that answers (key provider
 * {@code kms}) or from its seed (key provider {@code none}); decrypts the env with the app's {@code env_crypt_key}
 * (only the {@code allowed_envs}); runs {@code runner: "bash"}'s {@code bash_script} as a child process; forwards
 * the mapped host ports to the VM address; and reports the boot to the VMM through {@code HostApi.Notify}
 * ({@code boot.progress}, {@code boot.error}, {@code instance.info}).
 *
 * <p>From the command line ({@code atlas simulate --host-share DIR ...} or the VMM's simulator backend):
 * <pre>
 * SimulatedGuestOs --host-share DIR --work DIR [--cid N] [--vm-address IP] [--host-api unix:PATH] [--pki-seed N]
 *     [--insecure-skip-kms-attestation] [--insecure-gateway-loopback-transport] [--port proto:addr:host:vm ...]
 * </pre>
 * SIGTERM stops the app (its whole process tree), the port forwards and the agent, and removes the sockets.
 *
 * <p>Development and tests only: the quotes are forged under the mock Intel PKI.
 */
public final class SimulatedGuestOs implements AutoCloseable {
    /** Name of the guest agent's socket in the work directory ({@code dstack.sock}). */
    public static final String AGENT_SOCKET = "dstack.sock";
    /** Exit status of {@link #main} when the boot fails (after {@code boot.error} is posted). */
    public static final int EXIT_BOOT_ERROR = 2;
    /** Exit status of {@link #main} for bad flags. */
    public static final int EXIT_USAGE = 64;

    private static final HexFormat HEX = HexFormat.of();
    private static final Pattern ENV_KEY = Pattern.compile("[a-zA-Z_][a-zA-Z0-9_]*");
    private static final String LOG = "[dstack-simulator] ";

    private final Options options;
    private final PrintStream log;
    private final HostApiNotifier notifier;
    private final List<PortForwarder> forwards = new ArrayList<>();
    private final CompletableFuture<Integer> appExit = new CompletableFuture<>();
    private GuestAgentSimulator agent;
    private Process app;
    private byte[] appId = new byte[0];
    private byte[] instanceId = new byte[0];
    private Map<String, String> env = Map.of();
    private volatile InetAddress vmAddress;
    private boolean closed;

    private SimulatedGuestOs(Options o) {
        this.options = o;
        this.log = o.log;
        this.notifier = new HostApiNotifier(o.hostApiSocket, o.log);
        this.vmAddress = o.vmAddress;
    }

    /** A builder for in-process use (tests); {@link #main} is the same with flags. */
    public static Builder builder() {
        return new Builder();
    }

    // ------------------------------------------------------------------------------------------------ boot

    private void boot() throws RaException {
        HostShare share = HostShare.load(options.hostShare);
        HostShare.Compose compose = share.compose();
        HostShare.SysConfig sys = share.sysConfig();
        log.println(LOG + "booting app '" + compose.name() + "' (runner " + compose.runner() + ", key provider "
                + compose.keyProvider() + ") from " + options.hostShare);
        if (share.simulatedTee().isPresent() && !share.simulatedTee().get().equals("dstack-tdx")) {
            throw new RaException(Reason.CONFIG_UNSUPPORTED, ".tee-simulator.json: platform", "the simulator"
                    + " simulates dstack-tdx only, not " + share.simulatedTee().get());
        }
        checkRunner(compose);
        // app id and instance id (system_setup.rs measure_app_info)
        this.appId = share.appId();
        byte[] seed = share.instanceInfo().instanceIdSeed();
        if (compose.keyProvider().equals("none") || seed.length == 0) {
            seed = new byte[20];
            options.random.nextBytes(seed);
        }
        this.instanceId = HostShare.instanceId(seed, appId, compose.noInstanceId());
        log.println(LOG + "app_id " + HEX.formatHex(appId) + ", instance_id " + HEX.formatHex(instanceId)
                + ", compose_hash " + HEX.formatHex(share.composeHash()));

        notifier.notify("boot.progress", "requesting app keys");
        // registration needs a client certificate from the KMS (system_setup.rs GatewayContext)
        boolean gateways = compose.gatewayEnabled() && !sys.gatewayUrls().isEmpty()
                && compose.keyProvider().equals("kms");
        String gatewayError = null;
        try {
            this.agent = startAgent(share, seed, gateways);
        } catch (RaException e) {
            if (!gateways) {
                throw e;
            }
            // as dstack-util: a gateway that refuses leaves the app without ingress, it does not stop the boot
            gatewayError = e.getMessage();
            log.println(LOG + "boot with gateway registration failed (" + gatewayError + "); booting without");
            this.agent = startAgent(share, seed, false);
        }
        notifier.notify("instance.info", new HostShare.InstanceInfo(seed, instanceId, appId).json());
        notifier.notify("boot.progress", "data disk ready");

        // env (Stage1::unseal_env_vars)
        this.env = decryptEnv(share, agent.appKeys());

        // gateways (Stage1::setup → GatewayContext::setup; a failure is a boot.error, not a failed boot)
        notifier.notify("boot.progress", "setting up dstack-gateway");
        if (gatewayError != null) {
            String why = "dstack-gateway registration failed, the app has no ingress route: " + gatewayError;
            log.println(LOG + why);
            notifier.notify("boot.error", why);
        } else if (gateways) {
            this.vmAddress = agent.vmAddress();
            log.println(LOG + "registered with " + agent.gatewayRegistrations().size() + " gateway(s) of "
                    + sys.gatewayUrls() + "; the app binds " + vmAddress.getHostAddress());
        } else {
            log.println(LOG + "no gateway registration (gateway_enabled " + compose.gatewayEnabled()
                    + ", gateway_urls " + sys.gatewayUrls() + ")");
        }
        notifier.notify("boot.progress", "setting up docker");

        // host ports → VM address
        for (PortMapping p : options.ports) {
            if (!p.protocol().equals("tcp")) {
                log.println(LOG + "port " + p + ": only tcp is forwarded by the simulator; skipped");
                continue;
            }
            try {
                forwards.add(PortForwarder.start(new InetSocketAddress(p.hostAddress(), p.hostPort()),
                        new InetSocketAddress(vmAddress, p.vmPort()), log));
            } catch (IOException e) {
                throw new RaException(Reason.CONFIG_INVALID, "port", e.getMessage(), e);
            }
            log.println(LOG + "forwarding " + p.hostAddress() + ":" + p.hostPort() + " -> "
                    + vmAddress.getHostAddress() + ":" + p.vmPort());
        }

        // the app (app-compose.sh start)
        startApp(compose);
    }

    private void checkRunner(HostShare.Compose c) throws RaException {
        switch (c.runner()) {
            case "bash" -> {
                if (c.bashScript().isEmpty()) {
                    throw new RaException(Reason.CONFIG_INVALID, "app-compose.json: bash_script",
                            "missing field (runner is bash)");
                }
            }
            case "docker-compose" -> {
                Optional<String> missing = dockerMissing();
                if (missing.isPresent()) {
                    throw new RaException(Reason.CONFIG_UNSUPPORTED, "app-compose.json: runner",
                            "docker-compose needs a Docker engine on this host and " + missing.get()
                                    + "; the simulator runs runner \"bash\" without one");
                }
                if (c.dockerComposeFile().isEmpty()) {
                    throw new RaException(Reason.CONFIG_INVALID, "app-compose.json: docker_compose_file",
                            "missing field (runner is docker-compose)");
                }
            }
            default -> throw new RaException(Reason.CONFIG_UNSUPPORTED, "app-compose.json: runner",
                    "unsupported runner " + c.runner() + " (the simulator runs bash, and docker-compose with a"
                            + " Docker engine)");
        }
    }

    private static Optional<String> dockerMissing() {
        if (!Files.exists(Path.of("/var/run/docker.sock"))) {
            return Optional.of("/var/run/docker.sock does not exist");
        }
        if (which("docker").isEmpty()) {
            return Optional.of("no docker CLI on PATH");
        }
        return Optional.empty();
    }

    private static Optional<Path> which(String exe) {
        String path = System.getenv("PATH");
        if (path == null) {
            return Optional.empty();
        }
        for (String d : path.split(File.pathSeparator)) {
            Path p = Path.of(d, exe);
            if (Files.isExecutable(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    private GuestAgentSimulator startAgent(HostShare share, byte[] instanceSeed, boolean gateways)
            throws RaException {
        HostShare.Compose compose = share.compose();
        HostShare.SysConfig sys = share.sysConfig();
        byte[] cvmSeed = Arrays.copyOf(sha256(("atlas-simulated-guest-os:" + HEX.formatHex(appId) + ":"
                + HEX.formatHex(instanceSeed)).getBytes(StandardCharsets.UTF_8)), 32);
        GuestAgentSimulator.Builder b = GuestAgentSimulator.builder()
                .compose(options.hostShare.resolve(HostShare.APP_COMPOSE))
                .sysConfig(options.hostShare.resolve(HostShare.SYS_CONFIG))
                .appId(appId).instanceId(instanceId).seed(cvmSeed).clock(options.clock)
                .internalSocket(agentSocket());
        options.pkiSeed.ifPresent(b::pkiSeed);
        if (gateways) {
            List<URI> urls = new ArrayList<>();
            for (String u : sys.gatewayUrls()) {
                try {
                    urls.add(URI.create(u));
                } catch (IllegalArgumentException e) {
                    throw new RaException(Reason.CONFIG_INVALID, ".sys-config.json: gateway_urls", "not a URL: " + u);
                }
            }
            b.gatewayUrls(urls);
            if (options.insecureGatewayLoopbackTransport) {
                b.insecureGatewayLoopbackTransport();
            } else {
                // one WireGuard interface per VM on this host (wireguard-go's control socket is per host)
                options.cid.ifPresent(c -> b.wireGuardInterface("dstack-wg" + c));
                b.wireGuardConfigDir(options.workDir);
            }
        }
        switch (compose.keyProvider()) {
            case "none" -> {
                log.println(LOG + "key provider none: keys from the simulator's seed, no KMS");
                return start(b, "(none)");
            }
            case "kms" -> {
                if (sys.kmsUrls().isEmpty()) {
                    throw new RaException(Reason.CONFIG_INVALID, ".sys-config.json: kms_urls",
                            "empty, but the app's key provider is kms");
                }
                if (options.pkiSeed.isEmpty()) {
                    throw new RaException(Reason.CONFIG_INVALID, "--pki-seed",
                            "missing: a KMS verifies the simulated quotes only under its mock Intel PKI's seed");
                }
                if (options.insecureSkipKmsAttestation) {
                    log.println(LOG + "WARNING: insecure: the KMS server certificate's attestation is not verified"
                            + " (--insecure-skip-kms-attestation)");
                    b.insecureSkipKmsServerAttestation();
                } else if (sys.pccsUrl().isPresent()) {
                    b.kmsPccsUrl(sys.pccsUrl().get());
                } else {
                    throw new RaException(Reason.CONFIG_INVALID, ".sys-config.json: pccs_url",
                            "missing: needed to verify the KMS's attestation (collateral_urls.pccs or pccs_url), or"
                                    + " run with --insecure-skip-kms-attestation");
                }
                b.kmsTimeout(options.kmsTimeout);
                RaException last = null;
                for (String url : sys.kmsUrls()) {
                    URI u;
                    try {
                        u = URI.create(url);
                    } catch (IllegalArgumentException e) {
                        last = new RaException(Reason.CONFIG_INVALID, ".sys-config.json: kms_urls",
                                "not a URL: " + url);
                        continue;
                    }
                    b.kms(u);
                    try {
                        return start(b, url);
                    } catch (RaException e) {
                        log.println(LOG + "KMS " + url + ": " + e.getMessage());
                        last = e;
                    }
                }
                throw last;
            }
            default -> throw new RaException(Reason.CONFIG_UNSUPPORTED, "app-compose.json: key_provider",
                    "key provider " + compose.keyProvider() + " is not simulated (use kms or none)");
        }
    }

    private GuestAgentSimulator start(GuestAgentSimulator.Builder b, String kms) throws RaException {
        try {
            return b.start();
        } catch (IllegalStateException e) {
            throw new RaException(Reason.CONFIG_INVALID, "guest agent", e.getMessage(), e);
        } catch (IOException e) {
            Throwable t = e;
            while (t != null) {
                if (t instanceof PrpcRemoteException r) {
                    String text = r.remoteError();
                    Reason reason = text.contains("Boot denied") ? Reason.BOOT_DENIED : Reason.KMS_UNAVAILABLE;
                    throw new RaException(reason, "GetAppKey", "Failed to request app keys: the KMS at " + kms
                            + " refused: " + text, e);
                }
                if (t instanceof RaException ra) {
                    throw new RaException(ra.raReason(), ra.field(), "Failed to request app keys from " + kms + ": "
                            + e.getMessage(), e);
                }
                t = t.getCause();
            }
            throw new RaException(Reason.KMS_UNAVAILABLE, "GetAppKey", "Failed to request app keys from " + kms
                    + ": " + e.getMessage(), e);
        }
    }

    private Map<String, String> decryptEnv(HostShare share, AppKeys keys) throws RaException {
        byte[] ct = share.encryptedEnv();
        byte[] key = keys.envCryptKey();
        if (ct.length == 0 || key.length == 0) {
            log.println(LOG + "No encrypted env, using default");
            return Map.of();
        }
        if (key.length != 32) {
            throw new RaException(Reason.CONFIG_INVALID, "env_crypt_key", "Invalid env crypt key length");
        }
        List<EnvCrypt.EnvVar> vars;
        try {
            vars = EnvCrypt.decrypt(SecretBytes.of(key), ct);
        } catch (RaException e) {
            throw new RaException(e.raReason(), e.field(), "Failed to decrypt env file: " + e.getMessage(), e);
        } finally {
            Arrays.fill(key, (byte) 0);
        }
        if (vars.size() > 1024) {
            throw new RaException(Reason.CONFIG_INVALID, ".encrypted-env", "Too many environment variables: "
                    + vars.size());
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (EnvCrypt.EnvVar v : vars) {
            if (!share.compose().allowedEnvs().contains(v.key())) {
                log.println(LOG + "Skipping unauthorized environment variable: " + v.key());
                continue;
            }
            if (v.key().length() > 255 || !ENV_KEY.matcher(v.key()).matches()) {
                throw new RaException(Reason.CONFIG_INVALID, ".encrypted-env",
                        "Invalid environment variable name: " + v.key());
            }
            if (v.value().length() > 128 * 1024) {
                throw new RaException(Reason.CONFIG_INVALID, ".encrypted-env",
                        "Environment variable value too long for key: " + v.key());
            }
            out.put(v.key(), v.value());
        }
        log.println(LOG + "decrypted env: " + out.size() + " variable(s) " + out.keySet());
        return Map.copyOf(out);
    }

    private void startApp(HostShare.Compose compose) throws RaException {
        if (!compose.runner().equals("bash")) {
            // docker-compose with an engine present: not driven by this simulator yet
            throw new RaException(Reason.CONFIG_UNSUPPORTED, "app-compose.json: runner",
                    "docker-compose through a Docker engine is not implemented by the simulator; use runner bash");
        }
        notifier.notify("boot.progress", "running main script");
        Path script = options.workDir.resolve("app-main.sh");
        try {
            Files.writeString(script, compose.bashScript().orElseThrow());
            ProcessBuilder pb = new ProcessBuilder("bash", script.toString()).directory(options.workDir.toFile());
            pb.environment().putAll(env);
            pb.environment().put("DSTACK_VM_ADDRESS", vmAddress.getHostAddress());
            pb.environment().put("DSTACK_SIMULATOR_ENDPOINT", agentSocket().toString());
            pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            if (options.appLog.isPresent()) {
                pb.redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(
                        options.appLog.get().toFile()));
            } else {
                pb.redirectOutput(ProcessBuilder.Redirect.INHERIT).redirectError(ProcessBuilder.Redirect.INHERIT);
            }
            this.app = pb.start();
        } catch (IOException e) {
            throw new RaException(Reason.CONFIG_UNSUPPORTED, "app-compose.json: bash_script",
                    "cannot run the main script with bash: " + e.getMessage(), e);
        }
        log.println(LOG + "main script running (pid " + app.pid() + ")");
        app.onExit().thenAccept(p -> {
            int code = p.exitValue();
            synchronized (this) {
                if (closed) {
                    appExit.complete(code);
                    return;
                }
            }
            if (code == 0) {
                log.println(LOG + "main script finished");
                notifier.notify("boot.progress", "done");
            } else {
                log.println(LOG + "main script exited with status " + code);
                notifier.notify("boot.error", "main script exited with status " + code);
            }
            appExit.complete(code);
        });
    }

    // ------------------------------------------------------------------------------------------------ API

    /** The guest agent ({@code DstackGuest} on {@link #agentSocket()}). */
    public GuestAgentSimulator agent() {
        return agent;
    }

    /** The agent's Unix socket ({@code <work>/dstack.sock}, the app's {@code DSTACK_SIMULATOR_ENDPOINT}). */
    public Path agentSocket() {
        return options.workDir.resolve(AGENT_SOCKET);
    }

    /** The address the app binds ({@code DSTACK_VM_ADDRESS}), the target of every port forward. */
    public InetAddress vmAddress() {
        return vmAddress;
    }

    /** The measured app id (20 bytes). */
    public byte[] appId() {
        return appId.clone();
    }

    /** The measured instance id (20 bytes, or empty with {@code no_instance_id}). */
    public byte[] instanceId() {
        return instanceId.clone();
    }

    /** The bound host side of each forwarded port (port 0 in a mapping is resolved here). */
    public List<InetSocketAddress> forwardedPorts() {
        return forwards.stream().map(PortForwarder::localAddress).toList();
    }

    /** Completes with the main script's exit status. */
    public CompletableFuture<Integer> appExit() {
        return appExit;
    }

    /**
     * Stops the app (SIGTERM to its process tree, then SIGKILL after 5 s), the port forwards and the agent (its
     * socket is removed). Idempotent.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        if (app != null) {
            List<ProcessHandle> tree = new ArrayList<>(app.descendants().toList());
            app.destroy();
            tree.forEach(ProcessHandle::destroy);
            try {
                if (!app.waitFor(5, TimeUnit.SECONDS)) {
                    app.destroyForcibly();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                app.destroyForcibly();
            }
            tree.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
            log.println(LOG + "app stopped");
        }
        forwards.forEach(PortForwarder::close);
        forwards.clear();
        if (agent != null) {
            agent.close();
        }
        try {
            Files.deleteIfExists(agentSocket());
            Files.deleteIfExists(options.workDir.resolve("app-main.sh"));
        } catch (IOException e) {
            log.println(LOG + "cannot remove " + agentSocket() + ": " + e.getMessage());
        }
    }

    @Override
    public String toString() {
        return "SimulatedGuestOs[host_share=" + options.hostShare + ", app_id=" + HEX.formatHex(appId)
                + ", instance_id=" + HEX.formatHex(instanceId) + ", vm_address=" + vmAddress.getHostAddress()
                + "]";
    }

    // ------------------------------------------------------------------------------------------------ main

    /**
     * Boots from the flags and runs until SIGTERM. Exit status {@value #EXIT_BOOT_ERROR} on a boot error (posted
     * as {@code boot.error} first), {@value #EXIT_USAGE} on bad flags.
     */
    public static void main(String[] args) {
        int code = run(args, System.out, System.err);
        if (code != 0) {
            System.exit(code);
        }
    }

    /** {@link #main} without {@code System.exit} on success: returns when the process is asked to stop. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        Builder b;
        try {
            b = parseFlags(args);
        } catch (IllegalArgumentException e) {
            err.println("dstack-simulator: " + e.getMessage());
            err.println(usage());
            return EXIT_USAGE;
        }
        b.log(out);
        SimulatedGuestOs os;
        try {
            os = b.start();
        } catch (RaException e) {
            err.println("dstack-simulator: boot error: " + e.getMessage());
            return EXIT_BOOT_ERROR;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            out.println(LOG + "stopping (signal)");
            os.close();
            stopped.countDown();
        }, "dstack-simulator-shutdown"));
        out.println(LOG + "boot complete: " + os);
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 0;
    }

    static String usage() {
        return "usage: SimulatedGuestOs --host-share DIR --work DIR [--cid N] [--vm-address IP] [--host-api unix:PATH]"
                + " [--pki-seed N] [--insecure-skip-kms-attestation] [--insecure-gateway-loopback-transport]"
                + " [--port proto:addr:host:vm ...]";
    }

    /** Parses {@link #main}'s flags into a builder (IllegalArgumentException naming the flag). */
    public static Builder parseFlags(String[] args) {
        Builder b = builder();
        boolean share = false;
        boolean work = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            String flag = a;
            String value = null;
            int eq = a.indexOf('=');
            if (a.startsWith("--") && eq > 0) {
                flag = a.substring(0, eq);
                value = a.substring(eq + 1);
            }
            switch (flag) {
                case "--insecure-skip-kms-attestation" -> b.insecureSkipKmsAttestation();
                case "--insecure-gateway-loopback-transport" -> b.insecureGatewayLoopbackTransport();
                case "--host-share", "--work", "--cid", "--vm-address", "--host-api", "--pki-seed", "--port" -> {
                    if (value == null) {
                        if (i + 1 >= args.length) {
                            throw new IllegalArgumentException(flag + ": missing value");
                        }
                        value = args[++i];
                    }
                    switch (flag) {
                        case "--host-share" -> {
                            b.hostShare(Path.of(value));
                            share = true;
                        }
                        case "--work" -> {
                            b.workDir(Path.of(value));
                            work = true;
                        }
                        case "--cid" -> b.cid(parseInt(flag, value, 0, Integer.MAX_VALUE));
                        case "--vm-address" -> b.vmAddress(parseIp(flag, value));
                        case "--host-api" -> {
                            if (!value.startsWith("unix:")) {
                                throw new IllegalArgumentException("--host-api: expected unix:PATH, got " + value);
                            }
                            b.hostApi(Path.of(value.substring(5)));
                        }
                        case "--pki-seed" -> {
                            try {
                                b.pkiSeed(Long.parseLong(value));
                            } catch (NumberFormatException e) {
                                throw new IllegalArgumentException("--pki-seed: not a number: " + value);
                            }
                        }
                        default -> b.port(PortMapping.parse(value));
                    }
                }
                default -> throw new IllegalArgumentException("unknown flag " + a);
            }
        }
        if (!share || !work) {
            throw new IllegalArgumentException("--host-share and --work are required");
        }
        return b;
    }

    private static int parseInt(String flag, String v, int min, int max) {
        try {
            int n = Integer.parseInt(v);
            if (n < min || n > max) {
                throw new IllegalArgumentException(flag + ": " + v + " is out of range " + min + ".." + max);
            }
            return n;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(flag + ": not a number: " + v);
        }
    }

    private static InetAddress parseIp(String flag, String v) {
        if (!v.matches("[0-9.]+|[0-9a-fA-F:]+")) {
            throw new IllegalArgumentException(flag + ": not an IP address: " + v);
        }
        try {
            return InetAddress.getByName(v);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(flag + ": not an IP address: " + v);
        }
    }

    /** The default VM address of a CID: {@code 127.254.(cid >> 8 & 255).(cid & 255)} on the loopback. */
    public static InetAddress defaultVmAddress(int cid) {
        try {
            return InetAddress.getByAddress(new byte[] {127, (byte) 254, (byte) (cid >> 8 & 255), (byte) (cid & 255)});
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] sha256(byte[] b) {
        return GuestAgentSimulator.sha256(b);
    }

    // ------------------------------------------------------------------------------------------------ types

    /**
     * One port mapping, as the VMM's {@code PortMapping} and QEMU's {@code hostfwd}: {@code proto:addr:host:vm}
     * ({@code tcp:127.0.0.1:8080:80}); only tcp is forwarded.
     */
    public record PortMapping(String protocol, String hostAddress, int hostPort, int vmPort) {
        public PortMapping {
            Objects.requireNonNull(protocol, "protocol");
            Objects.requireNonNull(hostAddress, "hostAddress");
            if (!protocol.equals("tcp") && !protocol.equals("udp")) {
                throw new IllegalArgumentException("port: protocol must be tcp or udp, got " + protocol);
            }
            if (hostPort < 0 || hostPort > 65535 || vmPort < 1 || vmPort > 65535) {
                throw new IllegalArgumentException("port: host port " + hostPort + " or vm port " + vmPort
                        + " out of range");
            }
        }

        /** {@code proto:addr:host:vm}. */
        public static PortMapping parse(String s) {
            String[] p = s.split(":", -1);
            if (p.length != 4) {
                throw new IllegalArgumentException("--port: expected proto:addr:host:vm, got " + s);
            }
            try {
                return new PortMapping(p[0], p[1], Integer.parseInt(p[2]), Integer.parseInt(p[3]));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--port: ports must be numbers in " + s);
            }
        }

        @Override
        public String toString() {
            return protocol + ":" + hostAddress + ":" + hostPort + ":" + vmPort;
        }
    }

    private record Options(Path hostShare, Path workDir, Optional<Integer> cid, InetAddress vmAddress, Optional<Path> hostApiSocket,
            Optional<Long> pkiSeed, boolean insecureSkipKmsAttestation, boolean insecureGatewayLoopbackTransport,
            List<PortMapping> ports, Clock clock, Duration kmsTimeout, PrintStream log, Optional<Path> appLog,
            SecureRandom random) {
    }

    /** Builder; {@link #hostShare} and {@link #workDir} are required. */
    public static final class Builder {
        private Path hostShare;
        private Path workDir;
        private Integer cid;
        private InetAddress vmAddress;
        private Path hostApi;
        private Long pkiSeed;
        private boolean insecureSkipKmsAttestation;
        private boolean insecureGatewayLoopbackTransport;
        private final List<PortMapping> ports = new ArrayList<>();
        private Clock clock = Clock.systemUTC();
        private Duration kmsTimeout = Duration.ofSeconds(30);
        private PrintStream log = System.out;
        private Path appLog;

        private Builder() {
        }

        /** The host share directory the VMM wrote (read only). */
        public Builder hostShare(Path dir) {
            this.hostShare = Objects.requireNonNull(dir);
            return this;
        }

        /** The guest's own directory: the agent socket ({@code dstack.sock}) and the main script live here. */
        public Builder workDir(Path dir) {
            this.workDir = Objects.requireNonNull(dir);
            return this;
        }

        /** The VM's CID: gives the default VM address {@link #defaultVmAddress(int)}. */
        public Builder cid(int cid) {
            this.cid = cid;
            return this;
        }

        /** The address the app binds (default from the CID, else 127.0.0.1). */
        public Builder vmAddress(InetAddress a) {
            this.vmAddress = Objects.requireNonNull(a);
            return this;
        }

        /** The VMM's host API Unix socket for {@code Notify} (default: no notifications). */
        public Builder hostApi(Path unixSocket) {
            this.hostApi = Objects.requireNonNull(unixSocket);
            return this;
        }

        /** The mock Intel PKI seed shared with the KMS (required for key provider kms). */
        public Builder pkiSeed(long seed) {
            this.pkiSeed = seed;
            return this;
        }

        /** <b>Insecure</b>: do not verify the KMS server certificate's attestation. Logged as a WARNING. */
        public Builder insecureSkipKmsAttestation() {
            this.insecureSkipKmsAttestation = true;
            return this;
        }

        /** <b>Insecure</b>: register with gateways over loopback instead of WireGuard (for the gateway's tests). */
        public Builder insecureGatewayLoopbackTransport() {
            this.insecureGatewayLoopbackTransport = true;
            return this;
        }

        /** A host port to forward to the VM address. */
        public Builder port(PortMapping p) {
            this.ports.add(Objects.requireNonNull(p));
            return this;
        }

        public Builder clock(Clock c) {
            this.clock = Objects.requireNonNull(c);
            return this;
        }

        /** Timeout of each KMS call (default 30 s). */
        public Builder kmsTimeout(Duration d) {
            this.kmsTimeout = Objects.requireNonNull(d);
            return this;
        }

        /** Where the boot log goes (default stdout: the VM's console log). */
        public Builder log(PrintStream out) {
            this.log = Objects.requireNonNull(out);
            return this;
        }

        /** The app's stdout and stderr appended to this file (default: inherited, the VM's console log). */
        public Builder appLog(Path file) {
            this.appLog = Objects.requireNonNull(file);
            return this;
        }

        /**
         * Boots: reads the host share, gets the keys, decrypts the env, forwards the ports, starts the app. A failure
         * is posted as {@code boot.error} and thrown; nothing keeps running then.
         */
        public SimulatedGuestOs start() throws RaException {
            if (hostShare == null || workDir == null) {
                throw new IllegalStateException("hostShare and workDir are required");
            }
            InetAddress addr = vmAddress != null ? vmAddress
                    : cid != null ? defaultVmAddress(cid) : InetAddress.getLoopbackAddress();
            Options o = new Options(hostShare, workDir, Optional.ofNullable(cid), addr, Optional.ofNullable(hostApi),
                    Optional.ofNullable(pkiSeed), insecureSkipKmsAttestation, insecureGatewayLoopbackTransport,
                    List.copyOf(ports), clock, kmsTimeout, log, Optional.ofNullable(appLog), new SecureRandom());
            try {
                Files.createDirectories(workDir);
            } catch (IOException e) {
                throw new RaException(Reason.CONFIG_FILE_UNREADABLE, "--work", "cannot create " + workDir + ": "
                        + e.getMessage(), e);
            }
            if (insecureGatewayLoopbackTransport) {
                log.println(LOG + "WARNING: insecure: gateway traffic over loopback instead of WireGuard"
                        + " (--insecure-gateway-loopback-transport)");
            }
            SimulatedGuestOs os = new SimulatedGuestOs(o);
            try {
                os.boot();
            } catch (RaException | RuntimeException e) {
                String msg = e instanceof RaException ra ? ra.getMessage() : String.valueOf(e);
                os.log.println(LOG + "boot error: " + msg);
                os.notifier.notify("boot.error", msg);
                os.close();
                throw e;
            }
            return os;
        }
    }
}
