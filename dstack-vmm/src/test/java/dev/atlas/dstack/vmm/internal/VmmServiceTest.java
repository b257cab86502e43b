package dev.atlas.dstack.vmm.internal;

import static dev.atlas.dstack.vmm.internal.VmmFixture.JSON;
import static dev.atlas.dstack.vmm.internal.VmmFixture.call;
import static dev.atlas.dstack.vmm.internal.VmmFixture.vm;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.vmm.VmLaunch;
import dev.atlas.dstack.vmm.VmmConfig;
import dev.atlas.dstack.vmm.VmmServer;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code Vmm} service over HTTP against a {@link FakeBackend}: every method's JSON against the field names of
 * dstack's {@code vmm_rpc.proto}, the host share files, the lifecycle, and every bad input of issue 20 with the
 * check that nothing half-created stays (no directory, no CID).
 */
class VmmServiceTest {
    @TempDir
    static Path dir;
    static FakeBackend backend;
    static VmmServer server;
    static String base;
    static StubKmsServer kms;
    static Map<String, Set<String>> proto;

    @BeforeAll
    static void start() throws Exception {
        proto = ProtoFields.vmmRpc();
        kms = new StubKmsServer(java.time.Clock.systemUTC());
        VmmConfig c = VmmFixture.config(dir, "tcp:127.0.0.1:0", "");
        c = VmmConfig.parse(VmmFixture.toml(dir, "tcp:127.0.0.1:0", "").replace("http://127.0.0.1:1", kms.url()), dir);
        backend = new FakeBackend();
        server = VmmServer.builder(c).backend(backend).environment(Map.of()).start();
        base = server.httpBase().orElseThrow();
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
        if (kms != null) {
            kms.close();
        }
    }

    @AfterEach
    void removeAll() throws Exception {
        JsonNode st = call(base, "Status", null, null).json();
        for (JsonNode v : st.get("vms")) {
            call(base, "StopVm", id(v.get("id").asText()), null);
            call(base, "RemoveVm", id(v.get("id").asText()), null);
        }
        assertEquals(List.of(), runDirs());
    }

    @Test
    void createStatusInfoAndTheHostShareHaveDstacksShapes() throws Exception {
        ObjectNode req = vm("web-1");
        req.putArray("ports").addObject().put("protocol", "tcp").put("host_port", 18080).put("vm_port", 8080)
                .put("host_address", "127.0.0.1");
        req.put("encrypted_env", "0xA1b2");
        req.put("user_config", "{\"k\":1}");
        VmmFixture.Reply r = call(base, "CreateVm", req, null);
        assertEquals(200, r.status(), r.body());
        assertShape("Id", r.json());
        String id = r.json().get("id").asText();

        JsonNode st = call(base, "Status", null, null).json();
        assertShape("StatusResponse", st);
        assertEquals(1, st.get("total").asInt());
        assertTrue(st.get("port_mapping_enabled").asBoolean());
        JsonNode info = st.get("vms").get(0);
        assertShape("VmInfo", info);
        assertShape("VmConfiguration", info.get("configuration"));
        assertShape("PortMapping", info.get("configuration").get("ports").get(0));
        assertSubset("NetworkInterfaceStatus", info.get("interfaces").get(0));
        String compose = VmmFixture.compose("web-1");
        String appId = sha256(compose.getBytes(StandardCharsets.UTF_8)).substring(0, 40);
        assertEquals(id, info.get("id").asText());
        assertEquals("running", info.get("status").asText());
        assertEquals(appId, info.get("app_id").asText());
        assertEquals(compose, info.get("configuration").get("compose_file").asText());
        assertEquals("a1b2", info.get("configuration").get("encrypted_env").asText());
        assertFalse(info.get("configuration").get("stopped").asBoolean());
        String instanceId = info.get("instance_id").asText();
        assertTrue(instanceId.matches("[0-9a-f]{40}"), instanceId);
        // no per-VM gateway_urls: [gateway] base_domain with port 443 (vm_info.rs app_url)
        assertEquals("https://" + instanceId + "-8090.app.example", info.get("app_url").asText());
        assertEquals("0.5.3", info.get("image_version").asText());

        // the host share, as dstack-types shared_filenames.rs and app.rs name and fill it
        Path shared = dir.resolve("run").resolve(id).resolve("shared");
        assertEquals(compose, Files.readString(shared.resolve("app-compose.json")));
        assertEquals("a1b2", HexFormat.of().formatHex(Files.readAllBytes(shared.resolve(".encrypted-env"))));
        assertEquals("{\"k\":1}", Files.readString(shared.resolve(".user-config")));
        JsonNode ii = JSON.readTree(Files.readAllBytes(shared.resolve(".instance_info")));
        assertEquals(Set.of("instance_id_seed", "instance_id", "app_id"), names(ii));
        assertEquals(appId, ii.get("app_id").asText());
        byte[] seedApp = HexFormat.of().parseHex(ii.get("instance_id_seed").asText() + appId);
        assertEquals(sha256(seedApp).substring(0, 40), instanceId);
        JsonNode sys = JSON.readTree(Files.readAllBytes(shared.resolve(".sys-config.json")));
        assertEquals(Set.of("kms_urls", "gateway_urls", "pccs_url", "collateral_urls", "nvidia_attestation_proxy_url",
                "docker_registry", "host_api_url", "vm_config"), names(sys));
        assertEquals("https://kms.example:9201", sys.get("kms_urls").get(0).asText());
        assertEquals("vsock://2:10000/api", sys.get("host_api_url").asText());
        JsonNode vmc = JSON.readTree(sys.get("vm_config").asText());
        assertEquals("64f0d1545cd510a8dfed7ad609d105b5d41f0cb2afcfdda8867ede00c88add7a",
                vmc.get("os_image_hash").asText());
        assertEquals(1, vmc.get("cpu_count").asInt());
        assertEquals(1024L * 1024 * 1024, vmc.get("memory_size").asLong());
        assertEquals(IMAGE_NAME, vmc.get("image").asText());
        JsonNode manifest = JSON.readTree(Files.readAllBytes(dir.resolve("run").resolve(id).resolve("vm-manifest.json")));
        assertEquals(18080, manifest.get("port_map").get(0).get("from").asInt());
        assertEquals(8080, manifest.get("port_map").get(0).get("to").asInt());

        VmLaunch l = backend.started.get(backend.started.size() - 1);
        assertEquals(30000, l.cid());
        assertEquals(List.of(new dev.atlas.dstack.vmm.PortMapping("tcp", "127.0.0.1", 18080, 8080)), l.ports());
        assertEquals(appId, l.appId());
        assertEquals(sha256(compose.getBytes(StandardCharsets.UTF_8)), l.composeHash());

        JsonNode gi = call(base, "GetInfo", id(id), null).json();
        assertShape("GetInfoResponse", gi);
        assertTrue(gi.get("found").asBoolean());
        JsonNode missing = call(base, "GetInfo", id("nope"), null).json();
        assertFalse(missing.get("found").asBoolean());

        // the legacy Teepod. prefix, GET with a query, brief
        JsonNode brief = JSON.readTree(VmmFixture.get(base + "/prpc/Teepod.Status?brief=true", null).body());
        assertTrue(brief.get("vms").get(0).get("configuration").isNull());
    }

    @Test
    void theOtherMethodsHaveDstacksShapes() throws Exception {
        ObjectNode req = vm("x");
        JsonNode h = call(base, "GetComposeHash", req, null).json();
        assertShape("ComposeHash", h);
        assertEquals(sha256(VmmFixture.compose("x").getBytes(StandardCharsets.UTF_8)), h.get("hash").asText());

        JsonNode images = call(base, "ListImages", null, null).json();
        assertShape("ImageListResponse", images);
        assertShape("ImageInfo", images.get("images").get(0));
        assertEquals(IMAGE_NAME, images.get("images").get(0).get("name").asText());
        assertEquals("0.5.3", images.get("images").get(0).get("version").asText());
        assertTrue(images.get("images").get(0).get("is_dev").asBoolean());
        assertEquals("bzImage", JSON.readTree(images.get("images").get(0).get("description").asText())
                .get("kernel").asText());

        assertShape("VersionResponse", call(base, "Version", null, null).json());
        JsonNode meta = call(base, "GetMeta", null, null).json();
        assertShape("GetMetaResponse", meta);
        assertShape("KmsSettings", meta.get("kms"));
        assertShape("GatewaySettings", meta.get("gateway"));
        assertShape("ResourcesSettings", meta.get("resources"));
        assertShape("NetworkingCapabilities", meta.get("networking"));
        assertEquals(3, meta.get("resources").get("max_cvm_number").asInt());
        assertEquals(8, meta.get("resources").get("max_allocable_vcpu").asInt());
        assertEquals(8192, meta.get("resources").get("max_allocable_memory_in_mb").asInt());
        assertEquals("app.example", meta.get("gateway").get("base_domain").asText());
        assertShape("ListGpusResponse", call(base, "ListGpus", null, null).json());
        JsonNode reload = call(base, "ReloadVms", null, null).json();
        assertShape("ReloadVmsResponse", reload);

        JsonNode key = call(base, "GetAppEnvEncryptPubKey", JSON.createObjectNode().put("app_id", "0x" + "ab".repeat(20)),
                null).json();
        assertShape("PublicKeyResponse", key);
        assertEquals("42".repeat(32), key.get("public_key").asText());
    }

    @Test
    void aKmsWhoseEnvKeySignatureDoesNotVerifyIsRefused() throws Exception {
        kms.signer = StubKmsServer.key((byte) 0x22);
        try {
            VmmFixture.Reply r = call(base, "GetAppEnvEncryptPubKey", JSON.createObjectNode().put("app_id",
                    "ab".repeat(20)), null);
            assertEquals(400, r.status(), r.body());
            assertTrue(r.json().get("error").asText().contains("signature does not verify"), r.body());
            assertTrue(r.json().get("error").asText().contains("SIGNER_MISMATCH"), r.body());
        } finally {
            kms.signer = kms.root;
        }
    }

    @Test
    void lifecycleStopStartShutdownRemoveUpdateResize() throws Exception {
        String id = create(vm("life"));
        assertEquals("running", status(id));
        ok("StopVm", id(id));
        assertEquals("stopped", status(id));
        assertTrue(call(base, "GetInfo", id(id), null).json().get("info").get("configuration").get("stopped")
                .asBoolean());
        ok("StartVm", id(id));
        assertEquals("running", status(id));
        FakeBackend.Proc p = FakeBackend.PROCESSES.values().stream().filter(FakeBackend.Proc::isAlive)
                .max((a, b) -> Long.compare(a.pid, b.pid)).orElseThrow();
        ok("ShutdownVm", id(id));
        assertTrue(p.shutdownRequested);
        assertEquals("stopped", status(id));

        // resize needs a stopped VM; shrink refused; beyond GetMeta refused
        ok("StartVm", id(id));
        assertError("ResizeVm", JSON.createObjectNode().put("id", id).put("vcpu", 2), "vm should be stopped before resize");
        ok("StopVm", id(id));
        assertError("ResizeVm", JSON.createObjectNode().put("id", id), "resize request contains no updates");
        assertError("ResizeVm", JSON.createObjectNode().put("id", id).put("disk_size", 5), "Cannot shrink disk size");
        assertError("ResizeVm", JSON.createObjectNode().put("id", id).put("vcpu", 9), "exceeds max_allocable_vcpu");
        ok("ResizeVm", JSON.createObjectNode().put("id", id).put("vcpu", 2).put("memory", 2048).put("disk_size", 20));
        JsonNode conf = call(base, "GetInfo", id(id), null).json().get("info").get("configuration");
        assertEquals(2, conf.get("vcpu").asInt());
        assertEquals(2048, conf.get("memory").asInt());
        assertEquals(20, conf.get("disk_size").asInt());

        // UpgradeApp: a new compose (validated first), env, ports
        String compose2 = VmmFixture.compose("life2");
        JsonNode up = call(base, "UpgradeApp", JSON.createObjectNode().put("id", id).put("compose_file", compose2)
                .put("encrypted_env", "beef").put("update_ports", true).set("ports", JSON.createArrayNode()), null)
                .json();
        assertShape("Id", up);
        assertEquals(sha256(compose2.getBytes(StandardCharsets.UTF_8)).substring(0, 40), up.get("id").asText());
        Path shared = dir.resolve("run").resolve(id).resolve("shared");
        assertEquals(compose2, Files.readString(shared.resolve("app-compose.json")));
        assertError("UpdateVm", JSON.createObjectNode().put("id", id).put("compose_file", "{"),
                "Invalid compose file");
        assertEquals(compose2, Files.readString(shared.resolve("app-compose.json")));

        ok("RemoveVm", id(id));
        assertFalse(Files.exists(dir.resolve("run").resolve(id)));
        assertError("StartVm", id(id), "VM not found");
    }

    @Test
    void statusFiltersAndPages() throws Exception {
        String a = create(vm("alpha"));
        String b = create(vm("beta"));
        String c = create(vm("gamma"));
        JsonNode all = call(base, "Status", null, null).json();
        assertEquals(List.of(a, b, c), ids(all));
        assertEquals(List.of(b), ids(call(base, "Status", JSON.createObjectNode().put("keyword", "bet"), null).json()));
        ObjectNode byId = JSON.createObjectNode();
        byId.putArray("ids").add(c).add(a);
        assertEquals(List.of(a, c), ids(call(base, "Status", byId, null).json()));
        JsonNode page2 = call(base, "Status", JSON.createObjectNode().put("page", 2).put("page_size", 2), null).json();
        assertEquals(List.of(c), ids(page2));
        assertEquals(3, page2.get("total").asInt());
    }

    @Test
    void badInputsAreRefusedAndLeaveNothingBehind() throws Exception {
        String other = create(withPort(vm("holder"), "tcp", 19000));
        List<Path> before = runDirs();
        refused(vm("a").put("compose_file", "not json"), "Invalid compose file: not JSON");
        refused(vm("a").put("compose_file", "[1]"), "Invalid compose file: expected a JSON object");
        refused(vm("a").put("compose_file", "{\"manifest_version\":2,\"name\":\"a\"}"),
                "Invalid compose file: field `runner`");
        refused(vm("a").put("compose_file", "{\"manifest_version\":2,\"name\":\"a\",\"runner\":\"bash\","
                + "\"kms_enabled\":\"yes\"}"), "field `kms_enabled` is not a boolean");
        refused(vm("a/b"), "Invalid name: a/b");
        refused(vm(""), "Invalid name");
        refused(withPort(vm("a"), "tcp", 20001), "Port mapping is not allowed for tcp:20001");
        refused(withPort(vm("a"), "sctp", 80), "Port mapping is not allowed for sctp:80");
        ObjectNode twice = withPort(vm("a"), "tcp", 18000);
        ((com.fasterxml.jackson.databind.node.ArrayNode) twice.get("ports")).addObject().put("protocol", "tcp")
                .put("host_port", 18000).put("vm_port", 81).put("host_address", "0.0.0.0");
        refused(twice, "duplicate host port mapping: tcp 0.0.0.0:18000");
        refused(withPort(vm("a"), "tcp", 19000), "host port mapping conflicts with VM " + other);
        refused(vm("a").put("vcpu", 9), "vcpu 9 exceeds max_allocable_vcpu 8");
        refused(vm("a").put("memory", 8193), "memory 8193 MB exceeds max_allocable_memory_in_mb 8192");
        refused(vm("a").put("vcpu", 0), "vcpu must be greater than zero");
        refused(vm("a").put("image", "no-such-image"), "image no-such-image not found");
        refused(vm("a").put("image", "../etc"), "Invalid image name");
        refused(vm("a").put("vcpu", "1"), "field `vcpu`");
        refused(vm("a").put("app_id", "0xzz"), "Invalid app_id");
        refused(vm("a").put("simulated_tee", "dstack-sgx"), "invalid simulated_tee: dstack-sgx");
        ObjectNode gpu = vm("a");
        gpu.putObject("gpus").put("attach_mode", "listed").putArray("gpus").addObject().put("slot", "01:00.0");
        refused(gpu, "GPU is not enabled");
        backend.failNextStart = true;
        refused(vm("a"), "Failed to start VM");
        assertEquals(before, runDirs());
        // the CIDs are all free again: the pool of 3 holds "holder" and two more, then is exhausted
        String x = create(vm("x").put("stopped", true));
        String y = create(vm("y").put("stopped", true));
        assertEquals(List.of(30000L, 30001L, 30002L), List.of(cid(other), cid(x), cid(y)));
        List<Path> full = runDirs();
        VmmFixture.Reply r = call(base, "CreateVm", vm("z"), null);
        assertEquals(400, r.status());
        String err = r.json().get("error").asText();
        assertTrue(err.contains("CID pool exhausted") && err.contains("cid_start 30000")
                && err.contains("cid_pool_size"), err);
        assertEquals(full, runDirs());
        // removing a running VM is refused; the VM stays
        assertError("RemoveVm", id(other), "Failed to remove VM: VM is running, stop it first");
        assertEquals("running", status(other));
        // freed CIDs are handed out again, lowest first
        ok("RemoveVm", id(x));
        assertEquals(30001L, cid(create(vm("w").put("stopped", true))));
    }

    @Test
    void portMappingAddressDefaultsAndUnspecifiedConflicts() throws Exception {
        ObjectNode r = vm("p");
        r.putArray("ports").addObject().put("protocol", "udp").put("host_port", 5353).put("vm_port", 53);
        String id = create(r);
        JsonNode p = call(base, "GetInfo", id(id), null).json().get("info").get("configuration").get("ports").get(0);
        assertEquals("127.0.0.1", p.get("host_address").asText());
        ObjectNode any = vm("q");
        any.putArray("ports").addObject().put("protocol", "udp").put("host_port", 5353).put("vm_port", 53)
                .put("host_address", "0.0.0.0");
        refused(any, "host port mapping conflicts with VM " + id);
    }

    @Test
    void appUrlFollowsTheVmsOwnGatewayUrl() throws Exception {
        ObjectNode r = vm("gw");
        r.putArray("gateway_urls").add("https://gw.example:9202");
        r.putArray("kms_urls").add("https://kms.other:1");
        String id = create(r);
        JsonNode info = call(base, "GetInfo", id(id), null).json().get("info");
        assertEquals("https://" + info.get("instance_id").asText() + "-8090.gw.example:9202",
                info.get("app_url").asText());
        JsonNode sys = JSON.readTree(Files.readAllBytes(dir.resolve("run").resolve(id).resolve("shared")
                .resolve(".sys-config.json")));
        assertEquals("https://gw.example:9202", sys.get("gateway_urls").get(0).asText());
        assertEquals("https://kms.other:1", sys.get("kms_urls").get(0).asText());
        // without gateway_enabled there is no app URL
        String plain = create(vm("plain").put("compose_file", VmmFixture.compose("plain")
                .replace("\"gateway_enabled\": true", "\"gateway_enabled\": false")));
        assertTrue(call(base, "GetInfo", id(plain), null).json().get("info").get("app_url").isNull());
    }

    @Test
    void logsTailStripAndFollow() throws Exception {
        String id = create(vm("logger"));
        Path serial = dir.resolve("run").resolve(id).resolve("serial.log");
        Files.writeString(serial, "second\nthird\n", StandardOpenOption.APPEND);
        HttpResponse<String> r = VmmFixture.get(base + "/logs?id=" + id + "&follow=false&ansi=false&lines=2", null);
        assertEquals(200, r.statusCode());
        assertEquals("second\nthird\n", r.body());
        r = VmmFixture.get(base + "/logs?id=" + id + "&follow=false&ansi=false&lines=20", null);
        assertEquals("boot logger cid 30000\nsecond\nthird\n", r.body());
        r = VmmFixture.get(base + "/logs?id=" + id + "&follow=false&ansi=true", null);
        assertTrue(r.body().startsWith("\u001B[32mboot"), r.body());
        assertEquals(404, VmmFixture.get(base + "/logs?id=nope&follow=false&ansi=false", null).statusCode());
        HttpResponse<String> bad = VmmFixture.get(base + "/logs?id=" + id + "&ch=tty", null);
        assertEquals(400, bad.statusCode());
        assertEquals("Unknown channel tty", bad.body());

        HttpRequest req = HttpRequest.newBuilder(URI.create(base + "/logs?id=" + id
                + "&follow=true&ansi=false&lines=1")).timeout(Duration.ofSeconds(20)).GET().build();
        HttpResponse<InputStream> s = VmmFixture.HTTP.send(req, HttpResponse.BodyHandlers.ofInputStream());
        try (BufferedReader in = new BufferedReader(new InputStreamReader(s.body(), StandardCharsets.UTF_8))) {
            assertEquals("third", in.readLine());
            Files.writeString(serial, "fourth \u001B[1mbold\u001B[0m\n", StandardOpenOption.APPEND);
            assertEquals("fourth bold", in.readLine());
        }
    }

    @Test
    void hostApiEventsReachVmInfo() throws Exception {
        String id = create(vm("events"));
        VmManager m = managerOf();
        m.notify(id, "boot.progress", "starting containers");
        m.notify(id, "boot.error", "image pull failed");
        m.notify(id, "boot.progress", "x".repeat(VmManager.MAX_EVENT_BODY + 1));
        JsonNode info = call(base, "GetInfo", id(id), null).json().get("info");
        assertEquals("starting containers", info.get("boot_progress").asText());
        assertEquals("image pull failed", info.get("boot_error").asText());
        assertEquals(2, info.get("events").size());
        assertShape("GuestEvent", info.get("events").get(0));
        assertEquals("boot.progress", info.get("events").get(0).get("event").asText());
        for (int i = 0; i < 25; i++) {
            m.notify(id, "boot.progress", "step " + i);
        }
        assertEquals(20, call(base, "GetInfo", id(id), null).json().get("info").get("events").size());
        String ii = "{\"instance_id_seed\":\"" + "11".repeat(20) + "\",\"instance_id\":\"" + "22".repeat(20)
                + "\",\"app_id\":\"" + "33".repeat(20) + "\"}";
        m.notify(id, "instance.info", ii);
        assertEquals("22".repeat(20), call(base, "GetInfo", id(id), null).json().get("info").get("instance_id")
                .asText());
        m.notify(id, "shutdown.progress", "powering off");
        assertEquals("stopping", status(id));
    }

    // ---- helpers ---------------------------------------------------------------------------------------------

    static final String IMAGE_NAME = VmmFixture.IMAGE;

    private static VmManager managerOf() throws Exception {
        java.lang.reflect.Field f = VmmServer.class.getDeclaredField("runtime");
        f.setAccessible(true);
        return ((VmmRuntime) f.get(server)).vms();
    }

    private long cid(String id) throws Exception {
        return managerOf().cidOf(id).orElseThrow();
    }

    static ObjectNode id(String id) {
        return JSON.createObjectNode().put("id", id);
    }

    static ObjectNode withPort(ObjectNode vm, String proto, int hostPort) {
        vm.putArray("ports").addObject().put("protocol", proto).put("host_port", hostPort).put("vm_port", 80);
        return vm;
    }

    private String create(ObjectNode req) throws Exception {
        VmmFixture.Reply r = call(base, "CreateVm", req, null);
        assertEquals(200, r.status(), r.body());
        return r.json().get("id").asText();
    }

    private void ok(String method, JsonNode req) throws Exception {
        VmmFixture.Reply r = call(base, method, req, null);
        assertEquals(200, r.status(), method + ": " + r.body());
        assertEquals("{}", r.body());
    }

    private void assertError(String method, JsonNode req, String text) throws Exception {
        VmmFixture.Reply r = call(base, method, req, null);
        assertEquals(400, r.status(), method + ": " + r.body());
        assertTrue(r.json().get("error").asText().contains(text), method + ": " + r.body());
    }

    private void refused(ObjectNode req, String text) throws Exception {
        List<Path> before = runDirs();
        assertError("CreateVm", req, text);
        assertEquals(before, runDirs(), "nothing half-created after: " + text);
    }

    private String status(String id) throws Exception {
        return call(base, "GetInfo", id(id), null).json().get("info").get("status").asText();
    }

    private static List<String> ids(JsonNode st) {
        return Stream.of(st.get("vms")).flatMap(a -> {
            List<String> l = new java.util.ArrayList<>();
            a.forEach(v -> l.add(v.get("id").asText()));
            return l.stream();
        }).toList();
    }

    static List<Path> runDirs() throws Exception {
        try (Stream<Path> s = Files.list(dir.resolve("run"))) {
            return s.sorted().toList();
        }
    }

    private static void assertShape(String message, JsonNode n) {
        Set<String> expected = proto.get(message);
        assertTrue(expected != null, "no message " + message + " in vmm_rpc.proto");
        assertEquals(new TreeSet<>(expected), new TreeSet<>(names(n)), message + " field names");
    }

    private static void assertSubset(String message, JsonNode n) {
        Set<String> expected = proto.get(message);
        assertTrue(expected.containsAll(names(n)), message + ": " + names(n) + " not within " + expected);
    }

    static Set<String> names(JsonNode n) {
        Set<String> s = new LinkedHashSet<>();
        Iterator<String> it = n.fieldNames();
        it.forEachRemaining(s::add);
        return s;
    }

    static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    @SuppressWarnings("unused")
    private static void each(JsonNode a, Consumer<JsonNode> c) {
        a.forEach(c);
    }
}
