package dev.atlas.dstack.kms.internal;

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
    void unreadableInputsKeepTheKmsDecoderReasons() {
        // atlas-measure parses; the adapter maps its LITE_RESPONSE_INVALID / LITE_DOCUMENT_INVALID / CONFIG_INVALID
        // to the reasons the KMS's own parsers gave, with the field and atlas-measure's detail
        LiteFixture f = LiteFixture.load();
        assertReason(Reason.BAD_CONFIG, "vm_config", () -> CHECK.check(f.quote, f.eventLog, "{\"memory_size\":1} x"));
        assertReason(Reason.WRONG_TYPE, "vm_config.memory_size",
                () -> CHECK.check(f.quote, f.eventLog, f.vmConfigWith("memory_size", "2G")));
        assertReason(Reason.UNKNOWN_VARIANT, "vm_config.tdx_attestation_variant",
                () -> CHECK.check(f.quote, f.eventLog, f.vmConfigWith("tdx_attestation_variant", "Lite")));
        ObjectNode n = f.vmConfigJson();
        ((ObjectNode) n.get("tdx_measurement")).remove("measurement");
        assertReason(Reason.MISSING_FIELD, "vm_config.tdx_measurement.measurement",
                () -> CHECK.check(f.quote, f.eventLog, n.toString()));
        RaException big = assertReason(Reason.TOO_LARGE, "vm_config",
                () -> CHECK.check(f.quote, f.eventLog, " ".repeat(256 * 1024 + 1)));
        assertTrue(!big.getMessage().startsWith("vm_config: LITE_RESPONSE_INVALID"), big.getMessage());
        assertReason(Reason.BAD_QUOTE, "quote", () -> CHECK.check(new byte[] {4, 0}, f.eventLog, f.vmConfig));
        List<TdxEvent> longDigest = new ArrayList<>(f.eventLog);
        TdxEvent e1 = longDigest.stream().filter(e -> e.imr() == 1).findFirst().orElseThrow();
        longDigest.set(longDigest.indexOf(e1), TdxEvent.of(1, e1.eventType(), new byte[49], e1.event(), e1.payload()));
        assertEquals("event_log", refused(() -> CHECK.check(f.quote, longDigest, f.vmConfig)).field());
    }

    @Test
    void malformedDocumentIsWrongType() throws Exception {
        // a measurement.tdx.cbor that is not CBOR, consistently re-bound to sha256sum.txt and os_image_hash
        LiteFixture f = LiteFixture.load();
        byte[] doc = {(byte) 0x83, 1, 2, 3};
        String sums = HEX.formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(doc))
                + "  measurement.tdx.cbor\n";
        ObjectNode n = f.vmConfigJson();
        ObjectNode m = (ObjectNode) n.get("tdx_measurement");
        m.put("measurement", Base64.getEncoder().encodeToString(doc));
        m.put("checksum_file", Base64.getEncoder().encodeToString(sums.getBytes(StandardCharsets.UTF_8)));
        n.put("os_image_hash", HEX.formatHex(java.security.MessageDigest.getInstance("SHA-256")
                .digest(sums.getBytes(StandardCharsets.UTF_8))));
        RaException x = assertReason(Reason.WRONG_TYPE, "measurement.tdx.cbor",
                () -> CHECK.check(f.quote, f.eventLog, n.toString()));
        assertTrue(x.getMessage().contains("CBOR map"), x.getMessage());
    }

    @Test
    void registerMismatchKeepsUpstreamsText() {
        LiteFixture f = LiteFixture.load();
        byte[] q = f.quote.clone();
        q[48 + 328 + 48 + 5] ^= 0x40;
        RaException x = refused(() -> CHECK.check(q, f.eventLog, f.vmConfig));
        assertTrue(x.getMessage().matches(".*: quote\\.rtmr1: MRs do not match: RTMR1 mismatch: expected=[0-9a-f]{96}, "
                + "actual=[0-9a-f]{96}"), x.getMessage());
    }

    @Test
    void machinesAtlasMeasureDoesNotModelAreRefused() {
        // stricter than the KMS's own copy was (docs/dstack-kms-osimage.md): atlas-measure refuses swtpm and a
        // vm_config of another platform
        LiteFixture f = LiteFixture.load();
        assertEquals("vm_config.swtpm", refused(() -> CHECK.check(f.quote, f.eventLog,
                f.vmConfigWith("swtpm", true))).field());
        assertEquals("vm_config.sev_snp_measurement", refused(() -> CHECK.check(f.quote, f.eventLog,
                f.vmConfigWith("sev_snp_measurement", "{}"))).field());
    }

    static RaException assertReason(Reason r, String field, Executable e) {
        RaException x = assertThrows(RaException.class, e::run);
        assertEquals(r, x.raReason(), x.getMessage());
        assertEquals(field, x.field(), x.getMessage());
        return x;
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
