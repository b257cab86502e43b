package dev.atlas.dstack.vmm.internal;

import static dev.atlas.dstack.vmm.internal.VmmFixture.JSON;
import static dev.atlas.dstack.vmm.internal.VmmFixture.call;
import static dev.atlas.dstack.vmm.internal.VmmFixture.vm;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.vmm.VmmConfig;
import dev.atlas.dstack.vmm.VmmServer;

import java.io.ByteArrayOutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The server's own rules: re-adoption after a restart, [auth] (§0.3) with and without a token, the Unix socket. */
class VmmServerTest {
    static final String TOKEN = "3b8f0c1d2e4a59687766554433221100ffeeddccbbaa99887766554433221100";

    @TempDir
    Path dir;

    @Test
    void aRestartReadoptsRunningVmsAndReoccupiesTheirCids() throws Exception {
        VmmConfig c = VmmFixture.config(dir, "tcp:127.0.0.1:0", "");
        String running;
        String stopped;
        String died;
        try (VmmServer s = VmmServer.builder(c).backend(new FakeBackend()).start()) {
            String base = s.httpBase().orElseThrow();
            running = create(base, vm("a"));
            stopped = create(base, vm("b").put("stopped", true));
            died = create(base, vm("c"));
        }
        // the VMM is gone, its VMs are not; one of them dies meanwhile
        long diedPid = Long.parseLong(Files.readString(dir.resolve("run").resolve(died).resolve("vm.pid")).trim());
        FakeBackend.PROCESSES.get(diedPid).kill();
        long runningPid = Long.parseLong(Files.readString(dir.resolve("run").resolve(running).resolve("vm.pid"))
                .trim());

        FakeBackend second = new FakeBackend();
        try (VmmServer s = VmmServer.builder(c).backend(second).start()) {
            String base = s.httpBase().orElseThrow();
            JsonNode st = call(base, "Status", null, null).json();
            assertEquals(3, st.get("total").asInt());
            assertEquals("running", info(base, running).get("status").asText());
            assertEquals("stopped", info(base, stopped).get("status").asText());
            // upstream's load_vm(auto_start): a VM that should run but does not is started again
            assertEquals("running", info(base, died).get("status").asText());
            assertEquals(1, second.started.size());
            assertEquals(died, second.started.get(0).id());
            assertEquals(30002, second.started.get(0).cid());
            assertEquals(runningPid, Long.parseLong(Files.readString(dir.resolve("run").resolve(running)
                    .resolve("vm.pid")).trim()));
            // the pool of 3 is full again: every CID was re-occupied
            VmmFixture.Reply r = call(base, "CreateVm", vm("d"), null);
            assertTrue(r.json().get("error").asText().contains("CID pool exhausted"), r.body());
            assertEquals(200, call(base, "RemoveVm", JSON.createObjectNode().put("id", stopped), null).status());
            String e = create(base, vm("e").put("stopped", true));
            assertEquals(30001L, manager(s).cidOf(e).orElseThrow());
            assertEquals(30000L, manager(s).cidOf(running).orElseThrow());
        }

        // a smaller pool after a config change: the VMs keep their CIDs, with a warning
        VmmConfig moved = VmmConfig.parse(VmmFixture.toml(dir, "tcp:127.0.0.1:0", "")
                .replace("cid_start = 30000", "cid_start = 40000"), dir);
        try (VmmServer s = VmmServer.builder(moved).backend(new FakeBackend()).start()) {
            VmManager m = manager(s);
            assertTrue(m.startupWarnings().stream().anyMatch(w -> w.contains("CID 30000 outside pool range [40000, "
                    + "40003)")), m.startupWarnings().toString());
            assertEquals(30000L, m.cidOf(running).orElseThrow());
        }
    }

    static VmManager manager(VmmServer s) throws Exception {
        java.lang.reflect.Field f = VmmServer.class.getDeclaredField("runtime");
        f.setAccessible(true);
        return ((VmmRuntime) f.get(s)).vms();
    }

    @Test
    void authGuardsEverythingWhenEnabled() throws Exception {
        VmmConfig c = VmmFixture.config(dir, "tcp:127.0.0.1:0", "[auth]\nenabled = true\ntokens = [\"" + TOKEN
                + "\"]\n");
        try (VmmServer s = VmmServer.builder(c).backend(new FakeBackend()).start()) {
            String base = s.httpBase().orElseThrow();
            VmmFixture.Reply none = call(base, "Status", null, null);
            assertEquals(401, none.status());
            assertEquals(401, call(base, "Status", null, "wrong").status());
            assertEquals(200, call(base, "Status", null, TOKEN).status());
            HttpResponse<String> page = VmmFixture.get(base + "/", null);
            assertEquals(401, page.statusCode());
            assertEquals("Basic realm=\"dstack-vmm API\"", page.headers().firstValue("WWW-Authenticate").orElse(""));
            assertEquals(401, VmmFixture.get(base + "/logs?id=x", null).statusCode());
            assertEquals(200, VmmFixture.get(base + "/", TOKEN).statusCode());
            // X-Admin-Token, and ?token= on GET (stripped before routing)
            HttpResponse<String> hdr = VmmFixture.HTTP.send(HttpRequest.newBuilder(URI.create(base
                    + "/prpc/Version?json")).header("X-Admin-Token", TOKEN).POST(HttpRequest.BodyPublishers
                    .ofString("{}")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, hdr.statusCode());
            assertEquals(200, VmmFixture.get(base + "/prpc/Status?token=" + TOKEN + "&brief=true", null).statusCode());
            assertEquals(404, VmmFixture.get(base + "/logs?id=nope&token=" + TOKEN, null).statusCode());
        }
    }

    @Test
    void offHostWithoutAuthRefusesToStart() throws Exception {
        VmmConfig c = VmmFixture.config(dir, "tcp:0.0.0.0:0", "");
        RaException e = assertThrows(RaException.class, () -> VmmServer.builder(c).backend(new FakeBackend()).start());
        assertEquals(RaException.Reason.CONFIG_UNSUPPORTED, e.raReason());
        assertEquals("auth.enabled", e.field());
        VmmConfig noToken = VmmFixture.config(dir, "tcp:0.0.0.0:0", "[auth]\nenabled = true\ntokens = [\" \"]\n");
        e = assertThrows(RaException.class, () -> VmmServer.builder(noToken).backend(new FakeBackend()).start());
        assertEquals(RaException.Reason.CONFIG_INVALID, e.raReason());
        assertTrue(e.getMessage().contains("neither a non-empty token nor htpasswd_file"), e.getMessage());
        assertTrue(Files.notExists(dir.resolve("run")) || Files.list(dir.resolve("run")).findAny().isEmpty());
    }

    @Test
    void servesOnAUnixSocketWithTheTeepodPrefix() throws Exception {
        VmmConfig c = VmmFixture.config(dir, "unix:./vmm.sock", "");
        try (VmmServer s = VmmServer.builder(c).backend(new FakeBackend()).environment(Map.of()).start()) {
            assertEquals(UnixDomainSocketAddress.of(dir.resolve("vmm.sock")), s.address());
            assertTrue(s.httpBase().isEmpty());
            String reply = unixRequest(dir.resolve("vmm.sock"), "POST /prpc/Teepod.Version?json HTTP/1.1\r\n"
                    + "Host: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                    + "Connection: close\r\n\r\n{}");
            assertTrue(reply.startsWith("HTTP/1.1 200"), reply);
            assertTrue(reply.contains("\"version\":\"" + VmmRpc.VERSION + "\""), reply);
            assertTrue(reply.toLowerCase(java.util.Locale.ROOT).contains("x-app-version: " + VmmRpc.VERSION), reply);
        }
        assertTrue(Files.notExists(dir.resolve("vmm.sock")), "socket removed on close");
    }

    private static String unixRequest(Path socket, String request) throws Exception {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            ch.write(ByteBuffer.wrap(request.getBytes(StandardCharsets.UTF_8)));
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteBuffer buf = ByteBuffer.allocate(4096);
            while (ch.read(buf) > 0) {
                out.write(buf.array(), 0, buf.position());
                buf.clear();
            }
            return out.toString(StandardCharsets.UTF_8);
        }
    }

    private static String create(String base, com.fasterxml.jackson.databind.node.ObjectNode req) throws Exception {
        VmmFixture.Reply r = call(base, "CreateVm", req, null);
        assertEquals(200, r.status(), r.body());
        return r.json().get("id").asText();
    }

    private static JsonNode info(String base, String id) throws Exception {
        return call(base, "GetInfo", JSON.createObjectNode().put("id", id), null).json().get("info");
    }
}
