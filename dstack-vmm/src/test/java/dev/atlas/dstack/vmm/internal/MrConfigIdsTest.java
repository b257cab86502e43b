package dev.atlas.dstack.vmm.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.atlas.dstack.ra.MrConfigV3;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which MR_CONFIG_ID a host share yields (upstream {@code tdx_mr_config_id}, {@code vmm/src/app/mr_config.rs}). */
class MrConfigIdsTest {
    @TempDir
    Path shared;

    static final HexFormat HEX = HexFormat.of();

    byte[] composeHash(String compose) {
        return QemuCommandLine.sha256(compose.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void v1WithoutAKeyProviderId() throws Exception {
        String compose = "{\"manifest_version\":2,\"name\":\"a\",\"kms_enabled\":true}";
        Files.writeString(shared.resolve("app-compose.json"), compose);
        byte[] id = MrConfigIds.forHostShare(shared);
        assertThat(id).hasSize(48).startsWith(1);
        assertThat(Arrays.copyOfRange(id, 1, 33)).isEqualTo(composeHash(compose));
        assertThat(Arrays.copyOfRange(id, 33, 48)).containsOnly(0);
    }

    @Test
    void v2WithAKeyProviderIdUsesTheInstanceInfoAppId() throws Exception {
        String compose = "{\"name\":\"a\",\"key_provider\":\"kms\",\"key_provider_id\":\"0x" + "ab".repeat(32) + "\"}";
        Files.writeString(shared.resolve("app-compose.json"), compose);
        Files.writeString(shared.resolve(".instance_info"), "{\"app_id\":\"" + "11".repeat(20) + "\"}");
        assertThat(MrConfigIds.forHostShare(shared)).isEqualTo(MrConfigV3.mrConfigIdV2(composeHash(compose),
                HEX.parseHex("11".repeat(20)), MrConfigV3.KeyProviderKind.KMS, HEX.parseHex("ab".repeat(32))));
        // without .instance_info: the first 20 bytes of the compose hash; local_key_provider_enabled → local
        Files.delete(shared.resolve(".instance_info"));
        String local = "{\"local_key_provider_enabled\":true,\"key_provider_id\":\"" + "cd".repeat(32) + "\"}";
        Files.writeString(shared.resolve("app-compose.json"), local);
        assertThat(MrConfigIds.forHostShare(shared)).isEqualTo(MrConfigV3.mrConfigIdV2(composeHash(local),
                Arrays.copyOf(composeHash(local), 20), MrConfigV3.KeyProviderKind.LOCAL,
                HEX.parseHex("cd".repeat(32))));
    }

    @Test
    void v3FromTheSysConfigDocument() throws Exception {
        MrConfigV3 doc = MrConfigV3.of(new byte[20], new byte[32], null, MrConfigV3.KeyProviderKind.KMS, new byte[0],
                new byte[20]);
        String json = doc.toCanonicalJson();
        Files.writeString(shared.resolve(".sys-config.json"),
                "{\"kms_urls\":[],\"mr_config\":" + new com.fasterxml.jackson.databind.ObjectMapper()
                        .writeValueAsString(json) + "}");
        byte[] id = MrConfigIds.forHostShare(shared); // no app-compose.json needed
        assertThat(id).isEqualTo(MrConfigV3.tdxMrConfigIdFromDocument(json)).startsWith(3);
    }

    @Test
    void oneMutationRefusals() throws Exception {
        Files.writeString(shared.resolve(".sys-config.json"), "{\"mr_config\":3}");
        assertThatThrownBy(() -> MrConfigIds.forHostShare(shared)).isInstanceOf(RaException.class)
                .hasMessageContaining("mr_config").satisfies(e ->
                        assertThat(((RaException) e).raReason()).isEqualTo(Reason.WRONG_TYPE));
        Files.writeString(shared.resolve(".sys-config.json"), "{\"mr_config\":null}");
        assertThatThrownBy(() -> MrConfigIds.forHostShare(shared)).isInstanceOf(RaException.class)
                .hasMessageContaining("app-compose.json");
        Files.writeString(shared.resolve("app-compose.json"), "{\"key_provider_id\":\"zz\"}");
        assertThatThrownBy(() -> MrConfigIds.forHostShare(shared)).isInstanceOf(RaException.class)
                .hasMessageContaining("key_provider_id").hasMessageContaining("not hex");
        Files.writeString(shared.resolve("app-compose.json"), "{\"key_provider_id\":\"aa\",\"key_provider\":\"x\"}");
        assertThatThrownBy(() -> MrConfigIds.forHostShare(shared)).isInstanceOf(RaException.class)
                .hasMessageContaining("unknown key_provider x");
        Files.writeString(shared.resolve("app-compose.json"), "{\"key_provider_id\":\"aa\"}");
        Files.writeString(shared.resolve(".instance_info"), "{\"app_id\":\"1122\"}");
        assertThatThrownBy(() -> MrConfigIds.forHostShare(shared)).isInstanceOf(RaException.class)
                .hasMessageContaining("invalid app ID: 2 bytes");
        Files.writeString(shared.resolve("app-compose.json"), "[]");
        assertThatThrownBy(() -> MrConfigIds.forHostShare(shared)).isInstanceOf(RaException.class)
                .hasMessageContaining("not a JSON object");
    }
}
