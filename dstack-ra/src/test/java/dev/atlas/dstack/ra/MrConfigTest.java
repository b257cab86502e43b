package dev.atlas.dstack.ra;

import static org.assertj.core.api.Assertions.assertThat;

import dev.atlas.dstack.ra.MrConfigV3.KeyProviderKind;
import dev.atlas.dstack.ra.internal.Hashes;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/** §2.7 MrConfigV3 (JCS document, domain-separated hash) and the V1/V2 MR_CONFIG_IDs. */
class MrConfigTest {
    static final HexFormat HEX = HexFormat.of();

    @Test
    void canonicalDocumentOrdersMembersAndOmitsAbsentOnes() {
        MrConfigV3 c = MrConfigV3.of(new byte[] {1}, new byte[] {2}, null, KeyProviderKind.KMS, new byte[0], new byte[] {3});
        assertThat(c.toCanonicalJson()).isEqualTo(
                "{\"app_id\":\"01\",\"compose_hash\":\"02\",\"instance_id\":\"03\",\"key_provider\":\"kms\",\"version\":3}");
        MrConfigV3 all = new MrConfigV3(new byte[] {1}, new byte[] {2}, new byte[] {4}, KeyProviderKind.LOCAL,
                new byte[] {5}, new byte[] {3}, List.of(new byte[32]));
        assertThat(all.toCanonicalJson()).isEqualTo("{\"app_id\":\"01\",\"compose_hash\":\"02\",\"gpu_policy_hash\":\"04\","
                + "\"init_script_hashes\":[\"" + "00".repeat(32) + "\"],\"instance_id\":\"03\",\"key_provider\":\"local\","
                + "\"key_provider_id\":\"05\",\"version\":3}");
    }

    @Test
    void idsAndHostData() {
        MrConfigV3 c = MrConfigV3.of(new byte[20], new byte[32], null, KeyProviderKind.NONE, new byte[0], new byte[0]);
        byte[] hash = Hashes.sha256("dstack-mr-config-v3:".getBytes(StandardCharsets.US_ASCII), new byte[] {0},
                c.toCanonicalJson().getBytes(StandardCharsets.UTF_8));
        assertThat(c.snpHostData()).isEqualTo(hash);
        byte[] id = c.tdxMrConfigId();
        assertThat(id).hasSize(48);
        assertThat(id[0]).isEqualTo((byte) 3);
        assertThat(java.util.Arrays.copyOfRange(id, 1, 33)).isEqualTo(hash);
        assertThat(java.util.Arrays.copyOfRange(id, 33, 48)).isEqualTo(new byte[15]);
        byte[] v1 = MrConfigV3.mrConfigIdV1(new byte[32]);
        assertThat(v1[0]).isEqualTo((byte) 1);
        byte[] v2 = MrConfigV3.mrConfigIdV2(new byte[32], new byte[20], KeyProviderKind.KMS, new byte[] {9});
        assertThat(java.util.Arrays.copyOfRange(v2, 1, 33)).isEqualTo(
                Hashes.keccak256(new byte[32], new byte[20], new byte[] {2}, new byte[] {9}));
    }

    @Test
    void liteFixtureMrConfigIdIsAV3OrOlderId() throws Exception {
        byte[] q = AttestationFixtureTest.fromGetQuote().quote();
        int kind = q[232];
        assertThat(kind).isBetween(1, 3);
    }

    static void fails(String doc, RaException.Reason r, String field) {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> MrConfigV3.fromDocument(doc))
                .isInstanceOf(RaException.class).satisfies(e -> {
                    assertThat(((RaException) e).raReason()).as(e.getMessage()).isEqualTo(r);
                    if (field != null) {
                        assertThat(((RaException) e).field()).isEqualTo(field);
                    }
                });
    }

    @Test
    void documentsParseBackAndBadOnesFailWithTheirReason() throws Exception {
        MrConfigV3 all = new MrConfigV3(new byte[] {1}, new byte[] {2}, new byte[] {4}, KeyProviderKind.TPM,
                new byte[] {5}, new byte[] {3}, List.of(new byte[32]));
        assertThat(MrConfigV3.fromDocument(all.toCanonicalJson())).isEqualTo(all);
        // not canonical, still accepted (the exact bytes are hashed); version defaults to 3
        MrConfigV3 p = MrConfigV3.fromDocument("{ \"key_provider\": \"kms\", \"compose_hash\": \"AB\", \"app_id\": null }");
        assertThat(p.composeHash()).isEqualTo(new byte[] {(byte) 0xab});
        assertThat(p.appId()).isNull();
        fails("{\"compose_hash\":\"02\",\"key_provider\":\"kms\",\"extra\":1}", RaException.Reason.UNKNOWN_FIELD,
                "mr_config.extra");
        fails("{\"key_provider\":\"kms\"}", RaException.Reason.MISSING_FIELD, "mr_config.compose_hash");
        fails("{\"compose_hash\":\"02\"}", RaException.Reason.MISSING_FIELD, "mr_config.key_provider");
        fails("{\"compose_hash\":\"0g\",\"key_provider\":\"kms\"}", RaException.Reason.WRONG_TYPE,
                "mr_config.compose_hash");
        fails("{\"compose_hash\":\"02\",\"key_provider\":\"sgx\"}", RaException.Reason.UNKNOWN_VARIANT, null);
        fails("{\"compose_hash\":\"02\",\"key_provider\":\"kms\",\"version\":2}", RaException.Reason.UNKNOWN_VERSION,
                null);
        fails("{\"compose_hash\":\"02\",\"compose_hash\":\"03\",\"key_provider\":\"kms\"}",
                RaException.Reason.DUPLICATE_FIELD, null);
        fails("{\"compose_hash\":\"02\",\"key_provider\":\"kms\",\"init_script_hashes\":[\"00\"]}",
                RaException.Reason.BAD_LENGTH, "mr_config.init_script_hashes[0]");
        fails("[]", RaException.Reason.WRONG_TYPE, "mr_config");
        fails("x".repeat(MrConfigV3.MAX_DOCUMENT + 1), RaException.Reason.TOO_LARGE, null);
    }
}
