package dev.atlas.dstack.kms.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.cbor.databind.CBORMapper;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The lite check's parsers: size limits, trailing bytes, wrong types, duplicates, each with its reason and field. */
class LiteOsImageParsersTest {
    private static final CBORMapper CBOR = new CBORMapper();
    private static final JsonNodeFactory N = JsonNodeFactory.instance;

    static ObjectNode document() {
        ObjectNode image = N.objectNode();
        image.put("cmdline_sha384", fill(1, 48));
        image.put("kernel_authenticode", fill(2, 48));
        image.put("initrd_sha384", fill(3, 48));
        ObjectNode mrtd = N.objectNode();
        mrtd.put("single_pass", fill(4, 48));
        mrtd.put("two_pass", fill(5, 48));
        ObjectNode tdvf = N.objectNode();
        tdvf.put("ovmf", "pre202505");
        tdvf.set("mrtd", mrtd);
        tdvf.put("td_hob", new byte[] {0x01, 0x00, 0x01, 0x00, 0x01});
        ObjectNode top = N.objectNode();
        top.put("version", 3);
        top.set("image", image);
        top.set("tdvf", tdvf);
        return top;
    }

    static byte[] fill(int v, int n) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) v);
        return b;
    }

    static byte[] cbor(ObjectNode n) throws Exception {
        return CBOR.writeValueAsBytes(n);
    }

    static RaException fails(Reason r, String field, Ex e) {
        RaException x = assertThrows(RaException.class, e::run);
        assertEquals(r, x.raReason(), x.getMessage());
        assertEquals(field, x.field(), x.getMessage());
        return x;
    }

    interface Ex {
        void run() throws Exception;
    }

    @Test
    void cborDocumentDecodes() throws Exception {
        TdxImageMeasurement m = TdxImageMeasurement.decode(cbor(document()));
        assertArrayEquals(fill(5, 48), m.mrtdTwoPass());
        assertEquals("pre202505", m.ovmfVariant());
        ObjectNode extra = document();
        extra.put("future", "ignored as serde does");
        TdxImageMeasurement.decode(cbor(extra));
    }

    @Test
    void cborStrictness() throws Exception {
        byte[] ok = cbor(document());
        byte[] trailing = Arrays.copyOf(ok, ok.length + 1);
        fails(Reason.TRAILING_BYTES, "measurement.tdx.cbor", () -> TdxImageMeasurement.decode(trailing));
        fails(Reason.WRONG_TYPE, "measurement.tdx.cbor",
                () -> TdxImageMeasurement.decode(Arrays.copyOf(ok, ok.length - 3)));
        fails(Reason.TOO_LARGE, "measurement.tdx.cbor", () -> TdxImageMeasurement.decode(new byte[65 * 1024]));
        ObjectNode v = document();
        v.put("version", 2);
        fails(Reason.UNKNOWN_VERSION, "measurement.tdx.cbor.version", () -> TdxImageMeasurement.decode(cbor(v)));
        ObjectNode s = document();
        ((ObjectNode) s.get("image")).put("initrd_sha384", "hex is not a byte string");
        fails(Reason.WRONG_TYPE, "measurement.tdx.cbor.image.initrd_sha384", () -> TdxImageMeasurement.decode(cbor(s)));
        ObjectNode l = document();
        ((ObjectNode) l.get("tdvf").get("mrtd")).put("two_pass", fill(5, 32));
        fails(Reason.BAD_LENGTH, "measurement.tdx.cbor.tdvf.mrtd.two_pass", () -> TdxImageMeasurement.decode(cbor(l)));
        ObjectNode miss = document();
        ((ObjectNode) miss.get("tdvf")).remove("td_hob");
        fails(Reason.MISSING_FIELD, "measurement.tdx.cbor.tdvf.td_hob", () -> TdxImageMeasurement.decode(cbor(miss)));
        ObjectNode o = document();
        ((ObjectNode) o.get("tdvf")).put("ovmf", "post202505");
        fails(Reason.UNKNOWN_VARIANT, "measurement.tdx.cbor.tdvf.ovmf", () -> TdxImageMeasurement.decode(cbor(o)));
        // a duplicate key: {"version":3,"version":3,...} spliced by hand (0xa3 -> 0xa4 and one more pair)
        byte[] dup = new byte[ok.length + 9];
        dup[0] = (byte) 0xa4;
        byte[] pair = {0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x03};
        System.arraycopy(pair, 0, dup, 1, 9);
        System.arraycopy(ok, 1, dup, 10, ok.length - 1);
        assertEquals((byte) 0xa3, ok[0]);
        fails(Reason.WRONG_TYPE, "measurement.tdx.cbor", () -> TdxImageMeasurement.decode(dup));
        fails(Reason.WRONG_TYPE, "measurement.tdx.cbor", () -> TdxImageMeasurement.decode(new byte[] {(byte) 0x83, 1, 2, 3}));
    }

    @Test
    void sha256sumEntries() throws Exception {
        String h = "ab".repeat(32);
        byte[] ok = ("\n" + "cd".repeat(32) + "  bzImage\r\n" + h.toUpperCase() + " *x\n" + h
                + "  measurement.tdx.cbor  trailing-ignored\n").getBytes(StandardCharsets.UTF_8);
        assertArrayEquals(fill(0xab, 32), MeasurementDocument.entryHash(ok, "measurement.tdx.cbor"));
        fails(Reason.MISSING_FIELD, "sha256sum.txt", () -> MeasurementDocument.entryHash(
                "abc\n".getBytes(StandardCharsets.UTF_8), "measurement.tdx.cbor"));
        fails(Reason.MISSING_FIELD, "sha256sum.txt", () -> MeasurementDocument.entryHash(
                (h + "  other\n").getBytes(StandardCharsets.UTF_8), "measurement.tdx.cbor"));
        fails(Reason.DUPLICATE_FIELD, "sha256sum.txt", () -> MeasurementDocument.entryHash(
                (h + "  measurement.tdx.cbor\n" + h + " measurement.tdx.cbor").getBytes(StandardCharsets.UTF_8),
                "measurement.tdx.cbor"));
        fails(Reason.WRONG_TYPE, "sha256sum.txt", () -> MeasurementDocument.entryHash(
                ("zz" + h.substring(2) + "  measurement.tdx.cbor").getBytes(StandardCharsets.UTF_8), "measurement.tdx.cbor"));
        fails(Reason.BAD_LENGTH, "sha256sum.txt", () -> MeasurementDocument.entryHash(
                (h + "00  measurement.tdx.cbor").getBytes(StandardCharsets.UTF_8), "measurement.tdx.cbor"));
        fails(Reason.INVALID_UTF8, "sha256sum.txt", () -> MeasurementDocument.entryHash(
                new byte[] {(byte) 0xff, 0x20}, "measurement.tdx.cbor"));
        fails(Reason.TOO_LARGE, "sha256sum.txt", () -> MeasurementDocument.entryHash(new byte[64 * 1024 + 1],
                "measurement.tdx.cbor"));
    }

    @Test
    void tdHobWitness() throws Exception {
        byte[] ok = {(byte) 0x80, 0x08, 0x00, 0x02, 0x00, 0x10, 0x10, 0x10};
        assertEquals(48, TdHob.measure(ok, 0x80000000L).length);
        fails(Reason.TRAILING_BYTES, "td_hob", () -> TdHob.measure(Arrays.copyOf(ok, ok.length + 1), 0x80000000L));
        fails(Reason.TRUNCATED, "td_hob.page_count", () -> TdHob.measure(Arrays.copyOf(ok, ok.length - 1), 0x80000000L));
        fails(Reason.LIMIT_EXCEEDED, "td_hob.range_count", () -> TdHob.measure(new byte[] {0, 0, 0x7f}, 0x80000000L));
        byte[] big = new byte[11];
        Arrays.fill(big, (byte) 0xff);
        fails(Reason.WRONG_TYPE, "td_hob.base_page", () -> TdHob.measure(big, 0x80000000L));
        fails(Reason.WRONG_TYPE, "td_hob.base_page",
                () -> TdHob.measure(new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff,
                        (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x7f, 0, 0}, 0x80000000L));
        // the high-memory layout splits the last range around the 32-bit hole: another digest than 2 GiB
        assertTrue(!Arrays.equals(TdHob.measure(ok, 0x80000000L), TdHob.measure(ok, 0x100000000L)));
    }

    @Test
    void vmConfigStrictness() throws Exception {
        fails(Reason.BAD_CONFIG, "vm_config", () -> LiteVmConfig.parse("{\"memory_size\":1} x"));
        fails(Reason.BAD_CONFIG, "vm_config", () -> LiteVmConfig.parse("{\"memory_size\":1,\"memory_size\":2}"));
        fails(Reason.WRONG_TYPE, "vm_config", () -> LiteVmConfig.parse("[]"));
        fails(Reason.WRONG_TYPE, "vm_config.memory_size", () -> LiteVmConfig.parse("{\"memory_size\":\"2G\"}"));
        fails(Reason.WRONG_TYPE, "vm_config.memory_size", () -> LiteVmConfig.parse("{\"memory_size\":-1}"));
        fails(Reason.WRONG_TYPE, "vm_config.memory_size", () -> LiteVmConfig.parse("{\"memory_size\":1.5}"));
        fails(Reason.WRONG_TYPE, "vm_config.cpu_count", () -> LiteVmConfig.parse("{\"cpu_count\":4294967296}"));
        fails(Reason.WRONG_TYPE, "vm_config.hugepages", () -> LiteVmConfig.parse("{\"hugepages\":null}"));
        fails(Reason.WRONG_TYPE, "vm_config.os_image_hash", () -> LiteVmConfig.parse("{\"os_image_hash\":\"xyz0\"}"));
        fails(Reason.UNKNOWN_VARIANT, "vm_config.tdx_attestation_variant",
                () -> LiteVmConfig.parse("{\"tdx_attestation_variant\":\"Lite\"}"));
        fails(Reason.MISSING_FIELD, "vm_config.tdx_measurement.measurement",
                () -> LiteVmConfig.parse("{\"tdx_measurement\":{\"checksum_file\":\"\"}}"));
        fails(Reason.WRONG_TYPE, "vm_config.tdx_measurement.checksum_file",
                () -> LiteVmConfig.parse("{\"tdx_measurement\":{\"checksum_file\":\"!!\",\"measurement\":\"\"}}"));
        fails(Reason.TOO_LARGE, "vm_config", () -> LiteVmConfig.parse(" ".repeat(LiteVmConfig.MAX_CHARS + 1)));
        LiteVmConfig d = LiteVmConfig.parse("");
        assertEquals(0, d.memorySize());
        assertTrue(!d.lite() && d.tdxMeasurement().isEmpty());
        assertEquals(-1L, LiteVmConfig.parse("{\"memory_size\":18446744073709551615}").memorySize());
    }

    @Test
    void fuzzSeedsRun() {
        for (String s : new String[] {"\u0000{}", "\u0001x", "\u0002\u00a0", "\u0003\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0001\u0000"}) {
            LiteOsImageFuzzTest.fuzzerTestOneInput(s.getBytes(StandardCharsets.ISO_8859_1));
        }
    }
}
