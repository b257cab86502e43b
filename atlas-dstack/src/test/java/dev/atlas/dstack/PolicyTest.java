package dev.atlas.dstack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.AttestationException.Reason;
import dev.atlas.tdx.CollateralClient;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PolicyTest {
    static final String H48 = "ab".repeat(48);
    static final String H32 = "cd".repeat(32);
    static final String BOOT = "\"expected_bootchain\":{\"mrtd\":\"" + H48 + "\",\"rtmr0\":\"" + H48 + "\",\"rtmr1\":\""
            + H48 + "\",\"rtmr2\":\"" + H48 + "\"}";

    static String full(String extra) {
        return "{\"type\":\"dstack_tdx\"," + BOOT + ",\"app_compose\":{\"runner\":\"docker-compose\",\"n\":1e2},"
                + "\"os_image_hash\":\"" + H32 + "\"" + extra + "}";
    }

    static AttestationException invalid(String json) {
        AttestationException e = assertThrows(AttestationException.class, () -> PolicyJson.parse(json));
        assertThat(e.reason()).isEqualTo(Reason.INVALID_POLICY);
        return e;
    }

    @Test
    void atlasDefaults_whenMembersAbsent() throws Exception {
        DstackTdxPolicy p = PolicyJson.parse(full(""));
        assertThat(p.allowedTcbStatus()).containsExactly("UpToDate");
        assertThat(p.pccsUrl()).isEqualTo(DstackTdxPolicy.DEFAULT_PCCS_URL);
        assertThat(p.collateralUrl()).isEqualTo(DstackTdxPolicy.DEFAULT_PCCS_URL);
        assertThat(p.cacheCollateral()).isFalse();
        assertThat(p.disableRuntimeVerification()).isFalse();
        assertThat(p.gracePeriodSeconds()).isNull();
        assertThat(p.composeHash()).isEqualTo(ComposeHash.ofJsonText("{\"runner\":\"docker-compose\",\"n\":100.0}"));
        assertThat(p.warnings()).isEmpty();
    }

    @Test
    void writesAtlasShape_andRoundTrips() throws Exception {
        DstackTdxPolicy p = PolicyJson.parse(full(",\"grace_period\":3600,\"allowed_tcb_status\":[\"UpToDate\",\"OutOfDate\"]"));
        String json = p.toJson();
        assertThat(json).startsWith("{\"type\":\"dstack_tdx\",\"expected_bootchain\":{\"mrtd\":");
        assertThat(json).contains(",\"app_compose\":{\"runner\":\"docker-compose\",\"n\":100.0},\"os_image_hash\":");
        assertThat(json).endsWith("\"allowed_tcb_status\":[\"UpToDate\",\"OutOfDate\"],\"grace_period\":3600,"
                + "\"pccs_url\":\"https://pccs.phala.network/tdx/certification/v4\",\"cache_collateral\":false,"
                + "\"disable_runtime_verification\":false}");
        assertThat(PolicyJson.parse(json)).isEqualTo(p);
        assertThat(PolicyJson.parse(p.toPrettyJson())).isEqualTo(p);
        assertThat(PolicyJson.parse(json).composeHash()).isEqualTo(p.composeHash());
    }

    @Test
    void pythonBindingShape_loads() throws Exception {
        // atlas.policy.dstack_tdx_policy(...) output: no pccs_url member, app_compose merged with the default
        String json = "{\"type\":\"dstack_tdx\",\"allowed_tcb_status\":[\"UpToDate\"],\"cache_collateral\":false,"
                + "\"disable_runtime_verification\":false,\"app_compose\":" + ComposeHash.serialize(AppCompose.atlasDefault())
                + "," + BOOT + ",\"os_image_hash\":\"" + H32 + "\"}";
        DstackTdxPolicy p = PolicyJson.parse(json);
        assertThat(p.composeHash()).isEqualTo(AppCompose.ATLAS_DEFAULT_HASH);
    }

    @Test
    void pccsUrl_nullOrEmptyMeansIntelPcs() throws Exception {
        assertThat(PolicyJson.parse(full(",\"pccs_url\":null")).collateralUrl()).isEqualTo(CollateralClient.INTEL_PCS_URL);
        assertThat(PolicyJson.parse(full(",\"pccs_url\":\"\"")).collateralUrl()).isEqualTo(CollateralClient.INTEL_PCS_URL);
        // written as an explicit null (Atlas drops it, which would read back as the Phala default)
        DstackTdxPolicy intel = PolicyJson.parse(full(",\"pccs_url\":null"));
        assertThat(intel.toJson()).contains("\"pccs_url\":null");
        assertThat(PolicyJson.parse(intel.toJson()).collateralUrl()).isEqualTo(CollateralClient.INTEL_PCS_URL);
    }

    @Test
    void dev_isRelaxedAndSaysSo() throws Exception {
        DstackTdxPolicy d = DstackTdxPolicy.dev();
        assertThat(d.disableRuntimeVerification()).isTrue();
        assertThat(d.allowedTcbStatus()).containsExactly("UpToDate", "SWHardeningNeeded", "OutOfDate");
        assertThat(d.warnings().get(0)).startsWith("runtime verification disabled");
        assertThat(PolicyJson.parse(d.toJson())).isEqualTo(d);
        // Atlas's Policy::default(): valid JSON, but runtime fields are missing
        assertThat(invalid("{\"type\":\"dstack_tdx\"}").detail())
                .isEqualTo("expected_bootchain and os_image_hash must be provided together");
    }

    @Test
    void additions_composeHashOrRawText() throws Exception {
        String raw = "{\"runner\": \"docker-compose\"}\n";
        DstackTdxPolicy r = PolicyJson.parse("{\"type\":\"dstack_tdx\"," + BOOT + ",\"os_image_hash\":\"" + H32
                + "\",\"app_compose_raw\":" + new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(raw) + "}");
        assertThat(r.composeHash()).isEqualTo(ComposeHash.ofRawBytes(raw.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        DstackTdxPolicy h = PolicyJson.parse("{\"type\":\"dstack_tdx\"," + BOOT + ",\"os_image_hash\":\"" + H32
                + "\",\"expected_compose_hash\":\"" + H32 + "\"}");
        assertThat(h.composeHash()).isEqualTo(H32);
        invalid(full(",\"expected_compose_hash\":\"" + H32 + "\""));
    }

    @Test
    void allSixVerifierStatusesMayBeAllowed_revokedNever() throws Exception {
        DstackTdxPolicy p = PolicyJson.parse(full(",\"allowed_tcb_status\":[\"UpToDate\",\"SWHardeningNeeded\","
                + "\"ConfigurationNeeded\",\"ConfigurationAndSWHardeningNeeded\",\"OutOfDate\",\"OutOfDateConfigurationNeeded\"]"));
        assertThat(p.allowedTcbStatus()).hasSize(6);
        assertThat(invalid(full(",\"allowed_tcb_status\":[\"Revoked\"]")).detail()).contains("never be allowed");
    }

    @Test
    void productionBuilder_requiresEverything() throws Exception {
        assertThat(assertThrows(AttestationException.class, () -> DstackTdxPolicy.productionBuilder()
                .disableRuntimeVerification(true).build()).detail()).contains("production");
        assertThat(assertThrows(AttestationException.class, () -> DstackTdxPolicy.productionBuilder()
                .expectedBootchain(Bootchain.of(H48, H48, H48, H48)).osImageHash(H32).build()).detail())
                .startsWith("app_compose must be provided");
        assertThat(assertThrows(AttestationException.class, () -> DstackTdxPolicy.productionBuilder()
                .expectedBootchain(Bootchain.of(H48, H48, H48, H48)).osImageHash(H32).expectedComposeHash(H32)
                .allowedTcbStatus(List.of("TDRelaunchAdvised")).build()).detail()).contains("TDRelaunchAdvised");
        DstackTdxPolicy ok = DstackTdxPolicy.productionBuilder().expectedBootchain(Bootchain.of(H48, H48, H48, H48))
                .osImageHash(H32).expectedComposeHash(H32).build();
        assertThat(ok.warnings()).isEmpty();
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "unknown member|,\"acept_self_signed\":true|unknown policy field acept_self_signed",
        "bad status|,\"allowed_tcb_status\":[\"uptodate\"]|invalid TCB status 'uptodate', valid values are",
        "grace without OutOfDate|,\"grace_period\":0|grace_period requires allowed_tcb_status to include OutOfDate",
        "grace negative|,\"grace_period\":-1,\"allowed_tcb_status\":[\"OutOfDate\"]|grace_period must be a non-negative integer",
        "grace float|,\"grace_period\":1.5,\"allowed_tcb_status\":[\"OutOfDate\"]|grace_period must be a non-negative integer",
        "grace huge|,\"grace_period\":18446744073709551615,\"allowed_tcb_status\":[\"OutOfDate\"]|grace_period 18446744073709551615 is too large: the maximum is 31536000 s",
        "statuses not array|,\"allowed_tcb_status\":\"UpToDate\"|allowed_tcb_status must be an array",
        "cache not bool|,\"cache_collateral\":\"yes\"|cache_collateral must be true or false",
        "pccs not string|,\"pccs_url\":1|pccs_url must be a string or null",
        "pccs not url|,\"pccs_url\":\"ftp://x\"|pccs_url must be an absolute http(s) URL",
    })
    void rejects(String name, String extra, String message) {
        assertThat(invalid(full(extra)).detail()).startsWith(message);
    }

    @Test
    void rejects_typeAndHexRules() {
        invalid("[]");
        invalid("{\"type\":\"dstack_tdx\"} x");
        assertThat(invalid("{" + BOOT.substring(0, 0) + "\"os_image_hash\":\"" + H32 + "\"}").detail()).contains("`type`");
        assertThat(invalid("{\"type\":\"sev_snp\"}").detail()).startsWith("unknown policy type");
        assertThat(invalid(full("").replace("\"os_image_hash\":\"" + H32, "\"os_image_hash\":\"" + H32.toUpperCase())).detail())
                .isEqualTo("os_image_hash must be a lowercase hex string");
        assertThat(invalid(full("").replace("\"rtmr1\":\"" + H48, "\"rtmr1\":\"" + "ab")).detail())
                .startsWith("expected_bootchain.rtmr1 must be 96 hex characters");
        assertThat(invalid(full("").replace("\"rtmr2\":\"" + H48 + "\"", "\"rtmr2\":\"" + H48 + "\",\"rtmr3\":\"00\"")).detail())
                .startsWith("unknown field expected_bootchain.rtmr3");
        assertThat(invalid(full("").replace("\"mrtd\":\"" + H48 + "\"", "\"mrtd\":null")).detail())
                .isEqualTo("expected_bootchain.mrtd must be a string");
        assertThat(invalid("{\"type\":\"dstack_tdx\"," + BOOT + ",\"os_image_hash\":\"" + H32 + "\"}").detail())
                .startsWith("app_compose must be provided");
        assertThat(invalid("{\"type\":\"dstack_tdx\",\"type\":\"dstack_tdx\"}").detail()).contains("not valid JSON");
    }

    @Test
    void disabledRuntimeVerification_stillValidatesHexButNeedsNoRuntimeFields() throws Exception {
        PolicyJson.parse("{\"type\":\"dstack_tdx\",\"disable_runtime_verification\":true}");
        assertThat(invalid("{\"type\":\"dstack_tdx\",\"disable_runtime_verification\":true,\"os_image_hash\":\"XY\"}")
                .detail()).isEqualTo("os_image_hash must be a lowercase hex string");
    }
}
