package dev.atlas.measure;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.dstack.Bootchain;
import dev.atlas.dstack.DstackTdxPolicy;
import dev.atlas.dstack.PolicyJson;
import dev.atlas.tdx.Quote;
import dev.atlas.tdx.TdReport;
import dev.atlas.testing.SharedTestData;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** End to end on a synthetic image directory, the policy output, and the real tdx-lite fixture's registers. */
class ExpectedMeasurementsTest {
    @TempDir
    Path tmp;

    private static final String CMDLINE = "console=ttyS0 dstack.rootfs_hash=" + "ab".repeat(32);

    @Test
    void computesEveryRegisterLikeTheIndependentFormulas() throws Exception {
        TestImages.Fw fw = TestImages.firmware();
        byte[] kernel = TestImages.kernel().bytes;
        byte[] initrd = "a small initrd".repeat(100).getBytes(StandardCharsets.US_ASCII);
        Path dir = TestImages.imageDir(tmp.resolve("img"), fw.bytes, kernel, initrd, CMDLINE);
        MachineConfig m = MachineConfig.builder().cpus(4).memory("4G").qemuVersion("8.2.2").build();
        ExpectedMeasurements e = ExpectedMeasurements.compute(ImageDirectory.open(dir), m);
        assertEquals(TestImages.hex(TestImages.expectedMrtd(fw.bytes, TestImages.defaultSections(), true)), e.mrtd());
        assertEquals(TestImages.hex(Rtmr1.compute(kernel, initrd.length, 4L << 30)), e.rtmr1());
        assertEquals(TestImages.hex(Rtmr2.compute(CMDLINE, TestImages.sha384(initrd))), e.rtmr2());
        assertEquals(Optional.empty(), e.rtmr0());
        assertEquals(ExpectedMeasurements.RTMR0_NOT_COMPUTED, e.rtmr0Note());
        JsonNode j = new ObjectMapper().readTree(e.toJson());
        assertEquals(e.mrtd(), j.get("mrtd").textValue());
        assertTrue(j.get("rtmr0").isNull());
        MeasureException noRtmr0 = assertThrows(MeasureException.class, e::toPolicyBootchain);
        assertEquals(MeasureException.Reason.RTMR0_UNAVAILABLE, noRtmr0.measureReason());
        // QEMU 9: single pass
        ExpectedMeasurements nine = ExpectedMeasurements.compute(ImageDirectory.open(dir),
                m.toBuilder().qemuVersion("9.1.0").build());
        assertEquals(TestImages.hex(TestImages.expectedMrtd(fw.bytes, TestImages.defaultSections(), false)),
                nine.mrtd());
        assertEquals(e.rtmr1(), nine.rtmr1());
    }

    @Test
    void withAcpiDigestsRtmr0IsComputedAndThePolicyIsReadByAtlas() throws Exception {
        TestImages.Fw fw = TestImages.firmware();
        byte[] initrd = new byte[5000];
        Path dir = TestImages.imageDir(tmp.resolve("img"), fw.bytes, TestImages.kernel().bytes, initrd, CMDLINE);
        byte[] sums = ("0".repeat(64) + "  other\n").getBytes(StandardCharsets.US_ASCII);
        Files.write(dir.resolve("sha256sum.txt"), sums);
        Files.writeString(dir.resolve("digest.txt"), TestImages.hex(TestImages.sha256(sums)));
        MachineConfig m = MachineConfig.builder().cpus(2).memory("2G").build();
        Rtmr0Fixed.AcpiDigests acpi = new Rtmr0Fixed.AcpiDigests(TestImages.sha384(new byte[] {1}),
                TestImages.sha384(new byte[] {2}), TestImages.sha384(new byte[] {3}));
        ImageDirectory image = ImageDirectory.open(dir);
        ExpectedMeasurements e = ExpectedMeasurements.compute(image, m, Optional.of(acpi));
        byte[] hob = Rtmr0Fixed.tdHobDigest(TdvfMetadata.parse(fw.bytes).tdHobLayout(), m.memoryBytes());
        assertEquals(TestImages.hex(Rtmr0Fixed.replay(Rtmr0Fixed.log(hob, acpi))), e.rtmr0().orElseThrow());
        Bootchain b = e.toPolicyBootchain();
        com.fasterxml.jackson.databind.node.ObjectNode policy = new ObjectMapper().createObjectNode();
        policy.put("type", "dstack_tdx");
        policy.put("expected_compose_hash", "00".repeat(32));
        policy.setAll(e.toPolicyBlock(image.digest()));
        DstackTdxPolicy p = PolicyJson.parse(policy.toString());
        assertEquals(image.digest().orElseThrow(), p.osImageHash());
        assertEquals(b, p.expectedBootchain());
        assertEquals(Bootchain.of(e.mrtd(), e.rtmr0().get(), e.rtmr1(), e.rtmr2()), p.expectedBootchain());
    }

    @Test
    void checksumListedForAMeasuredFileMustMatch() throws Exception {
        Path dir = TestImages.imageDir(tmp.resolve("img"), TestImages.firmware().bytes, TestImages.kernel().bytes,
                new byte[10], CMDLINE);
        Files.writeString(dir.resolve("sha256sum.txt"), "0".repeat(64) + "  bzImage\n");
        MachineConfig m = MachineConfig.builder().cpus(2).memory("2G").build();
        MeasureException e = assertThrows(MeasureException.class,
                () -> ExpectedMeasurements.compute(ImageDirectory.open(dir), m));
        assertEquals(MeasureException.Reason.IMAGE_DIGEST_MISMATCH, e.measureReason());
        assertTrue(e.getMessage().contains("kernel"), e.getMessage());
    }

    @Test
    void valuesAreValidated() {
        String h = "00".repeat(48);
        assertThrows(IllegalArgumentException.class,
                () -> new ExpectedMeasurements(h.toUpperCase().replace('0', 'A'), Optional.empty(), "", h, h));
        assertThrows(IllegalArgumentException.class, () -> new ExpectedMeasurements(h, Optional.of("00"), "", h, h));
    }

    /**
     * Real values: upstream's tdx-lite fixture (a dstack-0.6.0 CVM on QEMU 8.2.2 with 2 GiB). The quote's RTMR1
     * and RTMR2 must equal our event chains over the image document's digests, and its MRTD the two-pass candidate
     * our QEMU-version rule picks for 8.2.2.
     */
    @Test
    void upstreamTdxLiteFixtureRegisters() throws Exception {
        JsonNode r = new ObjectMapper().readTree(SharedTestData.text("dstack/tdx-lite-getquote.json"));
        TdReport report = Quote.parse(HexFormat.of().parseHex(r.get("quote").textValue())).tdReport();
        JsonNode vm = new ObjectMapper().readTree(r.get("vm_config").textValue());
        byte[] cbor = Base64.getDecoder().decode(vm.get("tdx_measurement").get("measurement").textValue());
        MachineConfig m = MachineConfig.builder().cpus(vm.get("cpu_count").intValue())
                .memoryBytes(vm.get("memory_size").longValue()).qemuVersion(vm.get("qemu_version").textValue())
                .build();
        assertEquals(Mrtd.PageAddOrder.TWO_PASS, Mrtd.order(m));
        assertEquals(TestImages.hex(bytes48(cbor, "two_pass")), report.mrTd());
        assertEquals(TestImages.hex(Rtmr1.fromKernelDigest(bytes48(cbor, "kernel_authenticode"))), report.rtmr(1));
        assertEquals(TestImages.hex(Rtmr.replay(List.of(bytes48(cbor, "cmdline_sha384"),
                bytes48(cbor, "initrd_sha384")))), report.rtmr(2));
    }

    /** The 48-byte CBOR byte string ({@code 58 30}) following a text key in the document. */
    private static byte[] bytes48(byte[] cbor, String key) {
        byte[] k = key.getBytes(StandardCharsets.US_ASCII);
        outer:
        for (int i = 1; i + k.length + 2 + 48 <= cbor.length; i++) {
            if ((cbor[i - 1] & 0xff) != (0x60 | k.length)) {
                continue;
            }
            for (int j = 0; j < k.length; j++) {
                if (cbor[i + j] != k[j]) {
                    continue outer;
                }
            }
            int at = i + k.length;
            assertEquals(0x58, cbor[at] & 0xff);
            assertEquals(48, cbor[at + 1] & 0xff);
            return java.util.Arrays.copyOfRange(cbor, at + 2, at + 50);
        }
        throw new AssertionError("no " + key + " in the measurement document");
    }
}
