package dev.atlas.dstack.kms.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.TdxEvent;
import dev.atlas.tdx.AttestationException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Known answers on upstream's real lite capture ({@code tdx-lite-getquote.json}, spec Appendix A.3) and
 * one-mutation refusals, each asserting the reason and the field.
 */
class LiteOsImageCheckTest {
    private static final HexFormat HEX = HexFormat.of();
    private static final LiteOsImageCheck CHECK = new LiteOsImageCheck(true, Path.of("/var/cache/kms"),
            "https://download.example/{OS_IMAGE_HASH}.tar.gz");

    @Test
    void fixturePasses() throws Exception {
        LiteFixture f = LiteFixture.load();
        CHECK.check(f.quote, f.eventLog, f.vmConfig);
        // the stripped form (as carried in RA-TLS certificates) keeps the ACPI entries: still verifies
        List<TdxEvent> stripped = new ArrayList<>();
        for (TdxEvent e : f.eventLog) {
            if (e.isAcpiData() || e.imr() == 3) {
                stripped.add(e.stripped());
            }
        }
        List<TdxEvent> marked = stripped.stream().map(e -> e.isRuntimeEvent() ? e
                : new TdxEvent(e.imr(), e.eventType(), e.digest(), e.event(), "ACPI DATA".getBytes(StandardCharsets.US_ASCII),
                        1, null)).toList();
        CHECK.check(f.quote, marked, f.vmConfig);
    }

    @Test
    void upstreamsStrippedAttestationPasses() throws Exception {
        // tdx-lite-attestation.json: the stripped V0 attestation of the KMS GetAppKey flow, whose embedded config
        // (a vm_config with tdx_measurement) is the only vm_config (the request's is empty)
        java.nio.file.Path f = LiteFixture.dstack().resolve("tdx-lite-attestation.json");
        org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.isRegularFile(f), "fixture absent");
        String hex = LiteFixture.JSON.readTree(java.nio.file.Files.readAllBytes(f)).get("attestation").asText();
        dev.atlas.dstack.ra.VersionedAttestation a = dev.atlas.dstack.ra.VersionedAttestation.decode(HEX.parseHex(hex));
        assertTrue(a.eventLog().stream().allMatch(e -> e.imr() == 3 || e.isAcpiData()), "stripped");
        CHECK.check(a.quote(), a.eventLog(), a.config());
        RaException x = refused(() -> CHECK.check(a.quote(), a.eventLog().stream()
                .filter(e -> !e.event().equals("acpi-loader")).toList(), a.config()));
        assertEquals("event_log", x.field());
    }

    @Test
    void loggedRtmr0To2ReplayToTheQuote() throws Exception {
        // Appendix A.3: the RTMR0-2 replay of the logged digests matches the quote
        LiteFixture f = LiteFixture.load();
        LiteOsImageCheck.Registers q = LiteOsImageCheck.Registers.ofQuote(f.quote);
        for (int imr = 0; imr < 3; imr++) {
            List<byte[]> d = new ArrayList<>();
            for (TdxEvent e : f.eventLog) {
                if (e.imr() == imr) {
                    d.add(e.digest());
                }
            }
            byte[] want = imr == 0 ? q.rtmr0() : imr == 1 ? q.rtmr1() : q.rtmr2();
            assertArrayEquals(want, LiteOsImageCheck.replay(d), "RTMR" + imr);
        }
    }

    @Test
    void everyRecomputedDigestEqualsTheLoggedOne() throws Exception {
        LiteFixture f = LiteFixture.load();
        LiteVmConfig c = LiteVmConfig.parse(f.vmConfig);
        TdxImageMeasurement m = TdxImageMeasurement.decode(c.tdxMeasurement().orElseThrow().measurement());
        Map<Integer, List<byte[]>> logged = new java.util.HashMap<>();
        for (TdxEvent e : f.eventLog) {
            logged.computeIfAbsent((int) e.imr(), k -> new ArrayList<>()).add(e.digest());
        }
        List<byte[]> r0 = logged.get(0);
        assertEquals(13, r0.size(), "pre202505 OVMF logs 13 RTMR0 events");
        assertArrayEquals(r0.get(0), TdHob.measure(m.tdHobWitness(), c.memorySize()), "TD HOB from the witness");
        assertEquals("9dc3a1f80bcec915391dcda5ffbb15e7419f77eab462bbf72b42166fb70d50325e37b36f93537a863769bcf9bedae6fb",
                HEX.formatHex(LiteOsImageCheck.efiVariable("8BE4DF61-93CA-11D2-AA0D-00E098032B8C", "SecureBoot")));
        assertArrayEquals(r0.get(6), LiteOsImageCheck.efiVariable("D719B2CB-3D3A-4596-A3BC-DAD00E67656F", "dbx"));
        assertArrayEquals(logged.get(2).get(0), m.cmdlineSha384(), "RTMR2 cmdline");
        assertArrayEquals(logged.get(2).get(1), m.initrdSha384(), "RTMR2 initrd");
        assertArrayEquals(logged.get(1).get(0), m.kernelAuthenticode(), "RTMR1 kernel");
        assertTrue(LiteOsImageCheck.twoPass(c), "QEMU 8.2.2 adds pages in two passes");
        LiteOsImageCheck.Registers want = LiteOsImageCheck.Registers.ofQuote(f.quote);
        assertEquals(want, LiteOsImageCheck.expected(c, m, LiteOsImageCheck.acpiDigests(f.eventLog)));
        assertEquals("e6f5cfec20c02e7b97baa213d0f718020b55e040172d90ccbcb946d56c8b09db", HEX.formatHex(c.osImageHash()));
    }

    // ---- one mutation each ---------------------------------------------------------------------------------

    @Test
    void tamperedAcpiDigestChangesRtmr0() {
        LiteFixture f = LiteFixture.load();
        List<TdxEvent> log = new ArrayList<>(f.eventLog);
        for (int i = 0; i < log.size(); i++) {
            TdxEvent e = log.get(i);
            if (e.event().equals("acpi-tables")) {
                byte[] d = e.digest();
                d[0] ^= 1;
                log.set(i, TdxEvent.of(e.imr(), e.eventType(), d, e.event(), e.payload()));
            }
        }
        RaException x = refused(() -> CHECK.check(f.quote, log, f.vmConfig));
        assertEquals("quote.rtmr0", x.field());
        assertTrue(x.getMessage().contains("RTMR0 mismatch"), x.getMessage());
    }

    @Test
    void wrongRtmrInTheQuote() {
        LiteFixture f = LiteFixture.load();
        for (int imr = 0; imr < 3; imr++) {
            byte[] q = f.quote.clone();
            q[48 + 328 + 48 * imr + 5] ^= 0x40;
            int i = imr;
            RaException x = refused(() -> CHECK.check(q, f.eventLog, f.vmConfig));
            assertEquals("quote.rtmr" + i, x.field(), x.getMessage());
        }
        byte[] q = f.quote.clone();
        q[48 + 136] ^= 1;
        assertEquals("quote.mrtd", refused(() -> CHECK.check(q, f.eventLog, f.vmConfig)).field());
    }

    @Test
    void wrongOsImageHash() {
        LiteFixture f = LiteFixture.load();
        String cfg = f.vmConfigWith("os_image_hash", "e6f5cfec20c02e7b97baa213d0f718020b55e040172d90ccbcb946d56c8b09dc");
        RaException x = refused(() -> CHECK.check(f.quote, f.eventLog, cfg));
        assertEquals("vm_config.os_image_hash", x.field());
        assertTrue(x.getMessage().contains("os_image_hash mismatch"), x.getMessage());
    }

    @Test
    void anotherImagesDocumentUnderTheClaimedHash() throws Exception {
        // a lying vm_config: the document of another image (its own sha256sum.txt) but the claimed os_image_hash
        LiteFixture f = LiteFixture.load();
        ObjectNode n = f.vmConfigJson();
        ObjectNode doc = (ObjectNode) n.get("tdx_measurement");
        byte[] sums = Base64.getDecoder().decode(doc.get("checksum_file").asText());
        byte[] other = (new String(sums, StandardCharsets.UTF_8) + "0000  kernel\n").getBytes(StandardCharsets.UTF_8);
        doc.put("checksum_file", Base64.getEncoder().encodeToString(other));
        RaException x = refused(() -> CHECK.check(f.quote, f.eventLog, n.toString()));
        assertEquals("vm_config.os_image_hash", x.field());
    }

    @Test
    void tamperedMeasurementDocument() {
        LiteFixture f = LiteFixture.load();
        ObjectNode n = f.vmConfigJson();
        ObjectNode doc = (ObjectNode) n.get("tdx_measurement");
        byte[] m = Base64.getDecoder().decode(doc.get("measurement").asText());
        m[m.length - 1] ^= 1;
        doc.put("measurement", Base64.getEncoder().encodeToString(m));
        RaException x = refused(() -> CHECK.check(f.quote, f.eventLog, n.toString()));
        assertEquals("vm_config.tdx_measurement.measurement", x.field());
        assertTrue(x.getMessage().contains("measurement.tdx.cbor hash mismatch"), x.getMessage());
    }

    @Test
    void memorySizeEntersTheTdHob() {
        LiteFixture f = LiteFixture.load();
        RaException x = refused(() -> CHECK.check(f.quote, f.eventLog, f.vmConfigWith("memory_size", 4L << 30)));
        assertEquals("quote.rtmr0", x.field());
        RaException low = refused(() -> CHECK.check(f.quote, f.eventLog, f.vmConfigWith("memory_size", 1L << 30)));
        assertEquals("vm_config.memory_size", low.field());
        assertTrue(low.getMessage().contains("requires memory_size"), low.getMessage());
    }

    @Test
    void qemuVersionSelectsTheMrtdCandidate() {
        LiteFixture f = LiteFixture.load();
        assertEquals("quote.mrtd", refused(() -> CHECK.check(f.quote, f.eventLog,
                f.vmConfigWith("qemu_version", "9.2.1"))).field());
        assertEquals("quote.mrtd", refused(() -> CHECK.check(f.quote, f.eventLog,
                f.vmConfigWith("qemu_single_pass_add_pages", false))).field());
        RaException old = refused(() -> CHECK.check(f.quote, f.eventLog, f.vmConfigWith("qemu_version", "7.2.0")));
        assertEquals("vm_config.qemu_version", old.field());
        RaException bad = assertThrows(RaException.class,
                () -> CHECK.check(f.quote, f.eventLog, f.vmConfigWith("qemu_version", "8.2")));
        assertEquals(Reason.WRONG_TYPE, bad.raReason());
    }

    @Test
    void legacyVariantIsNotSupported() {
        LiteFixture f = LiteFixture.load();
        ObjectNode n = f.vmConfigJson();
        n.remove("tdx_attestation_variant");
        RaException x = refused(() -> CHECK.check(f.quote, f.eventLog, n.toString()));
        assertEquals("vm_config.tdx_attestation_variant", x.field());
        assertTrue(x.getMessage().contains("not supported"), x.getMessage());
        assertTrue(x.getMessage().contains("/var/cache/kms/images/e6f5cfec"), x.getMessage());
        assertTrue(x.getMessage().contains("https://download.example/e6f5cfec"), x.getMessage());
    }

    @Test
    void liteWithoutDocument() {
        LiteFixture f = LiteFixture.load();
        ObjectNode n = f.vmConfigJson();
        n.remove("tdx_measurement");
        RaException x = refused(() -> CHECK.check(f.quote, f.eventLog, n.toString()));
        assertEquals("vm_config.tdx_measurement", x.field());
        assertTrue(x.getMessage().contains("requires vm_config.tdx_measurement"), x.getMessage());
    }

    @Test
    void acpiEventsMustBeThreeAndNamed() {
        LiteFixture f = LiteFixture.load();
        List<TdxEvent> missing = f.eventLog.stream().filter(e -> !e.event().equals("acpi-rsdp")).toList();
        assertTrue(refused(() -> CHECK.check(f.quote, missing, f.vmConfig)).getMessage()
                .contains("exactly 3 RTMR0 ACPI DATA events; found 2"));
        List<TdxEvent> renamed = f.eventLog.stream().map(e -> e.event().equals("acpi-rsdp")
                ? TdxEvent.of(e.imr(), e.eventType(), e.digest(), "acpi-loader", e.payload()) : e).toList();
        assertTrue(refused(() -> CHECK.check(f.quote, renamed, f.vmConfig)).getMessage()
                .contains("named acpi-loader; found 2"));
    }

    @Test
    void ovmfVariantMustMatch() {
        LiteFixture f = LiteFixture.load();
        RaException x = assertThrows(RaException.class,
                () -> CHECK.check(f.quote, f.eventLog, f.vmConfigWith("ovmf_variant", "post202505")));
        assertEquals(Reason.UNKNOWN_VARIANT, x.raReason());
        assertEquals("vm_config.ovmf_variant", x.field());
    }

    @Test
    void sysConfigWrapperIsUnwrapped() throws Exception {
        LiteFixture f = LiteFixture.load();
        ObjectNode sys = LiteFixture.JSON.createObjectNode();
        sys.put("vm_config", f.vmConfig);
        sys.put("kms_urls", "[]");
        CHECK.check(f.quote, f.eventLog, sys.toString());
    }

    @Test
    void verifyOffChecksNothing() throws Exception {
        LiteFixture f = LiteFixture.load();
        new LiteOsImageCheck(false, Path.of("/x"), "").check(f.quote, List.of(), "{\"os_image_hash\":1}");
    }

    static RaException refused(Executable e) {
        RaException x = assertThrows(RaException.class, e::run);
        assertEquals(Reason.OS_IMAGE_MISMATCH, x.raReason(), x.getMessage());
        assertEquals(AttestationException.Reason.OS_IMAGE_HASH_MISMATCH, x.reason());
        return x;
    }

    interface Executable {
        void run() throws Exception;
    }
}
