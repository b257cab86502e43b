package dev.atlas.measure;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atlas.measure.internal.LiteVmConfig;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/**
 * The lite check's vm_config reader ({@code internal.LiteVmConfig}), as serde reads dstack's {@code VmConfig}: one
 * JSON object, no duplicate member, known members type-checked (u32/u64 ranges, booleans, {@code null} only for
 * {@code Option}s), enums closed, unknown members ignored, a sys-config unwrapped. Each refusal is
 * {@code LITE_RESPONSE_INVALID} naming the member. (Moved from dstack-kms's {@code LiteOsImageParsersTest}, issue22-kms;
 * the cases LiteCheckTest already has are not repeated.)
 */
class LiteVmConfigTest {
    static void refused(String structure, String vmConfig) {
        MeasureException e = assertThrows(MeasureException.class, () -> LiteVmConfig.parse(vmConfig));
        assertEquals(MeasureException.Reason.LITE_RESPONSE_INVALID, e.measureReason(), e.getMessage());
        assertEquals(structure, e.structure().orElse(null), e.getMessage());
    }

    @Test
    void strictness() {
        refused("vm_config", "{\"memory_size\":1} x");
        refused("vm_config", "{\"memory_size\":1,\"memory_size\":2}");
        refused("vm_config", "[]");
        refused("vm_config.memory_size", "{\"memory_size\":1.5}");
        refused("vm_config.memory_size", "{\"memory_size\":18446744073709551616}");
        refused("vm_config.cpu_count", "{\"cpu_count\":4294967296}");
        refused("vm_config.hugepages", "{\"hugepages\":null}");
        refused("vm_config.os_image_hash", "{\"os_image_hash\":\"xyz0\"}");
        refused("vm_config.os_image_hash", "{\"os_image_hash\":\"abc\"}");
        refused("vm_config.tdx_attestation_variant", "{\"tdx_attestation_variant\":\"Lite\"}");
        refused("vm_config.ovmf_variant", "{\"ovmf_variant\":\"post202505\"}");
        refused("vm_config.tdx_measurement.measurement", "{\"tdx_measurement\":{\"checksum_file\":\"\"}}");
        refused("vm_config.tdx_measurement.checksum_file",
                "{\"tdx_measurement\":{\"checksum_file\":\"!!\",\"measurement\":\"\"}}");
        refused("vm_config", " ".repeat(LiteVmConfig.MAX_CHARS + 1));
        refused("vm_config.vm_config", "{\"vm_config\":\"{} x\"}");
        refused("vm_config.memory_size", "{\"vm_config\":\"{\\\"memory_size\\\":\\\"2G\\\"}\"}");
    }

    @Test
    void defaultsUnknownMembersAndSysConfig() throws Exception {
        LiteVmConfig d = LiteVmConfig.parse("");
        assertEquals(0, d.memorySize());
        assertEquals("legacy", d.variant());
        assertFalse(d.tdxMeasurement().isPresent());
        assertEquals(-1L, LiteVmConfig.parse("{\"memory_size\":18446744073709551615}").memorySize());
        LiteVmConfig c = LiteVmConfig.parse("{\"spec_version\":1,\"future\":[{}],\"qemu_single_pass_add_pages\":null,"
                + "\"os_image_hash\":\"" + "ab".repeat(32) + "\",\"tdx_attestation_variant\":\"lite\"}");
        assertArrayEquals(HexFormat.of().parseHex("ab".repeat(32)), c.osImageHash());
        assertTrue(c.qemuSinglePassAddPages().isEmpty());
        LiteVmConfig wrapped = LiteVmConfig.parse("{\"kms_urls\":[],\"vm_config\":\"{\\\"memory_size\\\":2147483648,"
                + "\\\"tdx_attestation_variant\\\":\\\"lite\\\"}\"}");
        assertEquals(2147483648L, wrapped.memorySize());
        assertEquals("lite", wrapped.variant());
    }
}
