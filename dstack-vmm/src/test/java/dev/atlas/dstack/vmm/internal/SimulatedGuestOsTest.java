package dev.atlas.dstack.vmm.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.EnvCrypt;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.kms.KmsClient;
import dev.atlas.dstack.simulator.SimulatedGuestOs;
import dev.atlas.dstack.testing.DstackTestbed;
import dev.atlas.dstack.vmm.CvmBackend;
import dev.atlas.dstack.vmm.CvmProcess;
import dev.atlas.dstack.vmm.VmLaunch;
import dev.atlas.dstack.vmm.VmmConfig;
import dev.atlas.dstack.vmm.VmmServer;
import java.net.ServerSocket;
import java.util.Optional;
import java.util.concurrent.LinkedBlockingQueue;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.URI;
import java.net.UnixDomainSocketAddress;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One testbed for the class (its KMS bootstrap is the expensive part). The simulated guest OS booting from a host share written here, against a {@link DstackTestbed} (mock PCCS, auth
 * webhook, bootstrapped KMS): keys from the KMS once the auth server allows the compose hash, refused (and
 * {@code boot.error} posted through the host API) when it does not; env decrypted; the bash app answering on its
 * mapped host port.
 */
class SimulatedGuestOsTest {
    static final HexFormat HEX = HexFormat.of();
    static final ObjectMapper JSON = new ObjectMapper();

    /** The app: a python HTTP server on DSTACK_VM_ADDRESS:8080 that reports what it sees; says "ready" on a socket. */
    static final String APP = """
            import os, socket, http.server
            class H(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    body = ("secret=%s other=%s agent=%s" % (os.environ.get("SECRET", "-"), os.environ.get("OTHER", "-"),
                            os.path.exists(os.environ["DSTACK_SIMULATOR_ENDPOINT"]))).encode()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                def log_message(self, *a):
                    pass
            s = http.server.HTTPServer((os.environ["DSTACK_VM_ADDRESS"], 8080), H)
            r = socket.socket(socket.AF_UNIX)
            r.connect(os.environ["READY_SOCKET"])
            r.close()
            s.serve_forever()
            """;

    @TempDir
    static Path dir;
    static DstackTestbed tb;
    static NotifySink hostApi;

    @BeforeAll
    static void start() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")), "needs /usr/bin/python3 for the test app");
        tb = DstackTestbed.start(dir.resolve("tb"));
        hostApi = new NotifySink(dir.resolve("host-api.sock"));
    }

    @AfterAll
    static void stop() throws Exception {
        if (hostApi != null) {
            hostApi.close();
        }
        if (tb != null) {
            tb.close();
        }
    }

    static String bashCompose(String name) {
        ObjectNode c = JSON.createObjectNode();
        c.put("manifest_version", 2);
        c.put("name", name);
        c.put("runner", "bash");
        c.put("bash_script", "exec /usr/bin/python3 -c '" + APP + "'\n");
        c.put("kms_enabled", true);
        c.put("gateway_enabled", false);
        c.putArray("allowed_envs").add("SECRET").add("READY_SOCKET");
        return c.toPrettyString();
    }

    /** A host share as the VMM writes it (§6.3). */
    static Path hostShare(String name, String compose, byte[] env, byte[] instanceSeed) throws Exception {
        return hostShare(name, compose, env, instanceSeed, List.of());
    }

    static Path hostShare(String name, String compose, byte[] env, byte[] instanceSeed, List<String> gateways)
            throws Exception {
        Path share = Files.createDirectories(dir.resolve(name).resolve("shared"));
        Files.writeString(share.resolve("app-compose.json"), compose);
        ObjectNode vm = JSON.createObjectNode();
        vm.put("spec_version", 1);
        vm.put("os_image_hash", tb.osImageHash());
        vm.put("cpu_count", 1);
        vm.put("memory_size", 1073741824L);
        ObjectNode sys = JSON.createObjectNode();
        sys.putArray("kms_urls").add(tb.kmsUrl().toString());
        gateways.forEach(sys.putArray("gateway_urls")::add);
        sys.put("pccs_url", tb.pccsUrl());
        sys.putNull("docker_registry");
        sys.put("host_api_url", "vsock://2:10000/api");
        sys.put("vm_config", vm.toString());
        Files.writeString(share.resolve(".sys-config.json"), sys.toPrettyString());
        Files.writeString(share.resolve(".instance_info"), "{\"instance_id_seed\":\"" + HEX.formatHex(instanceSeed)
                + "\",\"app_id\":\"\"}");
        if (env != null) {
            Files.write(share.resolve(".encrypted-env"), env);
        }
        Files.writeString(share.resolve(".user-config"), "");
        return share;
    }

    static byte[] sha256(byte[] b) throws Exception {
        return MessageDigest.getInstance("SHA-256").digest(b);
    }

    @Test
    void bootsWithKmsKeysDecryptsEnvAndServesTheAppOnItsMappedPort() throws Exception {
        String compose = bashCompose("sim-app");
        byte[] appId = Arrays.copyOf(sha256(compose.getBytes(StandardCharsets.UTF_8)), 20);
        tb.allowApp(HEX.formatHex(appId), HEX.formatHex(sha256(compose.getBytes(StandardCharsets.UTF_8))));
        Path ready = dir.resolve("ready.sock");
        byte[] envPub;
        try (KmsClient kc = KmsClient.builder(tb.kmsUrl()).insecureSkipServerAttestation().build()) {
            envPub = kc.getAppEnvEncryptPubKey(appId).publicKey();
        }
        byte[] env = EnvCrypt.encrypt(List.of(new EnvCrypt.EnvVar("SECRET", "s3cr3t-value"),
                new EnvCrypt.EnvVar("READY_SOCKET", ready.toString()), new EnvCrypt.EnvVar("OTHER", "not-allowed")),
                envPub, new SecureRandom());
        byte[] seed = new byte[20];
        Arrays.fill(seed, (byte) 7);
        Path share = hostShare("sim-app", compose, env, seed);
        hostApi.clear();
        ByteArrayOutputStream logBytes = new ByteArrayOutputStream();
        PrintStream log = new PrintStream(logBytes, true, StandardCharsets.UTF_8);
        try (ServerSocketChannel readySock = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            readySock.bind(UnixDomainSocketAddress.of(ready));
            try (SimulatedGuestOs os = SimulatedGuestOs.builder().hostShare(share).workDir(share.resolveSibling("work"))
                    .cid(30001).hostApi(hostApi.socket()).pkiSeed(tb.pkiSeed()).log(log)
                    .appLog(share.resolveSibling("app.log"))
                    .port(new SimulatedGuestOs.PortMapping("tcp", "127.0.0.1", 0, 8080)).start()) {
                // ids (§6.4): app id = compose hash prefix, instance id = SHA-256(seed ‖ app id)[0..20]
                assertArrayEquals(appId, os.appId());
                byte[] idPath = new byte[40];
                System.arraycopy(seed, 0, idPath, 0, 20);
                System.arraycopy(appId, 0, idPath, 20, 20);
                assertArrayEquals(Arrays.copyOf(sha256(idPath), 20), os.instanceId());
                assertEquals("127.254.117.49", os.vmAddress().getHostAddress());
                assertTrue(Files.exists(os.agentSocket()));
                // the KMS released the keys: the GetKey chain ends at the KMS's root k256 key
                assertTrue(os.agent().kmsPublicKey().isPresent());
                hostApi.await("requesting app keys", Duration.ofSeconds(5));
                hostApi.await("instance.info", Duration.ofSeconds(5));
                hostApi.await("running main script", Duration.ofSeconds(5));

                // the app says it is listening
                CompletableFuture<SocketChannel> accepted = CompletableFuture.supplyAsync(() -> {
                    try {
                        return readySock.accept();
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }, r -> Thread.ofVirtual().start(r));
                accepted.get(15, TimeUnit.SECONDS).close();

                InetSocketAddress host = os.forwardedPorts().getFirst();
                HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                        + host.getPort() + "/")).timeout(Duration.ofSeconds(5)).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(200, r.statusCode());
                assertEquals("secret=s3cr3t-value other=- agent=True", r.body());
                String out = logBytes.toString(StandardCharsets.UTF_8);
                assertTrue(out.contains("Skipping unauthorized environment variable: OTHER"), out);
                assertFalse(out.contains("s3cr3t-value"), "the log never shows env values: " + out);
            }
        }
        // closed: socket removed, port released
        assertFalse(Files.exists(share.resolveSibling("work").resolve(SimulatedGuestOs.AGENT_SOCKET)));
    }

    /** Records the processes of a backend, so the test can wait for their exit. */
    record Recording(CvmBackend inner, LinkedBlockingQueue<CvmProcess> started) implements CvmBackend {
        public String name() {
            return inner.name();
        }

        public CvmProcess start(VmLaunch l) throws RaException {
            CvmProcess p = inner.start(l);
            started.add(p);
            return p;
        }

        public Optional<CvmProcess> adopt(VmLaunch l) {
            Optional<CvmProcess> p = inner.adopt(l);
            p.ifPresent(started::add);
            return p;
        }

        public void close() {
            inner.close();
        }
    }

    static String call(HttpClient http, String base, String method, String json) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/prpc/" + method + "?json"))
                .timeout(Duration.ofSeconds(20)).POST(HttpRequest.BodyPublishers.ofString(json)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), method + ": " + r.body());
        return r.body();
    }

    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /**
     * End to end through the VMM: CreateVm with the simulator backend (a child JVM per VM) → the app answers on its
     * mapped host port with its decrypted env → the VMM restarts and re-adopts the running VM → ShutdownVm (SIGTERM:
     * app tree stopped, agent socket removed) → StopVm → RemoveVm.
     */
    @Test
    void vmmCreateVmBootsASimulatedCvmThatAnswersOnItsMappedPortThenStopAndRemove() throws Exception {
        String compose = bashCompose("vmm-app");
        byte[] composeHash = sha256(compose.getBytes(StandardCharsets.UTF_8));
        byte[] appId = Arrays.copyOf(composeHash, 20);
        tb.allowApp(HEX.formatHex(appId), HEX.formatHex(composeHash));
        Path images = Files.createDirectories(dir.resolve("images/dstack-sim-0.5.0"));
        Files.writeString(images.resolve("metadata.json"), "{\"kernel\":\"bzImage\",\"initrd\":\"initramfs\","
                + "\"cmdline\":\"console=ttyS0\",\"version\":\"0.5.0\",\"is_dev\":true}");
        Files.writeString(images.resolve("bzImage"), "");
        Files.writeString(images.resolve("initramfs"), "");
        Files.writeString(images.resolve("digest.txt"), tb.osImageHash());
        int hostPort = freePort();
        String toml = "address = \"tcp:127.0.0.1:0\"\n"
                + "run_path = \"" + dir.resolve("run") + "\"\n"
                + "kms_url = \"" + tb.kmsUrl() + "\"\n"
                + "[image]\npath = \"" + dir.resolve("images") + "\"\n"
                + "[cvm]\nbackend = \"simulator\"\nkms_urls = [\"" + tb.kmsUrl() + "\"]\ngateway_urls = []\n"
                + "cid_start = 31000\ncid_pool_size = 4\npccs_url = \"" + tb.pccsUrl() + "\"\n"
                + "[cvm.port_mapping]\nenabled = true\naddress = \"127.0.0.1\"\n"
                + "range = [{ protocol = \"tcp\", from = 1, to = 65535 }]\n"
                + "[cvm.simulator]\npki_seed = " + tb.pkiSeed() + "\n";
        VmmConfig config = VmmConfig.parse(toml, dir);
        LinkedBlockingQueue<CvmProcess> procs = new LinkedBlockingQueue<>();
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        Path ready = dir.resolve("vmm-ready.sock");
        byte[] envPub;
        try (KmsClient kc = KmsClient.builder(tb.kmsUrl()).insecureSkipServerAttestation().build()) {
            envPub = kc.getAppEnvEncryptPubKey(appId).publicKey();
        }
        byte[] env = EnvCrypt.encrypt(List.of(new EnvCrypt.EnvVar("SECRET", "from-the-vmm"),
                new EnvCrypt.EnvVar("READY_SOCKET", ready.toString())), envPub, new SecureRandom());
        ObjectNode req = JSON.createObjectNode();
        req.put("name", "vmm-app");
        req.put("image", "dstack-sim-0.5.0");
        req.put("compose_file", compose);
        req.put("vcpu", 1);
        req.put("memory", 1024);
        req.put("disk_size", 1);
        ObjectNode port = req.putArray("ports").addObject();
        port.put("protocol", "tcp");
        port.put("host_port", hostPort);
        port.put("vm_port", 8080);
        port.put("host_address", "127.0.0.1");
        req.put("encrypted_env", HEX.formatHex(env));
        String id;
        CvmProcess proc = null;
        List<CvmProcess> all = new java.util.concurrent.CopyOnWriteArrayList<>();
        try (ServerSocketChannel readySock = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            readySock.bind(UnixDomainSocketAddress.of(ready));
            CompletableFuture<SocketChannel> accepted = CompletableFuture.supplyAsync(() -> {
                try {
                    return readySock.accept();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }, r -> Thread.ofVirtual().start(r));
            try (VmmServer vmm = VmmServer.builder(config).backend(new Recording(new SimulatorBackend(config), procs))
                    .start()) {
                String base = vmm.httpBase().orElseThrow();
                id = JSON.readTree(call(http, base, "CreateVm", req.toString())).get("id").asText();
                proc = procs.poll(20, TimeUnit.SECONDS);
                assertTrue(proc != null, "the backend started no process");
                all.add(proc);
                try {
                    accepted.get(30, TimeUnit.SECONDS).close();
                } catch (java.util.concurrent.TimeoutException e) {
                    throw new AssertionError("the app never said ready; serial log: " + readLog(id), e);
                }
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + hostPort
                        + "/")).timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
                assertEquals("secret=from-the-vmm other=- agent=True", r.body());
                assertTrue(Files.exists(dir.resolve("run").resolve(id).resolve("vm.pid")));
                // the guest's HostApi.Notify reached the VMM (VmInfo.boot_progress, events)
                com.fasterxml.jackson.databind.JsonNode vm = JSON.readTree(call(http, base, "GetInfo",
                        "{\"id\":\"" + id + "\"}")).path("info");
                assertEquals("running main script", vm.path("boot_progress").asText(), vm.toString());
                assertTrue(vm.path("events").toString().contains("requesting app keys"), vm.toString());
            }
            // the VMM restarts; the VM keeps running and is re-adopted
            try (VmmServer vmm = VmmServer.builder(config).backend(new Recording(new SimulatorBackend(config), procs))
                    .start()) {
                CvmProcess adopted = procs.poll(20, TimeUnit.SECONDS);
                assertTrue(adopted != null, "the VM was not re-adopted");
                all.add(adopted);
                assertEquals(proc.pid(), adopted.pid());
                String base = vmm.httpBase().orElseThrow();
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + hostPort
                        + "/")).timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
                assertEquals(200, r.statusCode());
                // ShutdownVm: SIGTERM, the guest stops its app (the whole tree) and removes its agent socket
                List<ProcessHandle> tree = ProcessHandle.of(proc.pid()).orElseThrow().descendants().toList();
                assertFalse(tree.isEmpty(), "the app runs as a child of the guest");
                assertTrue(Files.exists(dir.resolve("run").resolve(id).resolve(SimulatedGuestOs.AGENT_SOCKET)));
                call(http, base, "ShutdownVm", "{\"id\":\"" + id + "\"}");
                adopted.onExit().get(20, TimeUnit.SECONDS);
                assertFalse(ProcessHandle.of(proc.pid()).map(ProcessHandle::isAlive).orElse(false));
                for (ProcessHandle h : tree) {
                    h.onExit().get(10, TimeUnit.SECONDS);
                }
                assertFalse(Files.exists(dir.resolve("run").resolve(id).resolve(SimulatedGuestOs.AGENT_SOCKET)));
                call(http, base, "StopVm", "{\"id\":\"" + id + "\"}");
                call(http, base, "RemoveVm", "{\"id\":\"" + id + "\"}");
                assertFalse(Files.exists(dir.resolve("run").resolve(id)), "RemoveVm left the VM directory");
            }
        } finally {
            // a failed test must not leave simulated guests behind
            procs.forEach(all::add);
            all.stream().filter(CvmProcess::isAlive).forEach(CvmProcess::kill);
        }
    }

    static String readLog(String id) {
        try {
            return Files.readString(dir.resolve("run").resolve(id).resolve("serial.log")) + "\n--- stdout.log:\n"
                    + Files.readString(dir.resolve("run").resolve(id).resolve("stdout.log"));
        } catch (Exception e) {
            return "(" + e + ")";
        }
    }

    @Test
    void kmsRefusesAComposeTheAuthServerDoesNotAllow() throws Exception {
        String compose = bashCompose("sim-denied");
        Path share = hostShare("sim-denied", compose, null, new byte[20]);
        hostApi.clear();
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        RaException e = assertThrows(RaException.class, () -> SimulatedGuestOs.builder().hostShare(share)
                .workDir(share.resolveSibling("work")).cid(30002).hostApi(hostApi.socket()).pkiSeed(tb.pkiSeed())
                .log(quiet).start());
        assertEquals(RaException.Reason.BOOT_DENIED, e.raReason(), e.getMessage());
        assertTrue(e.getMessage().contains("Boot denied"), e.getMessage());
        NotifySink.Note n = hostApi.await("boot.error", Duration.ofSeconds(5));
        assertEquals("/api/Notify", n.path());
        assertTrue(n.body().contains("Boot denied"), n.body());
        assertFalse(Files.exists(share.resolveSibling("work").resolve(SimulatedGuestOs.AGENT_SOCKET)));
    }

    /** dstack-util: a gateway that cannot register the CVM leaves it without ingress, it does not fail the boot. */
    @Test
    void aGatewayThatIsDownIsABootErrorButTheAppStillBoots() throws Exception {
        ObjectNode c = (ObjectNode) JSON.readTree(bashCompose("sim-gw-down"));
        c.put("gateway_enabled", true);
        c.put("bash_script", "exit 0\n");
        String compose = c.toPrettyString();
        byte[] hash = sha256(compose.getBytes(StandardCharsets.UTF_8));
        tb.allowApp(HEX.formatHex(Arrays.copyOf(hash, 20)), HEX.formatHex(hash));
        Path share = hostShare("sim-gw-down", compose, null, new byte[20],
                List.of("https://127.0.0.1:" + freePort()));
        hostApi.clear();
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        try (SimulatedGuestOs os = SimulatedGuestOs.builder().hostShare(share).workDir(share.resolveSibling("work"))
                .cid(30003).hostApi(hostApi.socket()).pkiSeed(tb.pkiSeed()).log(quiet)
                .insecureGatewayLoopbackTransport().start()) {
            NotifySink.Note n = hostApi.await("boot.error", Duration.ofSeconds(10));
            assertTrue(n.body().contains("dstack-gateway registration failed, the app has no ingress route"), n.body());
            assertEquals("127.254.117.51", os.vmAddress().getHostAddress(), "no gateway: the CID's address");
            assertEquals(0, os.appExit().get(10, TimeUnit.SECONDS));
            hostApi.await("\"done\"", Duration.ofSeconds(5));
        }
    }

    @Test
    void dockerComposeWithoutADockerEngineIsAClearBootError() throws Exception {
        assumeFalse(Files.exists(Path.of("/var/run/docker.sock")), "a Docker engine is present here");
        ObjectNode c = (ObjectNode) JSON.readTree(bashCompose("sim-docker"));
        c.put("runner", "docker-compose");
        c.put("docker_compose_file", "services: {}\n");
        Path share = hostShare("sim-docker", c.toPrettyString(), null, new byte[20]);
        hostApi.clear();
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        RaException e = assertThrows(RaException.class, () -> SimulatedGuestOs.builder().hostShare(share)
                .workDir(share.resolveSibling("work")).hostApi(hostApi.socket()).pkiSeed(tb.pkiSeed()).log(quiet)
                .start());
        assertEquals(RaException.Reason.CONFIG_UNSUPPORTED, e.raReason());
        assertTrue(e.getMessage().contains("needs a Docker engine"), e.getMessage());
        assertTrue(hostApi.await("boot.error", Duration.ofSeconds(5)).body().contains("Docker engine"));
    }
}
