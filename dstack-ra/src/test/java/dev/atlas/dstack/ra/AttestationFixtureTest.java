package dev.atlas.dstack.ra;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/** §2.7 on dstack's fixtures, and the Appendix A.3 measurements. */
class AttestationFixtureTest {
    static final HexFormat HEX = HexFormat.of();
    static final ObjectMapper JSON = new ObjectMapper();

    static byte[] simulatorBin() {
        return Shared.bytes("simulator/attestation.bin");
    }

    static byte[] liteAttestation() throws Exception {
        return HEX.parseHex(JSON.readTree(Shared.text("tdx-lite-attestation.json")).get("attestation").asText());
    }

    /** The raw GetQuoteResponse as a V0 attestation: quote, event log, the RTMR3 runtime events, vm_config. */
    static VersionedAttestation fromGetQuote() throws Exception {
        JsonNode g = JSON.readTree(Shared.text("tdx-lite-getquote.json"));
        List<TdxEvent> log = new ArrayList<>();
        List<RuntimeEvent> rt = new ArrayList<>();
        for (JsonNode e : JSON.readTree(g.get("event_log").asText())) {
            TdxEvent ev = TdxEvent.of(e.get("imr").asLong(), e.get("event_type").asLong(),
                    HEX.parseHex(e.get("digest").asText()), e.get("event").asText(),
                    HEX.parseHex(e.get("event_payload").asText()));
            log.add(ev);
            if (ev.imr() == 3 && ev.isRuntimeEvent()) {
                rt.add(ev.toRuntimeEvent());
            }
        }
        return new VersionedAttestation(0, HEX.parseHex(g.get("quote").asText()), log, rt,
                HEX.parseHex(g.get("report_data").asText()), g.get("vm_config").asText(), null);
    }

    @Test
    void simulatorAttestationBinParsesToTheEndAndReencodesByteForByte() throws Exception {
        byte[] bin = simulatorBin();
        assertThat(bin).hasSize(9504);
        VersionedAttestation a = VersionedAttestation.decode(bin);
        assertThat(a.version()).isZero();
        assertThat(a.encode()).isEqualTo(bin);
        assertThat(a.quote()).hasSize(5010);
        assertThat(a.eventLog()).isNotEmpty();
        assertThat(a.findEventPayload("app-id")).hasSize(20);
        // the same file as guest-agent/fixtures/attestation.bin
        assertThat(VersionedAttestation.decode(Shared.bytes("guest-agent-attestation.bin"))).isEqualTo(a);
        // report_data of the quote is the attestation's
        assertThat(java.util.Arrays.copyOfRange(a.quote(), 568, 632)).isEqualTo(a.reportData());
    }

    @Test
    void liteAttestationParsesToTheEndAndReencodesByteForByte() throws Exception {
        byte[] bytes = liteAttestation();
        assertThat(bytes).hasSize(7305);
        VersionedAttestation a = VersionedAttestation.decode(bytes);
        assertThat(a.encode()).isEqualTo(bytes);
        // it is already stripped: stripping again changes nothing
        assertThat(a.stripped()).isEqualTo(a);
        assertThat(a.eventLog()).allSatisfy(e -> assertThat(e.imr() == 3 || e.isAcpiData()).isTrue());
        assertThat(a.eventLog().stream().filter(TdxEvent::isAcpiData).map(TdxEvent::event))
                .containsExactly("acpi-loader", "acpi-rsdp", "acpi-tables");
    }

    @Test
    void a3MeasurementsOfTheLiteGetQuoteFixture() throws Exception {
        VersionedAttestation a = fromGetQuote();
        AppInfo full = a.appInfo(false);
        AppInfo boot = a.appInfo(true);
        assertThat(HEX.formatHex(full.mrAggregated()))
                .isEqualTo("c758fa624b62536ca77504c4c52745e70880220a178a615a859c52f8b101d2ee");
        assertThat(HEX.formatHex(boot.mrAggregated()))
                .isEqualTo("f4e6117e0fdea4b23b5f32a2a59e7b7b99b64df237a9536fb2cb5ca2a270145e");
        assertThat(HEX.formatHex(full.mrSystem()))
                .isEqualTo("118f754a080ecb8527df65656ee4e7e97b891cf488ad6a38886ff0dbca0c8f70");
        assertThat(HEX.formatHex(full.osImageHash()))
                .isEqualTo("e6f5cfec20c02e7b97baa213d0f718020b55e040172d90ccbcb946d56c8b09db");
        assertThat(boot.keyProviderInfo()).isEmpty();
        assertThat(new String(full.keyProviderInfo(), java.nio.charset.StandardCharsets.UTF_8)).contains("\"name\"");
        // RTMR3 replay with the V1 digest reproduces the quote's RTMR3
        assertThat(RuntimeEvent.replay(a.runtimeEvents(), null)).isEqualTo(java.util.Arrays.copyOfRange(a.quote(), 520, 568));
        // Q12: GetQuote's RTMR3 entries carry no digest (sdk/curl/api.md says they do); verifiers recompute it
        assertThat(a.eventLog().stream().filter(e -> e.imr() == 3)).allSatisfy(e -> assertThat(e.digest()).isEmpty());
        // AppInfo survives its msgpack array form
        assertThat(AppInfo.decode(full.encode())).isEqualTo(full);
    }

    @Test
    void liteAttestationHasTheSameMeasurementsAsItsGetQuote() throws Exception {
        VersionedAttestation lite = VersionedAttestation.decode(liteAttestation());
        VersionedAttestation raw = fromGetQuote();
        assertThat(lite.quote()).isEqualTo(raw.quote());
        AppInfo a = lite.appInfo(false);
        AppInfo b = raw.appInfo(false);
        assertThat(a.mrAggregated()).isEqualTo(b.mrAggregated());
        assertThat(a.mrSystem()).isEqualTo(b.mrSystem());
        assertThat(a.appId()).isEqualTo(b.appId());
        assertThat(a.composeHash()).isEqualTo(b.composeHash());
    }

    @Test
    void strippingTheFullGetQuoteKeepsRtmr3AndAcpiOnly() throws Exception {
        VersionedAttestation raw = fromGetQuote();
        VersionedAttestation s = raw.stripped();
        long rtmr3 = raw.eventLog().stream().filter(e -> e.imr() == 3).count();
        long acpi = raw.eventLog().stream().filter(TdxEvent::isAcpiData).count();
        assertThat(s.eventLog()).hasSize((int) (rtmr3 + acpi));
        for (TdxEvent e : s.eventLog()) {
            if (e.imr() == 3) {
                assertThat(e.digest()).isEmpty();
                assertThat(e.payload()).isNotNull();
            } else {
                assertThat(e.digest()).hasSize(48);
                assertThat(new String(e.payload(), java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("ACPI DATA");
            }
        }
        // the stripped raw log is the lite attestation's log
        assertThat(s.eventLog()).isEqualTo(VersionedAttestation.decode(liteAttestation()).eventLog());
    }

    @Test
    void v0AndV1RoundTripThroughEachOther() throws Exception {
        VersionedAttestation a = VersionedAttestation.decode(simulatorBin());
        byte[] v1 = a.withVersion(1).encode();
        assertThat(v1[0] & 0xff).isEqualTo(0x83);
        VersionedAttestation b = VersionedAttestation.decode(v1);
        assertThat(b.version()).isEqualTo(1);
        assertThat(b.encode()).isEqualTo(v1);
        assertThat(b.withVersion(0).encode()).isEqualTo(simulatorBin());
    }

    @Test
    void mrConfigIdOfTheLiteFixtureIsNonZero() throws Exception {
        byte[] q = fromGetQuote().quote();
        byte[] mrConfigId = java.util.Arrays.copyOfRange(q, 232, 280);
        assertThat(mrConfigId).isNotEqualTo(new byte[48]);
    }
}
