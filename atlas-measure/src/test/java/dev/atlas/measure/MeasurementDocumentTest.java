package dev.atlas.measure;

import static dev.atlas.measure.LiteCheckTest.refused;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The document parsers: CBOR strictness and limits, the schema, {@code sha256sum.txt}, the TD HOB witness. */
@SuppressWarnings("unchecked")
class MeasurementDocumentTest {
    private static final HexFormat HEX = HexFormat.of();
    private static final MeasureException.Reason INVALID = MeasureException.Reason.LITE_DOCUMENT_INVALID;

    private static MeasurementDocument.Content decode(byte[] cbor) throws MeasureException {
        return new MeasurementDocument(new byte[0], cbor).decode();
    }

    private static MeasureException bad(byte[] cbor) {
        return refused(INVALID, () -> decode(cbor));
    }

    @Test
    void decodesAWellFormedDocument() throws Exception {
        MeasurementDocument.Content c = decode(Cbor.encode(Cbor.document()));
        assertArrayEquals(Cbor.fill(2), c.kernelAuthenticode());
        assertArrayEquals(Cbor.fill(5), c.mrtdTwoPass());
        assertEquals(0x809000L, c.tdHob().tdHobAddress());
        assertEquals(4, c.tdHob().acceptedRanges().size());
        assertEquals(new Rtmr0Fixed.Range(0x800000L, 0x6000L), c.tdHob().acceptedRanges().get(0));
    }

    @Test
    void unknownMembersAreIgnored() throws Exception {
        Map<String, Object> d = Cbor.document();
        d.put("future", List.of(1, "x", Map.of("a", new byte[] {1})));
        decode(Cbor.encode(d));
    }

    @Test
    void schemaViolationsNameTheMember() {
        Map<String, Object> d = Cbor.document();
        ((Map<String, Object>) d.get("image")).remove("initrd_sha384");
        assertTrue(bad(Cbor.encode(d)).getMessage().contains("missing field `initrd_sha384`"));

        d = Cbor.document();
        ((Map<String, Object>) d.get("image")).put("kernel_authenticode", new byte[47]);
        MeasureException e = bad(Cbor.encode(d));
        assertTrue(e.getMessage().contains("kernel_authenticode has invalid length 47"), e.getMessage());
        assertEquals("measurement.tdx.cbor image.kernel_authenticode", e.structure().orElseThrow());
        assertTrue(e.offset().isPresent());

        d = Cbor.document();
        ((Map<String, Object>) ((Map<String, Object>) d.get("tdvf")).get("mrtd")).put("two_pass", "hex");
        assertTrue(bad(Cbor.encode(d)).getMessage().contains("two_pass is a text string, expected a byte string"));

        d = Cbor.document();
        d.put("version", 2);
        assertTrue(bad(Cbor.encode(d)).getMessage().contains("unsupported version 2, expected 3"));

        d = Cbor.document();
        ((Map<String, Object>) d.get("tdvf")).put("ovmf", "post202505");
        assertTrue(bad(Cbor.encode(d)).getMessage().contains("unknown OVMF variant"));

        d = Cbor.document();
        d.put("image", List.of());
        assertTrue(bad(Cbor.encode(d)).getMessage().contains("expected a CBOR map, got a array"));
    }

    @Test
    void cborStrictness() {
        byte[] good = Cbor.encode(Cbor.document());
        byte[] trailing = java.util.Arrays.copyOf(good, good.length + 1);
        MeasureException e = bad(trailing);
        assertTrue(e.getMessage().contains("1 trailing bytes"), e.getMessage());
        assertEquals(OptionalLong.of(good.length), e.offset());
        assertTrue(bad(java.util.Arrays.copyOf(good, good.length - 1)).getMessage().contains("truncated"));
        assertTrue(bad(new byte[0]).getMessage().contains("empty"));
        assertTrue(bad(new byte[] {(byte) 0xbf, (byte) 0xff}).getMessage().contains("indefinite"));
        assertTrue(bad(new byte[] {(byte) 0xc0, 0x00}).getMessage().contains("tags"));
        assertTrue(bad(new byte[] {(byte) 0xa1, 0x01, 0x01}).getMessage().contains("map key is a unsigned integer"));
        assertTrue(bad(new byte[] {(byte) 0xa2, 0x61, 'a', 0x01, 0x61, 'a', 0x02}).getMessage()
                .contains("duplicate map key \"a\""));
        assertTrue(bad(new byte[] {0x62, (byte) 0xc3, 0x28}).getMessage().contains("not valid UTF-8"));
        assertTrue(bad(new byte[] {(byte) 0xf7}).getMessage().contains("simple value 23"));
        byte[] deep = new byte[12];
        java.util.Arrays.fill(deep, (byte) 0x81);
        assertTrue(bad(deep).getMessage().contains("nesting deeper than 8"));
        assertTrue(bad(new byte[] {0x5b, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff,
            (byte) 0xff, (byte) 0xff}).getMessage().contains("truncated"));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> new MeasurementDocument(new byte[0], new byte[MeasurementDocument.MAX_BYTES + 1]));
    }

    @Test
    void witnessErrors() {
        refused(INVALID, () -> Rtmr0Fixed.TdHobLayout.fromWitness(HEX.parseHex("801009")));
        MeasureException e = refused(INVALID, () -> Rtmr0Fixed.TdHobLayout.fromWitness(HEX.parseHex("80100904000609020b02101000")));
        assertTrue(e.getMessage().contains("1 trailing bytes"), e.getMessage());
        refused(INVALID, () -> Rtmr0Fixed.TdHobLayout.fromWitness(HEX.parseHex("ffffffffffffffffff7f0000")));
        refused(INVALID, () -> Rtmr0Fixed.TdHobLayout.fromWitness(HEX.parseHex("000041")));
        refused(INVALID, () -> Rtmr0Fixed.TdHobLayout.fromWitness(HEX.parseHex("0000010000")));
    }

    @Test
    void sha256SumEntries() throws Exception {
        String h = "8c9e955f0b577cc8945a891a34ccfa5b8e08bb5e5d249992603e64dd14870e3c";
        byte[] want = HEX.parseHex(h);
        assertArrayEquals(want, entry("\n" + h + "  measurement.tdx.cbor\r\n"));
        assertArrayEquals(want, entry("aa  bzImage\n" + h + " *x\n" + h + "\u00a0measurement.tdx.cbor extra\n"));
        assertTrue(refusedEntry("abc\n").getMessage().contains("line 1 is missing filename"));
        assertTrue(refusedEntry(h + " measurement.tdx.cbor\n" + h + " measurement.tdx.cbor\n").getMessage()
                .contains("duplicate"));
        assertTrue(refusedEntry("zz measurement.tdx.cbor\n").getMessage().contains("not valid hex"));
        assertTrue(refusedEntry("abcd measurement.tdx.cbor\n").getMessage().contains("invalid length 2"));
        assertTrue(refusedEntry(h + " other\n").getMessage().contains("missing measurement.tdx.cbor"));
        refused(INVALID, () -> MeasurementDocument.entryHash(new byte[] {(byte) 0xff}, "x"));
    }

    @Test
    void readsAnImageDirectory(@TempDir Path dir) throws Exception {
        byte[] cbor = Cbor.encode(Cbor.document());
        String sums = LiteFixture.sha256Hex(cbor) + "  measurement.tdx.cbor\n";
        Files.write(dir.resolve("measurement.tdx.cbor"), cbor);
        Files.writeString(dir.resolve("sha256sum.txt"), sums);
        MeasurementDocument d = MeasurementDocument.read(dir);
        d.verify(d.osImageHash());
        assertEquals(LiteFixture.sha256Hex(sums.getBytes(StandardCharsets.UTF_8)), HEX.formatHex(d.osImageHash()));
        refused(MeasureException.Reason.FILE_UNREADABLE, () -> MeasurementDocument.read(dir.resolve("none")));
    }

    private static byte[] entry(String text) throws MeasureException {
        return MeasurementDocument.entryHash(text.getBytes(StandardCharsets.UTF_8), "measurement.tdx.cbor");
    }

    private static MeasureException refusedEntry(String text) {
        return refused(INVALID, () -> entry(text));
    }
}
