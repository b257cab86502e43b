package dev.atlas.measure;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.EventLog;
import dev.atlas.dstack.EventLogEntry;
import dev.atlas.tdx.Quote;
import dev.atlas.tdx.TdReport;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Known answers on upstream's real lite capture ({@code tdx-lite-getquote.json}) and one-mutation refusals, each
 * asserting its reason and what the message names.
 */
class LiteCheckTest {
    private static final HexFormat HEX = HexFormat.of();
    private static LiteFixture fx;
    private static TdReport report;

    @BeforeAll
    static void load() throws Exception {
        fx = LiteFixture.load();
        report = Quote.parse(fx.quote()).tdReport();
    }

    @Test
    void upstreamFixturePasses() throws Exception {
        LiteCheck.Result r = LiteCheck.check(fx.text);
        assertEquals(LiteFixture.OS_IMAGE_HASH, HEX.formatHex(r.osImageHash()));
        assertEquals(report.mrTd(), r.expected().mrtd());
        assertEquals(report.rtmr(0), r.expected().rtmr0().orElseThrow());
        assertEquals(report.rtmr(1), r.expected().rtmr1());
        assertEquals(report.rtmr(2), r.expected().rtmr2());
        assertEquals(2147483648L, r.machine().memoryBytes());
        assertTrue(r.machine().twoPassAddPages(), "QEMU 8.2.2 adds pages in two passes");
        assertTrue(r.checks().stream().anyMatch(c -> c.startsWith("RTMR0 = " + report.rtmr(0))), r.checks()::toString);
        assertTrue(r.toJson().contains("\"acpi_tables_verified\":false"));
        assertTrue(r.checks().contains("event log: its 13 RTMR0 events equal the expected ones"), r.checks()::toString);
    }

    /** Every event we compute equals the one the real guest logged; the logged registers replay to the quote. */
    @Test
    void computedEventsEqualTheLoggedOnes() throws Exception {
        EventLog log = EventLog.parse(fx.root.get("event_log").asText());
        MeasurementDocument doc = new MeasurementDocument(fx.checksumFile(), fx.measurement());
        MeasurementDocument.Content c = doc.decode();
        assertEquals("80100904000609020b021010", HEX.formatHex(c.tdHobWitness()));
        byte[] hob = Rtmr0Fixed.tdHobDigest(c.tdHob(), 2147483648L);
        assertEquals("0b8772e5b0b41b83e6044a68397e02f49fb47066b4fbe4917ea2c45c64f323fdacbb37948f821ebaf8bc9c938ba8a749",
                HEX.formatHex(hob));
        List<List<byte[]>> expected = List.of(Rtmr0Fixed.log(hob, LiteCheck.acpiDigests(log)),
                MeasurementDocument.rtmr1Log(c.kernelAuthenticode()),
                MeasurementDocument.rtmr2Log(c.cmdlineSha384(), c.initrdSha384()));
        for (int reg = 0; reg < 3; reg++) {
            List<byte[]> logged = new ArrayList<>();
            for (EventLogEntry e : log.entries()) {
                if (e.imr() == reg) {
                    logged.add(e.digest());
                }
            }
            assertEquals(expected.get(reg).size(), logged.size(), "RTMR" + reg + " event count");
            for (int i = 0; i < logged.size(); i++) {
                assertEquals(HEX.formatHex(logged.get(i)), HEX.formatHex(expected.get(reg).get(i)),
                        "RTMR" + reg + " event " + i);
            }
            assertEquals(report.rtmr(reg), HEX.formatHex(Rtmr0Fixed.replay(logged)), "logged RTMR" + reg + " replay");
        }
        assertArrayEquals(HEX.parseHex(LiteFixture.OS_IMAGE_HASH), doc.osImageHash());
        assertEquals(report.mrTd(), HEX.formatHex(c.mrtdTwoPass()));
    }

    @Test
    void strippedEventLogPassesToo() throws Exception {
        String stripped = fx.withEventLog(log -> {
            for (int i = log.size() - 1; i >= 0; i--) {
                JsonNode e = log.get(i);
                boolean acpi = e.get("event").asText().startsWith("acpi-");
                if (e.get("imr").asInt() != 3 && !acpi) {
                    log.remove(i);
                }
            }
        });
        assertEquals(report.rtmr(0), LiteCheck.check(stripped).expected().rtmr0().orElseThrow());
    }

    @ParameterizedTest
    @ValueSource(strings = {"acpi-loader", "acpi-rsdp", "acpi-tables"})
    void tamperedAcpiDigestFailsRtmr0(String name) {
        String bad = fx.withEventLog(log -> {
            ObjectNode e = LiteFixture.event(log, name);
            e.put("digest", LiteFixture.flip(e.get("digest").asText(), 47));
        });
        MeasureException e = refused(MeasureException.Reason.LITE_RTMR0_MISMATCH, () -> LiteCheck.check(bad));
        assertTrue(e.getMessage().contains("RTMR0 mismatch") && e.getMessage().contains(name + "="), e.getMessage());
        assertEquals(Optional.of("quote.rtmr0"), e.structure());
    }

    @Test
    void loggedFixedEventsAreRecomputedNotTrusted() {
        String bad = fx.withEventLog(log -> {
            ObjectNode e = (ObjectNode) log.get(0); // the TD HOB event: not used, but named on failure
            e.put("digest", LiteFixture.flip(e.get("digest").asText(), 0));
        });
        // the quote decides: the fixed events are computed, not read from the log
        refusedNot(() -> LiteCheck.check(bad));
    }

    @Test
    void tamperedMeasurementDocumentByteIsRefused() {
        byte[] m = fx.measurement();
        m[m.length - 1] ^= 1; // a byte of the TD HOB witness
        String bad = fx.withVmConfig(vm -> ((ObjectNode) vm.get("tdx_measurement")).put("measurement",
                java.util.Base64.getEncoder().encodeToString(m)));
        MeasureException e = refused(MeasureException.Reason.LITE_MEASUREMENT_HASH_MISMATCH, () -> LiteCheck.check(bad));
        assertTrue(e.getMessage().contains("measurement.tdx.cbor hash mismatch"), e.getMessage());
    }

    @Test
    void reboundDocumentWithAnotherKernelDigestFailsRtmr1() {
        byte[] m = fx.measurement();
        int at = indexOf(m, HEX.parseHex("ac7e632dcf5cd2a1")); // kernel_authenticode
        m[at] ^= 1;
        MeasureException e = refused(MeasureException.Reason.LITE_RTMR1_MISMATCH, () -> LiteCheck.check(fx.withDocument(m)));
        assertTrue(e.getMessage().contains("RTMR1 event 0 (kernel Authenticode"), e.getMessage());
    }

    @Test
    void reboundDocumentWithAnotherMrtdFailsMrtd() {
        byte[] m = fx.measurement();
        m[indexOf(m, HEX.parseHex("fd685522ce791dfe"))] ^= 1; // mrtd.two_pass
        refused(MeasureException.Reason.LITE_MRTD_MISMATCH, () -> LiteCheck.check(fx.withDocument(m)));
    }

    @Test
    void reboundDocumentWithAnotherWitnessFailsRtmr0AtTheTdHob() {
        byte[] m = fx.measurement();
        m[m.length - 1] = 0x11; // last range: 0x10 -> 0x11 pages
        MeasureException e = refused(MeasureException.Reason.LITE_RTMR0_MISMATCH, () -> LiteCheck.check(fx.withDocument(m)));
        assertTrue(e.getMessage().contains("RTMR0 event 0 (td-hob"), e.getMessage());
    }

    @Test
    void tamperedSha256SumIsRefused() {
        byte[] sums = fx.checksumFile();
        sums[0] = (byte) (sums[0] == '8' ? '9' : '8');
        String bad = fx.withVmConfig(vm -> ((ObjectNode) vm.get("tdx_measurement")).put("checksum_file",
                java.util.Base64.getEncoder().encodeToString(sums)));
        MeasureException e = refused(MeasureException.Reason.LITE_OS_IMAGE_HASH_MISMATCH, () -> LiteCheck.check(bad));
        assertTrue(e.getMessage().contains(LiteFixture.OS_IMAGE_HASH), e.getMessage());
    }

    @Test
    void otherOsImageHashIsRefused() {
        String bad = fx.withVmConfig(vm -> vm.put("os_image_hash", LiteFixture.flip(LiteFixture.OS_IMAGE_HASH, 31)));
        refused(MeasureException.Reason.LITE_OS_IMAGE_HASH_MISMATCH, () -> LiteCheck.check(bad));
    }

    @Test
    void otherMemorySizeChangesTheTdHob() {
        String bad = fx.withVmConfig(vm -> vm.put("memory_size", 4L << 30));
        MeasureException e = refused(MeasureException.Reason.LITE_RTMR0_MISMATCH, () -> LiteCheck.check(bad));
        assertTrue(e.getMessage().contains("td-hob"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(longs = {1L << 30, 0x80001000L, 0xAFFFF000L})
    void memoryOutsideTheLiteSizesIsUnsupported(long memory) {
        MeasureException e = refused(MeasureException.Reason.LITE_MEMORY_UNSUPPORTED,
                () -> LiteCheck.check(fx.withVmConfig(vm -> vm.put("memory_size", memory))));
        assertTrue(e.getMessage().contains(Long.toString(memory)), e.getMessage());
    }

    @Test
    void qemuVersionPicksTheOtherMrtdCandidate() {
        refused(MeasureException.Reason.LITE_MRTD_MISMATCH,
                () -> LiteCheck.check(fx.withVmConfig(vm -> vm.put("qemu_version", "9.1.0"))));
        refused(MeasureException.Reason.LITE_MRTD_MISMATCH,
                () -> LiteCheck.check(fx.withVmConfig(vm -> vm.put("qemu_single_pass_add_pages", false))));
        refused(MeasureException.Reason.CONFIG_UNSUPPORTED,
                () -> LiteCheck.check(fx.withVmConfig(vm -> vm.put("qemu_version", "7.2.0"))));
    }

    @Test
    void topologyOnlyChangesTheAcpiTablesWhichTheLogCarries() throws Exception {
        // cpus, GPUs and the PCI hole change QEMU's ACPI tables: the lite check takes their digests from the log
        LiteCheck.check(fx.withVmConfig(vm -> vm.put("cpu_count", 8).put("num_gpus", 1).put("pci_hole64_size", 1L << 40)));
    }

    // --- unsupported combinations: a clear error each ---

    @Test
    void legacyVariantIsUnsupported() {
        MeasureException e = refused(MeasureException.Reason.LITE_VARIANT_UNSUPPORTED,
                () -> LiteCheck.check(fx.withVmConfig(vm -> vm.put("tdx_attestation_variant", "legacy"))));
        assertTrue(e.getMessage().contains("legacy") && e.getMessage().contains(LiteFixture.OS_IMAGE_HASH));
        refused(MeasureException.Reason.LITE_VARIANT_UNSUPPORTED,
                () -> LiteCheck.check(fx.withVmConfig(vm -> vm.remove("tdx_attestation_variant"))));
        refused(MeasureException.Reason.LITE_RESPONSE_INVALID,
                () -> LiteCheck.check(fx.withVmConfig(vm -> vm.put("tdx_attestation_variant", "full"))));
    }

    @Test
    void sevIsUnsupported() {
        MeasureException e = refused(MeasureException.Reason.LITE_PLATFORM_UNSUPPORTED,
                () -> LiteCheck.check(fx.withVmConfig(vm -> vm.put("sev_snp_measurement", "{}"))));
        assertTrue(e.getMessage().contains("SEV-SNP"), e.getMessage());
        byte[] q = fx.quote();
        q[4] = 0x00; // tee type SGX
        refused(MeasureException.Reason.LITE_PLATFORM_UNSUPPORTED, () -> LiteCheck.check(fx.withQuote(q)));
    }

    @Test
    void swtpmIsUnsupported() {
        MeasureException e = refused(MeasureException.Reason.CONFIG_UNSUPPORTED,
                () -> LiteCheck.check(fx.withVmConfig(vm -> vm.put("swtpm", true))));
        assertTrue(e.getMessage().contains("swtpm"), e.getMessage());
    }

    @Test
    void legacyRtmr0WithoutAcpiTablesIsUnavailable() throws Exception {
        MachineConfig m = MachineConfig.builder().cpus(2).memoryBytes(2L << 30).qemuVersion("8.2.2").build();
        MeasurementDocument.Content c = new MeasurementDocument(fx.checksumFile(), fx.measurement()).decode();
        assertTrue(Rtmr0Fixed.rtmr0(m, c.tdHob(), Optional.empty()).isEmpty());
        assertTrue(Rtmr0Fixed.unavailableReason(m).contains("ACPI tables"));
        ExpectedMeasurements e = new MeasurementDocument(fx.checksumFile(), fx.measurement()).expected(m, Optional.empty());
        assertTrue(e.rtmr0().isEmpty());
        MeasureException x = refused(MeasureException.Reason.RTMR0_UNAVAILABLE, e::toPolicyBootchain);
        assertTrue(x.getMessage().contains("ACPI tables"), x.getMessage());
        assertEquals(report.rtmr(1), e.rtmr1());
    }

    @Test
    void missingDocumentIsRefused() {
        refused(MeasureException.Reason.LITE_DOCUMENT_MISSING,
                () -> LiteCheck.check(fx.withVmConfig(vm -> vm.remove("tdx_measurement"))));
    }

    @Test
    void acpiEventsMustBeThreeAndNamed() {
        refused(MeasureException.Reason.LITE_ACPI_EVENTS_INVALID, () -> LiteCheck.check(fx.withEventLog(
                log -> log.remove(indexOfEvent(log, "acpi-rsdp")))));
        MeasureException e = refused(MeasureException.Reason.LITE_ACPI_EVENTS_INVALID, () -> LiteCheck.check(
                fx.withEventLog(log -> LiteFixture.event(log, "acpi-rsdp").put("event", "acpi-loader"))));
        assertTrue(e.getMessage().contains("exactly one RTMR0 ACPI DATA event named acpi-loader; found 2"), e.getMessage());
        refused(MeasureException.Reason.LITE_ACPI_EVENTS_INVALID, () -> LiteCheck.check(
                fx.withEventLog(log -> LiteFixture.event(log, "acpi-tables").put("digest", "00"))));
    }

    @Test
    void malformedResponsesAreRefused() {
        refused(MeasureException.Reason.LITE_RESPONSE_INVALID, () -> LiteCheck.check("{"));
        refused(MeasureException.Reason.LITE_RESPONSE_INVALID, () -> LiteCheck.check(fx.text + "x"));
        refused(MeasureException.Reason.LITE_RESPONSE_INVALID,
                () -> LiteCheck.check(fx.withVmConfig(vm -> vm.put("memory_size", "2G"))));
        refused(MeasureException.Reason.LITE_RESPONSE_INVALID,
                () -> LiteCheck.check(fx.withVmConfig(vm -> vm.put("memory_size", -1))));
        refused(MeasureException.Reason.LITE_RESPONSE_INVALID, () -> LiteCheck.check(fx.withVmConfig(
                vm -> ((ObjectNode) vm.get("tdx_measurement")).put("measurement", "***"))));
        refused(MeasureException.Reason.LITE_RESPONSE_INVALID, () -> LiteCheck.check(fx.withQuote(new byte[] {4, 0})));
    }

    static MeasureException refused(MeasureException.Reason reason, Executable run) {
        MeasureException e = assertThrows(MeasureException.class, run);
        assertEquals(reason, e.measureReason(), e.getMessage());
        assertEquals(reason.coarse(), e.reason());
        return e;
    }

    private static void refusedNot(Executable run) {
        try {
            run.execute();
        } catch (Throwable t) {
            throw new AssertionError("unexpected refusal: " + t.getMessage(), t);
        }
    }

    private static int indexOfEvent(ArrayNode log, String name) {
        for (int i = 0; i < log.size(); i++) {
            if (log.get(i).get("event").asText().equals(name)) {
                return i;
            }
        }
        throw new AssertionError(name);
    }

    static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new AssertionError("not found");
    }
}
