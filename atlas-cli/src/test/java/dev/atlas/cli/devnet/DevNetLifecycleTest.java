package dev.atlas.cli.devnet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One real devnet (child JVMs, loopback only) through its whole life: up with a demo app that answers through the
 * gateway, status, down with nothing left, a resume that fails because a port is taken (it names the failing
 * component and its log and leaves nothing running), then a resume that keeps the KMS's keys and the app's URL.
 */
class DevNetLifecycleTest {
    @TempDir
    static Path tmp;

    static DevNet net;

    @AfterAll
    static void tearDown() throws Exception {
        if (net != null) {
            net.close();
        }
    }

    @Test
    void upStatusDownFailedResumeAndResume() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")), "needs /usr/bin/python3 for the demo app");
        assumeTrue(Files.isDirectory(Path.of("/proc/self")), "needs /proc (Linux) to identify child processes");
        Path dir = tmp.resolve("dn");
        List<String> steps = new ArrayList<>();
        DevOptions options = DevOptions.builder(dir).apps(1).build();

        // ---- up: every component, one demo app reachable through the gateway
        net = DevNet.up(options, (c, m, e) -> steps.add(c + ": " + m));
        assertTrue(steps.stream().anyMatch(s -> s.startsWith("kms: Onboard.Bootstrap")), steps.toString());
        DevStatus s = net.status();
        assertEquals(DevNet.COMPONENTS, s.components().stream().map(DevStatus.Component::name).toList());
        for (DevStatus.Component c : s.components()) {
            assertEquals("running", c.state(), c.toString());
            assertTrue(c.pid() > 0, c.toString());
        }
        assertEquals(1, s.apps().size());
        DevStatus.App app = s.apps().getFirst();
        assertTrue(app.appId().matches("[0-9a-f]{40}"), app.appId());
        assertEquals("https://" + app.appId() + "-443s.app.test:" + net.gatewayProxyAddress().getPort() + "/", app.url());
        assertTrue(app.attest().contains(" atlas get " + app.url() + " --policy ") && app.attest().contains("--root-ca")
                && app.attest().contains("jdk.net.hosts.file="), app.attest());
        JsonNode policy = Configs.JSON.readTree(Files.readString(dir.resolve("apps/app-1/policy.json")));
        assertEquals(net.pccsUrl() + "/tdx/certification/v4", policy.path("pccs_url").asText());
        assertTrue(policy.path("expected_bootchain").path("mrtd").asText().matches("[0-9a-f]{96}"), policy.toString());
        JsonNode json = Configs.JSON.readTree(DevNet.attach(dir).status().toJson());
        assertEquals(List.of("components", "apps"), fieldNames(json));
        assertEquals(List.of("name", "url", "pid", "state"), fieldNames(json.path("components").get(0)));
        assertEquals(List.of("name", "app_id", "url", "attest"), fieldNames(json.path("apps").get(0)));
        byte[] rootKey = Files.readAllBytes(dir.resolve("kms-certs/root-k256.key"));
        byte[] rootCa = Files.readAllBytes(dir.resolve("kms-certs/root-ca.crt"));
        List<Long> pids = new ArrayList<>(s.components().stream().map(DevStatus.Component::pid).toList());
        pids.addAll(vmPids(dir));

        // ---- down from another handle: nothing left
        DevNet.attach(dir).down();
        assertNothingLeft(dir, pids, net.gatewayProxyAddress().getPort());
        assertTrue(DevNet.attach(dir).status().components().stream().allMatch(c -> c.state().equals("stopped")));

        // ---- resume with the mock PCCS's port taken: the KMS's CVM (which serves it) fails; the error names it and
        // its log, and nothing is left running (the other components started in parallel are stopped)
        int pccsPort = java.net.URI.create(net.pccsUrl()).getPort();
        try (ServerSocket squat = new ServerSocket(pccsPort, 1, InetAddress.getLoopbackAddress())) {
            DevException e = assertThrows(DevException.class, () -> DevNet.up(options, DevProgress.NONE));
            assertEquals("kms-cvm", e.component(), e.getMessage());
            assertEquals(dir.resolve("logs/kms-cvm.log"), e.logFile().orElseThrow());
            assertTrue(e.getMessage().contains("logs/kms-cvm.log"), e.getMessage());
            assertEquals(DevException.Kind.START_FAILED, e.kind(), e.getMessage());
            assertNothingLeft(dir, List.of(), -1);
            assertTrue(DevNet.attach(dir).status().components().stream().noneMatch(c -> c.state().equals("running")));
        }

        // ---- resume: same keys (the KMS self-authorizes with the same mr_aggregated), same app URL, reachable
        net = DevNet.up(options, DevProgress.NONE);
        assertArrayEquals(rootKey, Files.readAllBytes(dir.resolve("kms-certs/root-k256.key")));
        assertArrayEquals(rootCa, Files.readAllBytes(dir.resolve("kms-certs/root-ca.crt")));
        assertEquals(app.url(), net.status().apps().getFirst().url());
        // ---- restart the VMM alone: its simulated guests keep running (re-adopted), the VMM comes back
        List<Long> guests = vmPids(dir);
        assertTrue(!guests.isEmpty() && guests.stream().allMatch(p -> ProcessHandle.of(p).isPresent()), guests.toString());
        long vmmPid = net.status().components().getLast().pid();
        net.restart("vmm");
        assertTrue(net.status().components().getLast().pid() != vmmPid, "a new VMM process");
        assertEquals("running", net.status().components().getLast().state());
        for (long g : guests) {
            assertTrue(ProcessHandle.of(g).map(ProcessHandle::isAlive).orElse(false), "guest " + g + " survived");
        }
        List<Long> pids2 = new ArrayList<>(net.status().components().stream().map(DevStatus.Component::pid).toList());
        pids2.addAll(vmPids(dir));
        net.close();
        net = null;
        assertNothingLeft(dir, pids2, -1);
    }

    static List<String> fieldNames(JsonNode n) {
        List<String> l = new ArrayList<>();
        n.fieldNames().forEachRemaining(l::add);
        return l;
    }

    static List<Long> vmPids(Path dir) throws IOException {
        List<Long> l = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir.resolve("vms"))) {
            for (Path vm : s.toList()) {
                Path f = vm.resolve("vm.pid");
                if (Files.isRegularFile(f)) {
                    l.add(Long.parseLong(Files.readString(f).trim()));
                }
            }
        }
        return l;
    }

    /** No process of the devnet (by pid, or by a command line naming DIR), no socket under DIR, the proxy closed. */
    static void assertNothingLeft(Path dir, List<Long> pids, int proxyPort) throws IOException {
        for (long pid : pids) {
            assertTrue(ProcessHandle.of(pid).map(h -> !h.isAlive()).orElse(true), "pid " + pid + " still runs");
        }
        List<String> left = ProcessHandle.allProcesses().filter(ProcessHandle::isAlive)
                .filter(h -> h.pid() != ProcessHandle.current().pid())
                .filter(h -> Children.cmdline(h).contains(dir.toString())).map(h -> h.pid() + " "
                        + Children.cmdline(h)).toList();
        assertEquals(List.of(), left, "processes left");
        try (Stream<Path> s = Files.walk(dir)) {
            List<Path> sockets = s.filter(p -> !Files.isRegularFile(p) && !Files.isDirectory(p)).toList();
            assertEquals(List.of(), sockets, "sockets left");
        }
        if (proxyPort > 0) {
            assertThrows(IOException.class, () -> {
                try (Socket so = new Socket()) {
                    so.connect(new InetSocketAddress("127.0.0.1", proxyPort), 500);
                }
            }, "the gateway's proxy port still accepts");
        }
    }
}
