package dev.atlas.cli.devnet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atlas.dstack.auth.AuthConfig;
import dev.atlas.dstack.gateway.GatewayConfig;
import dev.atlas.dstack.kms.KmsConfig;
import dev.atlas.dstack.vmm.VmmConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The files `atlas dev up` writes are accepted by our own loaders with no warning but the dev ones (each of which
 * names an insecure dev setting), and the status JSON has exactly the issue's shape.
 */
class DevConfigsTest {
    @TempDir
    Path dir;

    Layout layout() {
        Map<String, Integer> ports = new LinkedHashMap<>();
        int p = 20001;
        for (String n : DevOptions.PORT_NAMES) {
            ports.put(n, p++);
        }
        return new Layout(dir, "app.test", ports);
    }

    @Test
    void kmsTomlLoadsWithOnlyTheDevWarnings() throws Exception {
        Layout l = layout();
        // any certificate stands in for the mock Intel root that the KMS CVM writes at start
        Configs.writeProxyCertificate(l, Instant.now());
        Files.copy(l.proxyCa(), l.mockRoot());
        Files.writeString(l.kmsToml(), Configs.kmsToml(l));
        KmsConfig c = KmsConfig.load(l.kmsToml());
        assertEquals(l.port("kms"), c.rpcAddress().getPort());
        assertEquals(l.port("kms"), c.onboardAddress().getPort(), "onboard and RPC share one port, as in the guide");
        // the Rocket note comes from dstack's shipped defaults, which KmsConfig merges under every kms.toml
        assertDevOnly(c.warnings(), List.of("insecure_allow_external_trust_anchors", "Rocket settings, ignored"));
    }

    @Test
    void gatewayTomlLoadsWithOnlyTheDevWarnings() throws Exception {
        Layout l = layout();
        Files.createDirectories(l.gatewayCerts());
        Configs.writeProxyCertificate(l, Instant.now());
        String[] wg = Configs.wireGuardKeys();
        Files.writeString(l.gatewayToml(), Configs.gatewayToml(l, "t0ken-of-the-admin-api-0123456789", wg[0], wg[1]));
        GatewayConfig c = GatewayConfig.load(l.gatewayToml());
        assertEquals("app.test", c.proxy().baseDomain().orElseThrow());
        assertTrue(c.debug().insecureLoopbackTransport());
        assertTrue(c.admin().enabled());
        assertDevOnly(c.warnings(), List.of("insecure_loopback_transport"));
    }

    @Test
    void vmmTomlLoadsWithOnlyTheDevWarnings() throws Exception {
        Layout l = layout();
        Configs.writeImage(l);
        Files.writeString(l.vmmToml(), Configs.vmmToml(l, Configs.token()));
        VmmConfig c = VmmConfig.load(l.vmmToml());
        assertEquals(VmmConfig.Cvm.BACKEND_SIMULATOR, c.cvm().backend());
        assertEquals(Layout.PKI_SEED, c.cvm().simulator().pkiSeed());
        assertTrue(c.cvm().simulator().insecureLoopbackTransport());
        assertDevOnly(c.warnings(), List.of("insecure_loopback_transport"));
    }

    @Test
    void authConfigIsValidAuthSimple() throws Exception {
        String os = Configs.osImageHash();
        String compose = Configs.gatewayCompose();
        String gw = Configs.appIdOf(compose);
        String text = Configs.authConfig(List.of(os), gw, List.of("ab".repeat(32)),
                Map.of(gw, List.of(Configs.composeHashOf(compose))));
        Path f = dir.resolve("auth-config.json");
        Files.writeString(f, text);
        AuthConfig.Loaded loaded = AuthConfig.load(f);
        assertTrue(loaded.ok(), loaded.error());
        AuthConfig.parse(text.getBytes(StandardCharsets.UTF_8));
        JsonNode j = Configs.JSON.readTree(text);
        assertEquals(gw, j.path("gatewayAppId").asText());
        assertEquals(Configs.composeHashOf(compose), j.path("apps").path(gw).path("composeHashes").get(0).asText());
    }

    @Test
    void statusJsonHasExactlyTheIssuesShape() throws Exception {
        DevStatus s = new DevStatus(List.of(new DevStatus.Component("kms", "https://127.0.0.1:1", 42, "running"),
                new DevStatus.Component("vmm", "http://127.0.0.1:2", -1, "stopped")),
                List.of(new DevStatus.App("app-1", "ab".repeat(20), "https://x-443s.app.test:3/", "atlas get ...")));
        assertEquals("{\"components\":[{\"name\":\"kms\",\"url\":\"https://127.0.0.1:1\",\"pid\":42,\"state\":\"running\"},"
                + "{\"name\":\"vmm\",\"url\":\"http://127.0.0.1:2\",\"pid\":-1,\"state\":\"stopped\"}],"
                + "\"apps\":[{\"name\":\"app-1\",\"app_id\":\"" + "ab".repeat(20) + "\",\"url\":\"https://x-443s.app.test:3/\","
                + "\"attest\":\"atlas get ...\"}]}", s.toJson());
    }

    @Test
    void appUrlsFollowTheGuidesGrammar() {
        Layout l = layout();
        String id = "cd".repeat(20);
        int pp = l.proxyPort();
        assertEquals("https://" + id + ".app.test:" + pp + "/", l.appUrl(id, 80, ""));
        assertEquals("https://" + id + "-8080.app.test:" + pp + "/", l.appUrl(id, 8080, ""));
        assertEquals("https://" + id + "-443s.app.test:" + pp + "/", l.appUrl(id, 443, "s"));
        assertEquals("https://" + id + "-8080g.app.test:" + pp + "/", l.appUrl(id, 8080, "g"));
    }

    @Test
    void optionsAreValidated() {
        Path d = dir.resolve("x");
        assertThrows(IllegalArgumentException.class, () -> DevOptions.builder(d).baseDomain("nodot").build());
        assertThrows(IllegalArgumentException.class, () -> DevOptions.builder(d).apps(17).build());
        assertThrows(IllegalArgumentException.class, () -> DevOptions.builder(d).port("nope", 1).build());
        assertThrows(IllegalArgumentException.class, () -> DevOptions.builder(d).port("kms", 70000).build());
        assertThrows(IllegalArgumentException.class, () -> AppSpec.builder("bad name").build());
        DevOptions o = DevOptions.builder(d).baseDomain("Dev.Example.TEST").apps(2).build();
        assertEquals("dev.example.test", o.baseDomain());
        assertEquals(o, o.toBuilder().build());
        assertTrue(AppSpec.demo("a").waitReachable());
        AppSpec denied = AppSpec.builder("b").allowed(false).build();
        assertTrue(!denied.waitReachable() && !denied.allowed());
    }

    @Test
    void aTooLongDirectoryIsRefusedBeforeAnythingStarts() {
        Path d = dir.resolve("x".repeat(Layout.MAX_DIR_LENGTH));
        DevException e = assertThrows(DevException.class, () -> DevNet.up(DevOptions.builder(d).build(),
                DevProgress.NONE));
        assertEquals(DevException.Kind.CONFIG, e.kind());
        assertTrue(e.getMessage().contains("108-byte"), e.getMessage());
        assertTrue(!Files.exists(d));
    }

    /** Every warning names one of the dev settings, which are all named insecure... or dev-only. */
    static void assertDevOnly(List<String> warnings, List<String> expected) {
        for (String e : expected) {
            assertTrue(warnings.stream().anyMatch(w -> w.contains(e)), "expected a warning about " + e + ": " + warnings);
        }
        for (String w : warnings) {
            assertTrue(expected.stream().anyMatch(w::contains), "unexpected warning: " + w);
        }
    }
}
