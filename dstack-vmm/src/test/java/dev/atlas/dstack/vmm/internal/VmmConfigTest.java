package dev.atlas.dstack.vmm.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.vmm.VmmConfig;
import dev.atlas.testing.SharedTestData;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code vmm.toml}: dstack's shipped file and the guide's example load as written; refusals name the key. */
class VmmConfigTest {
    /** The guide's §1 example ({@code docs/deployment.md}), as written there. */
    static final String GUIDE = """
            address = "tcp:0.0.0.0:9080"
            reuse = true
            image_path = "./images"
            run_path = "./run/vm"

            [auth]
            enabled = true
            # generate with: openssl rand -hex 32
            tokens = ["<paste output of: openssl rand -hex 32>"]

            [cvm]
            kms_urls = []
            gateway_urls = []
            cid_start = 30000
            cid_pool_size = 1000

            [cvm.port_mapping]
            enabled = true
            address = "127.0.0.1"
            range = [
                { protocol = "tcp", from = 1, to = 20000 },
                { protocol = "udp", from = 1, to = 20000 },
            ]

            [host_api]
            address = "vsock:2"
            port = 10000
            """;

    @TempDir
    Path dir;

    @Test
    void shippedVmmTomlLoadsWithItsValuesAndNoWarnings() throws Exception {
        Path f = SharedTestData.dir().resolve("dstack/configs/vmm.toml");
        VmmConfig c = VmmConfig.load(f);
        assertEquals(List.of(), c.warnings());
        assertEquals("unix:./vmm.sock", c.address());
        assertEquals("http://127.0.0.1:8081", c.kmsUrl());
        assertEquals(20, c.eventBufferSize());
        assertEquals(1000, c.cvm().cidStart());
        assertEquals(1000, c.cvm().cidPoolSize());
        assertEquals(20, c.cvm().maxAllocableVcpu());
        assertEquals(100_000, c.cvm().maxAllocableMemoryMb());
        assertEquals(List.of("http://127.0.0.1:8081"), c.cvm().kmsUrls());
        assertEquals(List.of("http://127.0.0.1:8082"), c.cvm().gatewayUrls());
        assertFalse(c.cvm().portMapping().enabled());
        assertEquals(List.of(new VmmConfig.PortRange("tcp", 1, 20000)), c.cvm().portMapping().ranges());
        assertEquals(OptionalInt.of(4050), c.cvm().qgsPort());
        assertEquals(4L << 20, c.cvm().log().maxBytes());
        assertEquals(3, c.cvm().log().maxBackups());
        assertEquals(Duration.ofSeconds(5), c.cvm().log().checkInterval());
        assertEquals(Duration.ofSeconds(300), c.cvm().autoRestart().maxBackoff());
        assertEquals("9p", c.cvm().hostShareMode());
        assertEquals("auto", c.cvm().tdxAttestationVariant());
        assertEquals("user", c.cvm().networking().mode());
        assertEquals("10.0.2.10", c.cvm().networking().dhcpStart());
        assertEquals(List.of("10de:2335"), c.cvm().gpu().listing());
        assertEquals("localhost", c.gateway().baseDomain());
        assertEquals(8090, c.gateway().agentPort());
        assertFalse(c.auth().enabled());
        assertEquals("vsock:2", c.hostApi().address());
        assertEquals(10000, c.hostApi().port());
        assertTrue(c.keyProvider().enabled());
        assertEquals(3443, c.keyProvider().port());
        assertEquals("qemu", c.cvm().backend());
        // no [image] path, no run_path: dstack's defaults under ~/.dstack-vmm
        assertTrue(c.image().path().endsWith(Path.of(".dstack-vmm", "image")));
        assertTrue(c.runPath().endsWith(Path.of(".dstack-vmm", "vm")));
    }

    @Test
    void guideExampleLoadsAndMigratesImagePathWithAWarning() throws Exception {
        Path f = dir.resolve("vmm.toml");
        Files.writeString(f, GUIDE);
        VmmConfig c = VmmConfig.load(f);
        assertEquals(dir.resolve("images"), c.image().path());
        assertEquals(dir.resolve("run/vm"), c.runPath());
        assertEquals(1, c.warnings().size(), c.warnings().toString());
        assertTrue(c.warnings().get(0).startsWith("image_path: deprecated, use [image] path"), c.warnings().get(0));
        assertEquals("tcp:0.0.0.0:9080", c.address());
        assertTrue(c.auth().enabled());
        assertEquals(1, c.auth().tokens().size());
        assertFalse(c.auth().toString().contains("paste"), "tokens never in toString");
        assertEquals(List.of(), c.cvm().kmsUrls());
        assertEquals(30000, c.cvm().cidStart());
        assertTrue(c.cvm().portMapping().allows("udp", 20000));
        assertFalse(c.cvm().portMapping().allows("udp", 20001));
        assertFalse(c.cvm().portMapping().allows("sctp", 80));
    }

    @Test
    void bothImagePathsKeepTheNewOneWithAWarning() throws Exception {
        VmmConfig c = VmmConfig.parse("image_path = \"old\"\n[image]\npath = \"new\"\n", dir);
        assertEquals(dir.resolve("new"), c.image().path());
        assertTrue(c.warnings().get(0).contains("both image_path and [image] path are set"), c.warnings().toString());
    }

    @Test
    void unknownKeysAreNamedInOrder() throws Exception {
        VmmConfig c = VmmConfig.parse("""
                adress = "tcp:127.0.0.1:1"
                [cvm]
                cid_strat = 5
                [cvm.port_mapping]
                range = [{ protocol = "tcp", from = 1, to = 2, extra = 1 }]
                [bogus]
                x = 1
                """, dir);
        assertEquals(List.of("cvm.port_mapping.range[0].extra: unknown key (ignored)", "adress: unknown key (ignored)",
                "cvm.cid_strat: unknown key (ignored)", "bogus: unknown key (ignored)"), c.warnings());
    }

    @Test
    void ourKeysBackendAndSimulator() throws Exception {
        VmmConfig c = VmmConfig.parse("""
                [cvm]
                backend = "simulator"
                [cvm.simulator]
                command = ["java", "-cp", "x", "Main"]
                pki_seed = 42
                insecure_skip_kms_attestation = true
                insecure_loopback_transport = true
                """, dir);
        assertEquals("simulator", c.cvm().backend());
        assertEquals(List.of("java", "-cp", "x", "Main"), c.cvm().simulator().command());
        assertEquals(42, c.cvm().simulator().pkiSeed());
        assertTrue(c.cvm().simulator().insecureSkipKmsAttestation());
        assertTrue(c.cvm().simulator().insecureLoopbackTransport());
        assertEquals(2, c.warnings().stream().filter(w -> w.contains("insecure")).count(), c.warnings().toString());
        assertEquals("qemu", c.withBackend("qemu").cvm().backend());
    }

    @Test
    void refusalsNameTheKey() {
        assertKey("cvm.backend", "[cvm]\nbackend = \"docker\"\n");
        assertKey("cvm.cid_start", "[cvm]\ncid_start = \"1\"\n");
        assertKey("cvm.cid_start", "[cvm]\ncid_start = -1\n");
        assertKey("cvm.port_mapping.range[0].protocol", "[cvm.port_mapping]\nrange = [{protocol=\"sctp\",from=1,to=2}]\n");
        assertKey("cvm.port_mapping.range[0].to", "[cvm.port_mapping]\nrange = [{protocol=\"tcp\",from=1,to=70000}]\n");
        assertKey("cvm.port_mapping.address", "[cvm.port_mapping]\naddress = \"localhost\"\n");
        assertKey("auth.tokens[0]", "[auth]\ntokens = [1]\n");
        assertKey("address", "address = \"tcp:example.com:80\"\n");
        assertKey("cvm.log.max_bytes", "[cvm.log]\nmax_bytes = \"4Q\"\n");
        assertKey("cvm.auto_restart.initial_backoff", "[cvm.auto_restart]\ninitial_backoff = 500\n");
        assertKey("cvm", "cvm = 1\n");
        assertKey("vmm.toml", "address = \n");
    }

    @Test
    void sizeLimitAndEncodingAreChecked() throws Exception {
        byte[] big = new byte[dev.atlas.dstack.ra.config.ConfigTree.MAX_BYTES + 1];
        java.util.Arrays.fill(big, (byte) '#');
        RaException e = assertThrows(RaException.class, () -> VmmConfigReader.parseBytes(big, dir));
        assertTrue(e.getMessage().contains("larger than"), e.getMessage());
        e = assertThrows(RaException.class, () -> VmmConfigReader.parseBytes(new byte[] {'a', '=', '"', (byte) 0xff,
                '"'}, dir));
        assertTrue(e.getMessage().contains("UTF-8"), e.getMessage());
        Path missing = dir.resolve("nope.toml");
        e = assertThrows(RaException.class, () -> VmmConfig.load(missing));
        assertEquals(RaException.Reason.CONFIG_FILE_UNREADABLE, e.raReason());
    }

    @Test
    void secretsNeverInErrors() {
        RaException e = assertThrows(RaException.class, () -> VmmConfig.parse(
                "[auth]\ntokens = \"s3cr3t-token\"\n", dir));
        assertFalse(e.getMessage().contains("s3cr3t"), e.getMessage());
        e = assertThrows(RaException.class, () -> VmmConfig.parse("[auth]\ntokens = [\"s3cr3t-token\" x]\n", dir));
        assertFalse(e.getMessage().contains("s3cr3t"), e.getMessage());
    }

    @Test
    void sizesFollowDstackSizeParser() throws Exception {
        assertEquals(512L << 10, VmmConfig.parse("[cvm.log]\nmax_bytes = \"512K\"\n", dir).cvm().log().maxBytes());
        assertEquals(1L << 30, VmmConfig.parse("[cvm.log]\nmax_bytes = \"1g\"\n", dir).cvm().log().maxBytes());
        assertEquals(4096, VmmConfig.parse("[cvm.log]\nmax_bytes = \"0x1000\"\n", dir).cvm().log().maxBytes());
        assertEquals(7, VmmConfig.parse("[cvm.log]\nmax_bytes = 7\n", dir).cvm().log().maxBytes());
        assertEquals(2L << 40, VmmConfig.parse("[cvm]\nqemu_pci_hole64_size = \"2T\"\n", dir).cvm()
                .qemuPciHole64Size());
    }

    @Test
    void legacyTproxyUrlsAlias() throws Exception {
        VmmConfig c = VmmConfig.parse("[cvm]\ntproxy_urls = [\"https://gw:1\"]\n", dir);
        assertEquals(List.of("https://gw:1"), c.cvm().gatewayUrls());
        assertEquals(List.of(), c.warnings());
    }

    private void assertKey(String key, String toml) {
        RaException e = assertThrows(RaException.class, () -> VmmConfig.parse(toml, dir), toml);
        assertEquals(key, e.field(), e.getMessage());
        assertEquals(RaException.Reason.CONFIG_INVALID, e.raReason());
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
