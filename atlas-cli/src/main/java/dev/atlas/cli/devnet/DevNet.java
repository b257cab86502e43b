package dev.atlas.cli.devnet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.guest.AppInfo;
import dev.atlas.dstack.guest.DstackClient;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

/**
 * The whole dstack deployment of the guide on this machine, as supervised child processes: {@code atlas
 * auth-server}, the KMS's simulated CVM and {@code atlas kms} (bootstrapped through {@code Onboard.Bootstrap}), the
 * gateway's simulated CVM and {@code atlas gateway}, and {@code atlas vmm} with the simulator backend, plus demo
 * apps deployed through the VMM. Configs, keys, logs ({@code logs/<component>.log}) and state
 * ({@code devnet.json}) live in one directory; {@link #up} on an existing directory resumes with the same keys.
 *
 * <p>{@link #close()} brings the devnet down when this object brought it up; an {@link #attach}ed one is left
 * running (call {@link #down()}).
 */
public final class DevNet implements AutoCloseable {
    /** The components, in start order. */
    public static final List<String> COMPONENTS = List.of("auth", "kms-cvm", "kms", "gateway-cvm", "gateway", "vmm");

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();
    private static final String PYTHON = "/usr/bin/python3";
    /** Completes any TLS handshake: the reachability probe only (no trust decision rests on it). */
    private static final javax.net.ssl.SSLContext PROBE = ReadinessProbe.tlsContext();

    private final Layout layout;
    private final ObjectNode state;
    private final boolean owner;
    private final DevProgress progress;
    private final long t0 = System.nanoTime();
    private final Duration readyTimeout;
    private final Map<String, Process> started = new ConcurrentHashMap<>();
    private boolean closed;

    private DevNet(Layout layout, ObjectNode state, boolean owner, DevProgress progress, Duration readyTimeout) {
        this.layout = layout;
        this.state = state;
        this.owner = owner;
        this.progress = progress;
        this.readyTimeout = readyTimeout;
    }

    // ==== up ========================================================================================================

    /**
     * Starts (or resumes) the devnet in {@code options.dir()}; returns when every component is up and every demo
     * app answers through the gateway. On failure everything this call started is stopped.
     */
    public static DevNet up(DevOptions options, DevProgress progress) throws DevException {
        DevProgress p = safe(progress == null ? DevProgress.NONE : progress);
        Path dir = options.dir();
        if (dir.toString().length() > Layout.MAX_DIR_LENGTH) {
            throw new DevException(DevException.Kind.CONFIG, "devnet", null, "the directory " + dir + " is "
                    + dir.toString().length() + " characters long; at most " + Layout.MAX_DIR_LENGTH + " (the VMs' "
                    + "Unix sockets under it must fit the kernel's 108-byte limit): pass a shorter --dir");
        }
        if (!Files.isExecutable(Path.of(PYTHON)) && options.apps() > 0) {
            throw new DevException(DevException.Kind.CONFIG, "devnet", null, "the demo apps need " + PYTHON
                    + " (their HTTP service); install python3 or pass --apps 0");
        }
        ObjectNode st;
        boolean resume;
        try {
            Files.createDirectories(dir);
            Path stateFile = dir.resolve("devnet.json");
            resume = Files.isRegularFile(stateFile);
            st = resume ? (ObjectNode) Configs.JSON.readTree(Files.readString(stateFile)) : Configs.JSON.createObjectNode();
        } catch (IOException | ClassCastException e) {
            throw new DevException(DevException.Kind.IO, "devnet", null, "cannot read " + dir.resolve("devnet.json")
                    + ": " + e.getMessage(), e);
        }
        if (resume && !options.baseDomain().equals(st.path("base_domain").asText(options.baseDomain()))) {
            throw new DevException(DevException.Kind.CONFIG, "devnet", null, "--base-domain " + options.baseDomain()
                    + " differs from the resumed devnet's " + st.path("base_domain").asText() + " (its certificates"
                    + " and app URLs): use the same one, or another --dir");
        }
        Layout layout = new Layout(dir, options.baseDomain(), ports(options, st));
        DevNet net = new DevNet(layout, st, true, p, options.readyTimeout());
        List<String> alive = net.aliveComponents();
        if (!alive.isEmpty()) {
            throw new DevException(DevException.Kind.STATE, alive.getFirst(), layout.log(alive.getFirst()),
                    "the devnet in " + dir + " is already running (" + String.join(", ", alive) + "); run `atlas dev"
                    + " status` or `atlas dev down` first");
        }
        Thread hook = new Thread(net::abort, "devnet-up-abort");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            net.bringUp(resume, options.apps());
            return net;
        } catch (DevException e) {
            p.failed(e.component(), e.logFile().orElse(null), e.getMessage());
            net.abort();
            throw e;
        } catch (IOException | RuntimeException e) {
            DevException d = new DevException(DevException.Kind.IO, "devnet", null, "unexpected: " + e, e);
            p.failed("devnet", null, d.getMessage());
            net.abort();
            throw d;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            net.abort();
            throw new DevException(DevException.Kind.STEP_FAILED, "devnet", null, "interrupted", e);
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // the JVM is exiting: the hook runs abort
            }
        }
    }

    private static DevProgress safe(DevProgress p) {
        return new DevProgress() {
            @Override
            public void step(String component, String message, Duration elapsed) {
                try {
                    p.step(component, message, elapsed);
                } catch (RuntimeException e) {
                    // a listener never fails the operation
                }
            }

            @Override
            public void failed(String component, Path logFile, String why) {
                try {
                    p.failed(component, logFile, why);
                } catch (RuntimeException e) {
                    // idem
                }
            }
        };
    }

    /** Ports: pinned by the options, else kept from devnet.json, else a free loopback port. */
    private static Map<String, Integer> ports(DevOptions o, ObjectNode st) throws DevException {
        Map<String, Integer> ports = new LinkedHashMap<>();
        Set<Integer> taken = new LinkedHashSet<>();
        for (String name : DevOptions.PORT_NAMES) {
            int p = o.ports().getOrDefault(name, st.path("ports").path(name).asInt(0));
            if (p == 0) {
                p = freePort(taken);
            }
            taken.add(p);
            ports.put(name, p);
        }
        return ports;
    }

    private static int freePort(Set<Integer> taken) throws DevException {
        for (int i = 0; i < 20; i++) {
            try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
                if (!taken.contains(s.getLocalPort())) {
                    return s.getLocalPort();
                }
            } catch (IOException e) {
                throw new DevException(DevException.Kind.IO, "devnet", null, "no free loopback port: " + e.getMessage(),
                        e);
            }
        }
        throw new DevException(DevException.Kind.IO, "devnet", null, "no free loopback port");
    }

    private void bringUp(boolean resume, int demoApps) throws DevException, IOException, InterruptedException {
        step("devnet", (resume ? "resuming " : "creating ") + layout.dir() + " (base domain " + layout.baseDomain()
                + ")");
        writeFiles(resume);
        // independent: the auth server, the KMS's CVM (+ the mock PCCS), the gateway's CVM (it waits for the KMS's
        // TLS listener before asking for its keys) and the VMM
        startChild("auth", List.of("auth-server", "--host", "127.0.0.1", "--port", Integer.toString(layout.port("auth")),
                "--config", layout.authConfig().toString(), "--config-settle-ms", "10"), Map.of());
        startChild("kms-cvm", cvmArgs("kms", layout.kmsAgentSocket(), layout.kmsCompose(), layout.kmsSysConfig(),
                true), Map.of());
        startChild("gateway-cvm", cvmArgs("gateway", layout.gatewayAgentSocket(), layout.gatewayCompose(),
                layout.gatewaySysConfig(), false), Map.of());
        startChild("vmm", List.of("vmm", "-c", layout.vmmToml().toString()), Map.of());

        awaitLog("kms-cvm", "devnet-cvm ready", "guest agent and mock PCCS serving");
        awaitPort("auth", layout.port("auth"), "listening on " + layout.authUrl());
        startChild("kms", List.of("kms", "-c", layout.kmsToml().toString()),
                Map.of("DSTACK_AGENT_ADDRESS", "unix:" + layout.kmsAgentSocket()));
        if (!state.path("kms_bootstrapped").asBoolean(false)) {
            bootstrapKms();
        } else {
            awaitLog("kms", "rpc: https://", "resumed with its keys (" + layout.kmsCerts() + "), RPC on "
                    + layout.kmsUrl());
        }
        awaitLog("gateway-cvm", "devnet-cvm ready", "booted: keys from the KMS");
        startChild("gateway", List.of("gateway", "-c", layout.gatewayToml().toString()),
                Map.of("DSTACK_AGENT_ADDRESS", "unix:" + layout.gatewayAgentSocket()));
        awaitLog("gateway", "admin: http://", "RPC " + layout.gatewayRpcUrl() + ", proxy 127.0.0.1:"
                + layout.proxyPort() + ", admin " + layout.gatewayAdminUrl());
        awaitLog("vmm", "vmm: http", "listening on " + layout.vmmUrl() + " (simulator backend)");
        saveState();

        List<DeployedApp> existing = apps();
        if (resume && !existing.isEmpty()) {
            for (DeployedApp a : existing) {
                restartVms(a);
            }
            for (DeployedApp a : existing) {
                if (a.allowed()) {
                    awaitReachable(a);
                }
            }
        } else {
            for (int i = 1; i <= demoApps; i++) {
                deploy(AppSpec.demo("app-" + i));
            }
        }
        step("devnet", "up: " + COMPONENTS.size() + " components, " + apps().size() + " app(s)");
    }

    private List<String> cvmArgs(String name, Path socket, Path compose, Path sysConfig, boolean pccs) {
        List<String> a = new ArrayList<>(List.of("dev", "cvm", "--name", name, "--agent-socket", socket.toString(),
                "--compose", compose.toString(), "--sys-config", sysConfig.toString(), "--pki-seed",
                Long.toString(Layout.PKI_SEED)));
        if (pccs) {
            a.addAll(List.of("--pccs-port", Integer.toString(layout.port("pccs")), "--root-ca-out",
                    layout.mockRoot().toString()));
        } else {
            a.addAll(List.of("--kms", layout.kmsUrl(), "--kms-pccs", layout.pccsUrl(), "--wait-seconds",
                    Long.toString(Math.max(10, readyTimeout.toSeconds() * 2))));
        }
        return a;
    }

    /** The guide's "Bootstrap KMS": GetAttestationInfo, allowlist its mrAggregated, Bootstrap, /finish. */
    private void bootstrapKms() throws DevException, IOException, InterruptedException {
        awaitLog("kms", "onboard: http://", "onboard API on http://127.0.0.1:" + layout.port("kms"));
        URI onboard = URI.create("http://127.0.0.1:" + layout.port("kms"));
        JsonNode info = onboardCall(onboard, "GetAttestationInfo", "{}");
        String mr = info.path("mr_aggregated").asText();
        String os = info.path("os_image_hash").asText();
        if (!mr.matches("[0-9a-f]{64}")) {
            throw fail(DevException.Kind.STEP_FAILED, "kms", "Onboard.GetAttestationInfo gave no mr_aggregated: " + info);
        }
        addTo("kms_mr_aggregated", mr);
        if (os.matches("[0-9a-f]{64}")) {
            addTo("os_images", os);
        }
        writeAuthConfig();
        step("kms", "allowlisted mrAggregated " + mr.substring(0, 16) + "... in auth-config.json");
        JsonNode boot = null;
        for (int i = 0; boot == null; i++) {
            try {
                boot = onboardCall(onboard, "Bootstrap", "{\"domain\":\"kms." + layout.baseDomain() + "\"}");
            } catch (DevException e) {
                // the auth server decides on a settled file (10 ms): one early refusal is retried
                if (i >= 5 || !e.getMessage().contains("not allowed")) {
                    throw e;
                }
                Thread.sleep(50L << i);
            }
        }
        step("kms", "Onboard.Bootstrap: k256 public key " + boot.path("k256_pubkey").asText());
        HttpResponse<String> fin = HTTP.send(HttpRequest.newBuilder(onboard.resolve("/finish"))
                .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
        if (fin.statusCode() != 200) {
            throw fail(DevException.Kind.STEP_FAILED, "kms", "GET /finish: HTTP " + fin.statusCode() + " "
                    + fin.body());
        }
        state.put("kms_bootstrapped", true);
        saveState();
        awaitLog("kms", "rpc: https://", "finished onboarding; RPC on " + layout.kmsUrl());
    }

    private JsonNode onboardCall(URI onboard, String method, String body) throws DevException, InterruptedException {
        try {
            HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(onboard.resolve("/prpc/Onboard." + method
                    + "?json")).timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) {
                throw fail(DevException.Kind.STEP_FAILED, "kms", "Onboard." + method + ": HTTP " + r.statusCode() + " "
                        + r.body());
            }
            return Configs.JSON.readTree(r.body());
        } catch (IOException e) {
            throw fail(DevException.Kind.STEP_FAILED, "kms", "Onboard." + method + ": " + e.getMessage());
        }
    }

    // ==== files and state ===========================================================================================

    private void writeFiles(boolean resume) throws IOException {
        Files.createDirectories(layout.logs());
        Files.createDirectories(layout.run());
        Files.createDirectories(layout.kmsCerts());
        Files.createDirectories(layout.gatewayCerts());
        Files.createDirectories(layout.gatewayData());
        Files.createDirectories(layout.vms());
        Files.createDirectories(layout.apps());
        Files.createDirectories(layout.launcher().getParent());
        state.put("version", 1);
        state.put("dir", layout.dir().toString());
        state.put("base_domain", layout.baseDomain());
        ObjectNode ports = state.putObject("ports");
        layout.ports().forEach(ports::put);
        if (!state.hasNonNull("vmm_token")) {
            state.put("vmm_token", Configs.token());
        }
        if (!state.hasNonNull("admin_token")) {
            state.put("admin_token", Configs.token());
        }
        if (!state.hasNonNull("wg_private_key")) {
            String[] wg = Configs.wireGuardKeys();
            state.put("wg_private_key", wg[0]);
            state.put("wg_public_key", wg[1]);
        }
        if (!Files.isRegularFile(layout.proxyCert()) || !Files.isRegularFile(layout.proxyKey())) {
            Configs.writeProxyCertificate(layout, Instant.now());
        }
        Configs.writeImage(layout);
        Configs.write(layout.kmsCompose(), Configs.kmsCompose());
        Configs.write(layout.gatewayCompose(), Configs.gatewayCompose());
        Configs.write(layout.kmsSysConfig(), Configs.sysConfig(layout, false));
        Configs.write(layout.gatewaySysConfig(), Configs.sysConfig(layout, true));
        String gwCompose = Files.readString(layout.gatewayCompose());
        state.put("gateway_app_id", Configs.appIdOf(gwCompose));
        state.put("gateway_compose_hash", Configs.composeHashOf(gwCompose));
        addTo("os_images", Configs.osImageHash());
        Configs.write(layout.kmsToml(), Configs.kmsToml(layout));
        Configs.writeSecret(layout.gatewayToml(), Configs.gatewayToml(layout, state.path("admin_token").asText(),
                state.path("wg_private_key").asText(), state.path("wg_public_key").asText()));
        Configs.writeSecret(layout.vmmToml(), Configs.vmmToml(layout, state.path("vmm_token").asText()));
        Configs.write(layout.dir().resolve("auth-config.README"), Configs.AUTH_README);
        writeAuthConfig();
        Path launcher = layout.launcher();
        Configs.write(launcher, Configs.launcher(Children.atlasCommand("app-server")));
        launcher.toFile().setExecutable(true);
        Configs.write(layout.guestLauncher(), Configs.launcher(Children.javaCommand("simulated-guest",
                "dev.atlas.dstack.simulator.SimulatedGuestOs")));
        layout.guestLauncher().toFile().setExecutable(true);
        writeHosts();
        saveState();
        step("devnet", (resume ? "rewrote" : "wrote") + " kms.toml, gateway.toml, vmm.toml, auth-config.json in "
                + layout.dir());
    }

    private void addTo(String key, String value) {
        ArrayNode a = state.has(key) ? (ArrayNode) state.get(key) : state.putArray(key);
        for (JsonNode n : a) {
            if (n.asText().equals(value)) {
                return;
            }
        }
        a.add(value);
    }

    private static List<String> texts(JsonNode a) {
        List<String> l = new ArrayList<>();
        a.forEach(n -> l.add(n.asText()));
        return l;
    }

    /** auth-config.json from the state: OS images, gateway app, KMS measurements, allowed apps. */
    private synchronized void writeAuthConfig() throws IOException {
        Map<String, List<String>> apps = new LinkedHashMap<>();
        apps.put(state.path("gateway_app_id").asText(), List.of(state.path("gateway_compose_hash").asText()));
        for (JsonNode a : state.path("apps")) {
            if (a.path("allowed").asBoolean()) {
                apps.computeIfAbsent(a.path("app_id").asText(), k -> new ArrayList<>())
                        .add(a.path("compose_hash").asText());
            }
        }
        Configs.write(layout.authConfig(), Configs.authConfig(texts(state.path("os_images")),
                state.path("gateway_app_id").asText(), texts(state.path("kms_mr_aggregated")), apps));
    }

    private synchronized void saveState() throws IOException {
        Configs.writeSecret(layout.state(), state.toPrettyString() + "\n");
    }

    private void writeHosts() throws IOException {
        StringBuilder b = new StringBuilder("# app host names of the devnet, for -Djdk.net.hosts.file (no DNS needed)\n");
        for (JsonNode a : state.path("apps")) {
            String id = a.path("app_id").asText();
            List<String> ids = new ArrayList<>(List.of(id));
            ids.addAll(texts(a.path("instance_ids")));
            for (String i : ids) {
                for (String label : List.of(i, i + "-80", i + "-8080", i + "-443s", i + "-8080g", i + "-8090")) {
                    b.append("127.0.0.1 ").append(label).append('.').append(layout.baseDomain()).append('\n');
                }
            }
        }
        Configs.write(layout.hosts(), b.toString());
    }

    // ==== children ==================================================================================================

    private void startChild(String name, List<String> args, Map<String, String> env) throws DevException {
        Path log = layout.log(name);
        try {
            Files.writeString(log, "---- " + Instant.now() + " atlas " + String.join(" ", args) + "\n",
                    StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.CREATE,
                    java.nio.file.StandardOpenOption.APPEND);
            long offset = Files.size(log);
            Process p = Children.start(name, args, env, log, layout.dir());
            started.put(name, p);
            offsets.put(name, offset);
            ObjectNode c = components().putObject(name);
            c.put("pid", p.pid());
            Configs.write(layout.pidFile(name), p.pid() + "\n");
            step(name, "started, pid " + p.pid() + " (log " + layout.dir().relativize(log) + ")");
        } catch (IOException e) {
            throw new DevException(DevException.Kind.START_FAILED, name, log, "cannot start: " + e.getMessage(), e);
        }
    }

    private final Map<String, Long> offsets = new ConcurrentHashMap<>();

    private ObjectNode components() {
        return state.has("components") ? (ObjectNode) state.get("components") : state.putObject("components");
    }

    /** Waits until the component's log (since its start) has a line containing {@code marker}. */
    private void awaitLog(String name, String marker, String done) throws DevException, InterruptedException {
        Path log = layout.log(name);
        long deadline = System.nanoTime() + readyTimeout.toNanos();
        long backoff = 10;
        while (true) {
            try {
                byte[] all = Files.readAllBytes(log);
                int from = (int) Math.min(all.length, offsets.getOrDefault(name, 0L));
                String s = new String(all, from, all.length - from, StandardCharsets.UTF_8);
                if (s.contains(marker)) {
                    step(name, done);
                    return;
                }
            } catch (IOException e) {
                // not written yet
            }
            checkAlive(name);
            if (System.nanoTime() > deadline) {
                throw fail(DevException.Kind.NOT_READY, name, "not ready after " + readyTimeout.toSeconds()
                        + " s (waiting for \"" + marker + "\"); last lines: " + Children.tail(log, 3));
            }
            Thread.sleep(backoff);
            backoff = Math.min(100, backoff * 2);
        }
    }

    private void awaitPort(String name, int port, String done) throws DevException, InterruptedException {
        long deadline = System.nanoTime() + readyTimeout.toNanos();
        long backoff = 10;
        while (true) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 500);
                step(name, done);
                return;
            } catch (IOException e) {
                // not yet
            }
            checkAlive(name);
            if (System.nanoTime() > deadline) {
                throw fail(DevException.Kind.NOT_READY, name, "port " + port + " not listening after "
                        + readyTimeout.toSeconds() + " s; last lines: " + Children.tail(layout.log(name), 3));
            }
            Thread.sleep(backoff);
            backoff = Math.min(100, backoff * 2);
        }
    }

    private void checkAlive(String name) throws DevException {
        Process p = started.get(name);
        if (p != null && !p.isAlive()) {
            throw fail(DevException.Kind.START_FAILED, name, "exited with status " + p.exitValue()
                    + " before it was ready: " + Children.tail(layout.log(name), 3));
        }
    }

    private DevException fail(DevException.Kind kind, String component, String why) {
        Path log = COMPONENTS.contains(component) ? layout.log(component) : appLog(component);
        return new DevException(kind, component, log, why);
    }

    private void step(String component, String message) {
        progress.step(component, message, Duration.ofNanos(System.nanoTime() - t0));
    }

    /** After a failed or interrupted up: the VMs, then everything this call started. */
    private void abort() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        stopVmProcesses();
        List<ProcessHandle> hs = new ArrayList<>();
        started.values().forEach(p -> hs.add(p.toHandle()));
        Children.stop(hs, 3000);
        cleanUp();
        ObjectNode comps = components();
        for (String c : started.keySet()) {
            comps.putObject(c).put("pid", -1);
        }
        try {
            saveState();
        } catch (IOException e) {
            // the pids left in devnet.json are checked against /proc before any use
        }
    }

    // ==== attach, status, down ======================================================================================

    /** The devnet described by {@code dir/devnet.json} (running or not), for status, logs and down. */
    public static DevNet attach(Path dir) throws DevException {
        Path abs = dir.toAbsolutePath().normalize();
        Path f = abs.resolve("devnet.json");
        if (!Files.isRegularFile(f)) {
            throw new DevException(DevException.Kind.STATE, "devnet", null, "no devnet in " + abs + " (no "
                    + "devnet.json): run `atlas dev up --dir " + dir + "` first");
        }
        ObjectNode st;
        try {
            st = (ObjectNode) Configs.JSON.readTree(Files.readString(f));
        } catch (IOException | ClassCastException e) {
            throw new DevException(DevException.Kind.IO, "devnet", null, "cannot read " + f + ": " + e.getMessage(), e);
        }
        Map<String, Integer> ports = new LinkedHashMap<>();
        for (String n : DevOptions.PORT_NAMES) {
            int p = st.path("ports").path(n).asInt(0);
            if (p < 1 || p > 65535) {
                throw new DevException(DevException.Kind.CONFIG, "devnet", null, f + ": ports." + n + " is missing or "
                        + "not a port");
            }
            ports.put(n, p);
        }
        return new DevNet(new Layout(abs, st.path("base_domain").asText(DevOptions.DEFAULT_BASE_DOMAIN), ports), st,
                false, DevProgress.NONE, Duration.ofSeconds(40));
    }

    private Optional<ProcessHandle> handle(String component) {
        long pid = state.path("components").path(component).path("pid").asLong(-1);
        return Children.ours(pid, layout.dir().toString());
    }

    private List<String> aliveComponents() {
        List<String> l = new ArrayList<>();
        for (String c : COMPONENTS) {
            if (handle(c).isPresent()) {
                l.add(c);
            }
        }
        return l;
    }

    /** The components (pid, URL, state) and the apps. */
    public DevStatus status() {
        List<DevStatus.Component> cs = new ArrayList<>();
        for (String c : COMPONENTS) {
            long pid = state.path("components").path(c).path("pid").asLong(-1);
            Optional<ProcessHandle> h = handle(c);
            String st = h.isPresent() ? "running" : pid > 0 ? "dead" : "stopped";
            cs.add(new DevStatus.Component(c, componentUrl(c), h.map(ProcessHandle::pid).orElse(-1L), st));
        }
        List<DevStatus.App> as = new ArrayList<>();
        for (DeployedApp a : apps()) {
            as.add(new DevStatus.App(a.name(), a.appId(), a.url(), a.attestCommand()));
        }
        return new DevStatus(cs, as);
    }

    private String componentUrl(String c) {
        return switch (c) {
            case "auth" -> layout.authUrl();
            case "kms-cvm" -> "unix:" + layout.kmsAgentSocket();
            case "kms" -> layout.kmsUrl();
            case "gateway-cvm" -> "unix:" + layout.gatewayAgentSocket();
            case "gateway" -> layout.gatewayRpcUrl();
            case "vmm" -> layout.vmmUrl();
            default -> "";
        };
    }

    /** Gracefully stops everything: the apps' VMs, then the VMM, gateway, KMS, their CVMs, the auth server. */
    public void down() throws DevException {
        synchronized (this) {
            closed = true;
        }
        stopVms();
        List<ProcessHandle> hs = new ArrayList<>();
        for (String c : COMPONENTS.reversed()) {
            handle(c).ifPresent(hs::add);
        }
        started.values().forEach(p -> {
            if (p.isAlive() && !hs.contains(p.toHandle())) {
                hs.add(p.toHandle());
            }
        });
        // creating class-data-sharing archives at exit takes seconds per JVM: a longer grace then
        Children.stop(hs, Children.cdsCreate() ? 60_000 : 8000);
        cleanUp();
        ObjectNode comps = components();
        for (String c : COMPONENTS) {
            comps.putObject(c).put("pid", -1);
        }
        try {
            saveState();
        } catch (IOException e) {
            throw new DevException(DevException.Kind.IO, "devnet", null, "cannot write " + layout.state() + ": "
                    + e.getMessage(), e);
        }
    }

    /** ShutdownVm for each running VM through the VMM (SIGTERM to the guest), then kills what is left. */
    private void stopVms() {
        if (handle("vmm").isPresent()) {
            for (DeployedApp a : apps()) {
                for (String id : a.vmIds()) {
                    try {
                        vmmCall("ShutdownVm", "{\"id\":\"" + id + "\"}");
                    } catch (DevException e) {
                        // not running, or the VMM refuses: the processes are stopped below
                    }
                }
            }
        }
        stopVmProcesses();
    }

    /** The simulated guests by their pid files under vms/ (the VMM leaves them running when it stops). */
    private void stopVmProcesses() {
        List<ProcessHandle> hs = new ArrayList<>();
        try (var s = Files.list(layout.vms())) {
            for (Path vm : s.toList()) {
                Path pidFile = vm.resolve("vm.pid");
                if (Files.isRegularFile(pidFile)) {
                    try {
                        long pid = Long.parseLong(Files.readString(pidFile).trim());
                        Children.ours(pid, vm.toString()).ifPresent(hs::add);
                    } catch (IOException | NumberFormatException e) {
                        // no such process
                    }
                }
            }
        } catch (IOException e) {
            return;
        }
        Children.stop(hs, Children.cdsCreate() ? 30_000 : 5000);
    }

    /** Stale sockets and pid files of this devnet (the components remove theirs on SIGTERM; a kill does not). */
    private void cleanUp() {
        for (Path p : List.of(layout.kmsAgentSocket(), layout.gatewayAgentSocket())) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException e) {
                // best effort
            }
        }
        for (String c : COMPONENTS) {
            try {
                Files.deleteIfExists(layout.pidFile(c));
            } catch (IOException e) {
                // best effort
            }
        }
    }

    /** {@link #down()} if this object brought the devnet up, else nothing. */
    @Override
    public void close() throws DevException {
        if (owner && !closed) {
            down();
        }
    }

    /**
     * Stops and starts one component process ({@code vmm}, {@code gateway}, {@code auth}, ...), same config. Only
     * that process: the VMM's simulated guests keep running and the restarted VMM re-adopts them.
     */
    public void restart(String component) throws DevException {
        if (!COMPONENTS.contains(component)) {
            throw new DevException(DevException.Kind.CONFIG, component, null, "unknown component; expected one of "
                    + COMPONENTS);
        }
        handle(component).ifPresent(h -> Children.stopAlone(h, 8000));
        if (component.endsWith("-cvm")) {
            try {
                Files.deleteIfExists(component.equals("kms-cvm") ? layout.kmsAgentSocket() : layout.gatewayAgentSocket());
            } catch (IOException e) {
                // the CVM replaces a stale socket itself
            }
        }
        try {
            switch (component) {
                case "auth" -> {
                    startChild("auth", List.of("auth-server", "--host", "127.0.0.1", "--port",
                            Integer.toString(layout.port("auth")), "--config", layout.authConfig().toString(),
                            "--config-settle-ms", "10"), Map.of());
                    awaitPort("auth", layout.port("auth"), "restarted");
                }
                case "kms-cvm" -> {
                    startChild("kms-cvm", cvmArgs("kms", layout.kmsAgentSocket(), layout.kmsCompose(),
                            layout.kmsSysConfig(), true), Map.of());
                    awaitLog("kms-cvm", "devnet-cvm ready", "restarted");
                }
                case "kms" -> {
                    startChild("kms", List.of("kms", "-c", layout.kmsToml().toString()),
                            Map.of("DSTACK_AGENT_ADDRESS", "unix:" + layout.kmsAgentSocket()));
                    awaitLog("kms", "rpc: https://", "restarted");
                }
                case "gateway-cvm" -> {
                    startChild("gateway-cvm", cvmArgs("gateway", layout.gatewayAgentSocket(), layout.gatewayCompose(),
                            layout.gatewaySysConfig(), false), Map.of());
                    awaitLog("gateway-cvm", "devnet-cvm ready", "restarted");
                }
                case "gateway" -> {
                    startChild("gateway", List.of("gateway", "-c", layout.gatewayToml().toString()),
                            Map.of("DSTACK_AGENT_ADDRESS", "unix:" + layout.gatewayAgentSocket()));
                    awaitLog("gateway", "admin: http://", "restarted");
                }
                default -> {
                    startChild("vmm", List.of("vmm", "-c", layout.vmmToml().toString()), Map.of());
                    awaitLog("vmm", "vmm: http", "restarted");
                }
            }
            saveState();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DevException(DevException.Kind.STEP_FAILED, component, layout.log(component), "interrupted", e);
        } catch (IOException e) {
            throw new DevException(DevException.Kind.IO, component, layout.log(component), e.getMessage(), e);
        }
    }

    // ==== apps ======================================================================================================

    /** The apps deployed so far. */
    public List<DeployedApp> apps() {
        List<DeployedApp> l = new ArrayList<>();
        for (JsonNode a : state.path("apps")) {
            l.add(app(a));
        }
        return l;
    }

    private DeployedApp app(JsonNode a) {
        String id = a.path("app_id").asText();
        String name = a.path("name").asText();
        List<String> instances = texts(a.path("instance_ids"));
        // each simulated instance has its own bootchain and policy.json holds the first's: with several instances
        // the command names the first instance's URL (the app id's would reach any of them)
        String target = instances.size() > 1 ? instances.getFirst() : id;
        return new DeployedApp(name, id, instances, layout.appUrl(id, 443, "s"), attestCommand(name, target),
                a.path("compose_hash").asText(), texts(a.path("vm_ids")), a.path("allowed").asBoolean());
    }

    /** The exact command line that attests {@code appId} (or an instance id) through the gateway. */
    private String attestCommand(String name, String appId) {
        return "JAVA_TOOL_OPTIONS=-Djdk.net.hosts.file=" + Configs.shellQuote(layout.hosts().toString())
                + " atlas get " + layout.appUrl(appId, 443, "s") + " --policy "
                + Configs.shellQuote(layout.appDir(name).resolve("policy.json").toString()) + " --root-ca "
                + Configs.shellQuote(layout.mockRoot().toString()) + " --trust-attested-cert";
    }

    /** Deploys an app through the VMM's pRPC API (see {@link AppSpec}). */
    public DeployedApp deploy(AppSpec spec) throws DevException {
        String name = spec.name();
        for (JsonNode a : state.path("apps")) {
            if (a.path("name").asText().equals(name)) {
                throw new DevException(DevException.Kind.CONFIG, name, null, "an app of that name is already deployed");
            }
        }
        String compose = spec.bashScript().map(s -> Configs.compose(name, s))
                .orElseGet(() -> Configs.demoCompose(name, layout.launcher()));
        String appId = Configs.appIdOf(compose);
        String hash = Configs.composeHashOf(compose);
        try {
            Path dir = Files.createDirectories(layout.appDir(name));
            Configs.write(dir.resolve("app-compose.json"), compose);
            ObjectNode a = (state.has("apps") ? (ArrayNode) state.get("apps") : state.putArray("apps")).addObject();
            a.put("name", name);
            a.put("app_id", appId);
            a.put("compose_hash", hash);
            a.put("allowed", spec.allowed());
            a.put("demo", spec.bashScript().isEmpty());
            ArrayNode vmIds = a.putArray("vm_ids");
            ArrayNode instances = a.putArray("instance_ids");
            writeAuthConfig();
            step(name, (spec.allowed() ? "allowed" : "NOT allowed") + " in auth-config.json: app " + appId
                    + ", compose hash " + hash.substring(0, 16) + "...");
            for (int i = 1; i <= spec.instances(); i++) {
                ObjectNode req = Configs.JSON.createObjectNode();
                req.put("name", spec.instances() == 1 || i == 1 ? name : name + "-" + i);
                req.put("image", Configs.IMAGE_NAME);
                req.put("compose_file", compose);
                req.put("vcpu", 1);
                req.put("memory", 1024);
                req.put("disk_size", 1);
                req.putArray("ports");
                if (i > 1) {
                    req.put("app_id", appId);
                }
                String id = vmmCall("CreateVm", req.toString()).path("id").asText();
                vmIds.add(id);
                saveState();
                step(name, "CreateVm: VM " + id + " (" + Configs.IMAGE_NAME + ")");
            }
            if (!spec.allowed()) {
                saveState();
                return app(a);
            }
            for (JsonNode vm : vmIds) {
                instances.add(awaitInstance(name, vm.asText()));
            }
            writeHosts();
            writePolicy(name, compose, vmIds.get(0).asText());
            saveState();
            DeployedApp app = app(a);
            if (spec.waitReachable()) {
                awaitReachable(app);
            }
            return app;
        } catch (IOException e) {
            throw new DevException(DevException.Kind.IO, name, null, "cannot write under " + layout.appDir(name) + ": "
                    + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DevException(DevException.Kind.STEP_FAILED, name, appLog(name), "interrupted", e);
        }
    }

    /** Polls the VMM's GetInfo until the guest runs its app (it has its keys from the KMS then). */
    private String awaitInstance(String name, String vmId) throws DevException, InterruptedException {
        long deadline = System.nanoTime() + readyTimeout.toNanos();
        long backoff = 20;
        while (true) {
            JsonNode info = vmmCall("GetInfo", "{\"id\":\"" + vmId + "\"}").path("info");
            String inst = info.path("instance_id").asText("");
            // the guest agent's socket appears once the guest has its keys from the KMS
            if (inst.matches("[0-9a-f]{40}") && Files.exists(layout.vms().resolve(vmId).resolve("dstack.sock"))
                    && List.of("running main script", "done").contains(info.path("boot_progress").asText(""))) {
                step(name, "VM " + vmId.substring(0, 8) + " booted: instance " + inst + ", keys from the KMS");
                return inst;
            }
            String err = info.path("boot_error").asText("");
            String status = info.path("status").asText("");
            if (!err.isEmpty() || status.equals("exited")) {
                throw fail(DevException.Kind.STEP_FAILED, name, "VM " + vmId + " did not boot (" + status + "): " + err);
            }
            if (System.nanoTime() > deadline) {
                throw fail(DevException.Kind.NOT_READY, name, "VM " + vmId + " has no instance id after "
                        + readyTimeout.toSeconds() + " s (boot progress: " + info.path("boot_progress").asText() + ")");
            }
            Thread.sleep(backoff);
            backoff = Math.min(200, backoff * 2);
        }
    }

    /** The policy {@code atlas get} needs: the CVM's bootchain from its guest agent's Info, compose, OS image, PCCS. */
    private void writePolicy(String name, String compose, String vmId) throws DevException, IOException {
        Path sock = layout.vms().resolve(vmId).resolve("dstack.sock");
        JsonNode tcb;
        try {
            AppInfo info = DstackClient.builder().endpoint(sock.toString()).build().info();
            tcb = Configs.JSON.readTree(info.tcbInfo());
        } catch (Exception e) {
            throw fail(DevException.Kind.STEP_FAILED, name, "Info from the guest agent " + sock + ": " + e.getMessage());
        }
        ObjectNode p = Configs.JSON.createObjectNode();
        p.put("type", "dstack_tdx");
        ObjectNode bc = p.putObject("expected_bootchain");
        for (String k : List.of("mrtd", "rtmr0", "rtmr1", "rtmr2")) {
            bc.put(k, tcb.path(k).asText());
        }
        p.put("app_compose_raw", compose);
        p.put("os_image_hash", Configs.osImageHash());
        p.put("pccs_url", layout.pccsUrl() + "/tdx/certification/v4");
        p.put("cache_collateral", true);
        Configs.write(layout.appDir(name).resolve("policy.json"), p.toPrettyString() + "\n");
    }

    /** StartVm for each of the app's VMs that is not running (a resumed devnet). */
    private void restartVms(DeployedApp a) throws DevException {
        for (String id : a.vmIds()) {
            JsonNode info = vmmCall("GetInfo", "{\"id\":\"" + id + "\"}").path("info");
            if (!info.path("status").asText().equals("running")) {
                vmmCall("StartVm", "{\"id\":\"" + id + "\"}");
                step(a.name(), "StartVm: VM " + id.substring(0, 8));
            } else {
                step(a.name(), "VM " + id.substring(0, 8) + " still running");
            }
        }
    }

    /**
     * Waits until every instance of {@code app} answers through the gateway on its attested URL: a TLS connection to
     * the proxy with SNI {@code <id>-443s.<base>} (passthrough to the app's own aTLS endpoint), then {@code GET /}
     * answered 200. The attestation itself is what the printed {@code atlas get} command checks.
     */
    private void awaitReachable(DeployedApp app) throws DevException, InterruptedException {
        List<String> ids = new ArrayList<>(app.instanceIds());
        ids.add(app.appId());
        for (String id : ids) {
            String host = id + "-443s." + layout.baseDomain();
            long deadline = System.nanoTime() + readyTimeout.toNanos();
            long backoff = 20;
            String last = "";
            while (true) {
                try {
                    int status = probe(host);
                    if (status == 200) {
                        break;
                    }
                    last = "HTTP " + status;
                } catch (IOException e) {
                    last = e.toString();
                }
                if (System.nanoTime() > deadline) {
                    throw fail(DevException.Kind.NOT_READY, app.name(), "https://" + host + ":" + layout.proxyPort()
                            + "/ not reachable through the gateway after " + readyTimeout.toSeconds() + " s: " + last
                            + " (see also " + layout.log("gateway") + ")");
                }
                Thread.sleep(backoff);
                backoff = Math.min(200, backoff * 2);
            }
        }
        step(app.name(), "answers through the gateway: " + app.url());
    }

    private int probe(String host) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", layout.proxyPort()), 1000);
            s.setSoTimeout(3000);
            SSLSocket t = (SSLSocket) PROBE.getSocketFactory().createSocket(s, host,
                    layout.proxyPort(), true);
            SSLParameters sp = t.getSSLParameters();
            sp.setServerNames(List.of(new SNIHostName(host)));
            t.setSSLParameters(sp);
            t.startHandshake();
            OutputStream o = t.getOutputStream();
            o.write(("GET / HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            o.flush();
            InputStream in = t.getInputStream();
            byte[] buf = new byte[64];
            int n = in.readNBytes(buf, 0, 12);
            String line = new String(buf, 0, n, StandardCharsets.US_ASCII);
            if (!line.startsWith("HTTP/1.")) {
                throw new IOException("not HTTP: " + line);
            }
            return Integer.parseInt(line.substring(9, 12));
        } catch (NumberFormatException e) {
            throw new IOException("bad status line", e);
        }
    }

    /** Allows or denies an app's compose hash at the auth server (the KMS asks it at every key request). */
    public void setAllowed(DeployedApp app, boolean allowed) throws DevException {
        for (JsonNode a : state.path("apps")) {
            if (a.path("name").asText().equals(app.name())) {
                ((ObjectNode) a).put("allowed", allowed);
                try {
                    writeAuthConfig();
                    saveState();
                } catch (IOException e) {
                    throw new DevException(DevException.Kind.IO, "auth", layout.log("auth"), "cannot write "
                            + layout.authConfig() + ": " + e.getMessage(), e);
                }
                step(app.name(), (allowed ? "allowed" : "denied") + " in auth-config.json");
                return;
            }
        }
        throw new DevException(DevException.Kind.CONFIG, app.name(), null, "no such app in this devnet");
    }

    private JsonNode vmmCall(String method, String body) throws DevException {
        try {
            HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(layout.vmmUrl() + "/prpc/" + method
                    + "?json")).timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
                    .header("Authorization", "Bearer " + state.path("vmm_token").asText())
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) {
                throw new DevException(DevException.Kind.STEP_FAILED, "vmm", layout.log("vmm"), method + ": HTTP "
                        + r.statusCode() + " " + r.body());
            }
            return r.body().isEmpty() ? Configs.JSON.createObjectNode() : Configs.JSON.readTree(r.body());
        } catch (IOException e) {
            throw new DevException(DevException.Kind.STEP_FAILED, "vmm", layout.log("vmm"), method + ": "
                    + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DevException(DevException.Kind.STEP_FAILED, "vmm", layout.log("vmm"), method + ": interrupted", e);
        }
    }

    private Path appLog(String appName) {
        for (JsonNode a : state.path("apps")) {
            if (a.path("name").asText().equals(appName) && a.path("vm_ids").size() > 0) {
                return layout.vms().resolve(a.path("vm_ids").get(0).asText()).resolve("serial.log");
            }
        }
        return layout.log("vmm");
    }

    // ==== accessors =================================================================================================

    public Path dir() {
        return layout.dir();
    }

    /** Where clients connect for every app URL: 127.0.0.1 and the gateway's proxy port (SNI picks the app). */
    public InetSocketAddress gatewayProxyAddress() {
        return new InetSocketAddress("127.0.0.1", layout.proxyPort());
    }

    public String baseDomain() {
        return layout.baseDomain();
    }

    /** PEM of the CA that signed the gateway's {@code *.<base>} certificate (trust it for terminated URLs). */
    public Path gatewayCaCertificate() {
        return layout.proxyCa();
    }

    /** The mock PCCS every simulated CVM's collateral comes from. */
    public String pccsUrl() {
        return layout.pccsUrl();
    }

    /** PEM of the mock Intel root (trust it through {@code --root-ca}, the for-testing option). */
    public Path mockRootCertificate() {
        return layout.mockRoot();
    }

    /** The auth server's config ({@code auth-config.json}). */
    public Path authConfig() {
        return layout.authConfig();
    }

    public URI authUrl() {
        return URI.create(layout.authUrl());
    }

    /** The KMS's main RPC, {@code https://127.0.0.1:<port>}. */
    public URI kmsUrl() {
        return URI.create(layout.kmsUrl());
    }

    /** The gateway's RPC, {@code https://127.0.0.1:<port>}. */
    public URI gatewayRpcUrl() {
        return URI.create(layout.gatewayRpcUrl());
    }

    /** The gateway's admin API and dashboard ({@link #gatewayAdminToken()} as Bearer). */
    public URI gatewayAdminUrl() {
        return URI.create(layout.gatewayAdminUrl());
    }

    public String gatewayAdminToken() {
        return state.path("admin_token").asText();
    }

    /** The VMM's pRPC and dashboard, {@code http://127.0.0.1:<port>} ({@link #vmmToken()} as Bearer). */
    public URI vmmUrl() {
        return URI.create(layout.vmmUrl());
    }

    public String vmmToken() {
        return state.path("vmm_token").asText();
    }

    /** {@code DIR/hosts}: every app host name at 127.0.0.1, for {@code -Djdk.net.hosts.file}. */
    public Path hostsFile() {
        return layout.hosts();
    }

    /** {@code DIR/logs/<component>.log} (for an app: its first VM's serial log). */
    public Path logFile(String component) {
        return COMPONENTS.contains(component) ? layout.log(component) : appLog(component);
    }

    /** The guide's "Access services" table rows: service, URL, notes. */
    public List<String[]> accessServices() {
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"VMM dashboard", layout.vmmUrl() + "/?token=<vmm_token in devnet.json>",
            "deploy and manage CVMs (pRPC /prpc/*, Bearer token)"});
        rows.add(new String[] {"KMS", layout.kmsUrl(), "RPC /prpc/KMS.*, /health, /metrics; bootstrapped"});
        rows.add(new String[] {"Gateway RPC", layout.gatewayRpcUrl(), "RegisterCvm (RA-TLS clients only)"});
        rows.add(new String[] {"Gateway admin", layout.gatewayAdminUrl() + "/", "dashboard, /prpc/Admin.* (Bearer "
                + "admin_token in devnet.json)"});
        rows.add(new String[] {"Gateway proxy", "https://<app_id>[-<port>[s|g]]." + layout.baseDomain() + ":"
                + layout.proxyPort() + "/", "apps; no DNS: 127.0.0.1 + SNI (hosts file " + layout.hosts() + ")"});
        rows.add(new String[] {"Auth server", layout.authUrl(), "auth-simple webhook; edit " + layout.authConfig()});
        rows.add(new String[] {"Mock PCCS", layout.pccsUrl(), "collateral of the mock Intel root " + layout.mockRoot()});
        return rows;
    }
}
