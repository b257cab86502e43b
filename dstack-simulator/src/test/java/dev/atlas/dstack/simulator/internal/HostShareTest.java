package dev.atlas.dstack.simulator.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atlas.dstack.ra.RaException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The host share as dstack-util reads it: known answers and one-mutation rejections naming file and field. */
class HostShareTest {
    static final String COMPOSE = "{\"manifest_version\":2,\"name\":\"app\",\"runner\":\"bash\",\"bash_script\":\"echo hi\","
            + "\"kms_enabled\":true,\"gateway_enabled\":true,\"allowed_envs\":[\"A\",\"B\"]}";
    static final String SYS = "{\"kms_urls\":[\"https://kms:1\"],\"gateway_urls\":[\"https://gw:2\"],\"pccs_url\":"
            + "\"http://pccs\",\"docker_registry\":null,\"host_api_url\":\"vsock://2:10000/api\",\"vm_config\":\"{}\"}";

    @TempDir
    Path dir;

    @Test
    void readsTheFilesTheVmmWrites() throws Exception {
        Files.writeString(dir.resolve(".instance_info"), "{\"instance_id_seed\":\"" + "01".repeat(20)
                + "\",\"instance_id\":\"\",\"app_id\":\"\"}");
        Files.writeString(dir.resolve("app-compose.json"), COMPOSE);
        Files.writeString(dir.resolve(".sys-config.json"), SYS);
        HostShare s = HostShare.load(dir);
        assertEquals("bash", s.compose().runner());
        assertEquals("kms", s.compose().keyProvider());
        assertTrue(s.compose().gatewayEnabled());
        assertEquals(List.of("A", "B"), s.compose().allowedEnvs());
        assertEquals(List.of("https://kms:1"), s.sysConfig().kmsUrls());
        assertEquals(Optional.of("http://pccs"), s.sysConfig().pccsUrl());
        assertEquals(0, s.encryptedEnv().length);
        assertEquals(Optional.empty(), s.simulatedTee());
        // app id: compose hash prefix (no deploy-time app id)
        byte[] hash = MessageDigest.getInstance("SHA-256").digest(COMPOSE.getBytes(StandardCharsets.UTF_8));
        assertArrayEquals(Arrays.copyOf(hash, 20), s.appId());
        assertArrayEquals(hash, s.composeHash());
    }

    @Test
    void instanceIdIsSha256OfSeedAndAppIdTruncated() throws Exception {
        byte[] seed = HexFormat.of().parseHex("01".repeat(20));
        byte[] app = HexFormat.of().parseHex("02".repeat(20));
        byte[] both = new byte[40];
        System.arraycopy(seed, 0, both, 0, 20);
        System.arraycopy(app, 0, both, 20, 20);
        assertArrayEquals(Arrays.copyOf(MessageDigest.getInstance("SHA-256").digest(both), 20),
                HostShare.instanceId(seed, app, false));
        assertEquals(0, HostShare.instanceId(seed, app, true).length);
    }

    @Test
    void collateralUrlsPccsWinsOverTheLegacyPccsUrl() throws Exception {
        HostShare.SysConfig c = HostShare.parseSysConfig(("{\"collateral_urls\":{\"pccs\":\"http://new\"},"
                + "\"pccs_url\":\"http://old\",\"tproxy_urls\":[\"https://gw\"],\"vm_config\":\"{}\"}")
                .getBytes(StandardCharsets.UTF_8));
        assertEquals(Optional.of("http://new"), c.pccsUrl());
        assertEquals(List.of("https://gw"), c.gatewayUrls());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "\"runner\":\"bash\"|\"runner\":1|app-compose.json: runner",
        "\"name\":\"app\",|| app-compose.json: name",
        "\"kms_enabled\":true|\"kms_enabled\":\"yes\"|app-compose.json: kms_enabled",
        "\"allowed_envs\":[\"A\",\"B\"]|\"allowed_envs\":[1]|app-compose.json: allowed_envs",
        "\"manifest_version\":2|\"manifest_version\":[2]|app-compose.json: manifest_version",
        "\"kms_enabled\":true|\"key_provider\":\"sgx\"|app-compose.json: key_provider",
    })
    void composeMutationsAreRejectedNamingTheField(String from, String to, String field) {
        String bad = COMPOSE.replace(from, to == null ? "" : to);
        RaException e = assertThrows(RaException.class,
                () -> HostShare.parseCompose(bad.getBytes(StandardCharsets.UTF_8)));
        assertEquals(RaException.Reason.CONFIG_INVALID, e.raReason());
        assertEquals(field.strip(), e.field());
    }

    @Test
    void sysConfigAndInstanceInfoMutations() {
        RaException e = assertThrows(RaException.class, () -> HostShare.parseSysConfig(
                SYS.replace("\"kms_urls\":[\"https://kms:1\"]", "\"kms_urls\":\"https://kms:1\"")
                        .getBytes(StandardCharsets.UTF_8)));
        assertEquals(".sys-config.json: kms_urls", e.field());
        e = assertThrows(RaException.class, () -> HostShare.parseSysConfig(
                SYS.replace(",\"vm_config\":\"{}\"", "").getBytes(StandardCharsets.UTF_8)));
        assertEquals(".sys-config.json: vm_config", e.field());
        e = assertThrows(RaException.class, () -> HostShare.parseInstanceInfo(
                "{\"app_id\":\"zz\"}".getBytes(StandardCharsets.UTF_8)));
        assertEquals(".instance_info: app_id", e.field());
        e = assertThrows(RaException.class, () -> HostShare.parseCompose((COMPOSE + " {}").getBytes(
                StandardCharsets.UTF_8)));
        assertEquals("app-compose.json", e.field());
    }

    @Test
    void appIdOfTheWrongLengthAndMissingFilesAreRefused() throws Exception {
        Files.writeString(dir.resolve("app-compose.json"), COMPOSE);
        RaException e = assertThrows(RaException.class, () -> HostShare.load(dir));
        assertEquals(RaException.Reason.CONFIG_FILE_UNREADABLE, e.raReason());
        assertEquals(".sys-config.json", e.field());
        Files.writeString(dir.resolve(".sys-config.json"), SYS);
        Files.writeString(dir.resolve(".instance_info"), "{\"app_id\":\"0102\"}");
        e = assertThrows(RaException.class, () -> HostShare.load(dir).appId());
        assertTrue(e.getMessage().contains("expected 20 bytes, got 2"), e.getMessage());
        Files.write(dir.resolve("app-compose.json"), new byte[HostShare.MAX_COMPOSE + 1]);
        e = assertThrows(RaException.class, () -> HostShare.load(dir));
        assertEquals("app-compose.json", e.field());
    }
}
