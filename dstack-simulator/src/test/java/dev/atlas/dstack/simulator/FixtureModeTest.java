package dev.atlas.dstack.simulator;

import static dev.atlas.dstack.simulator.GuestAgentSimulatorTest.HEX;
import static dev.atlas.dstack.simulator.GuestAgentSimulatorTest.JSON;
import static dev.atlas.dstack.simulator.GuestAgentSimulatorTest.SIM_APP_ID;
import static dev.atlas.dstack.simulator.GuestAgentSimulatorTest.SIM_KMS;
import static dev.atlas.dstack.simulator.GuestAgentSimulatorTest.certificate;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.PolicyJson;
import dev.atlas.dstack.QuoteResponse;
import dev.atlas.dstack.guest.AppInfo;
import dev.atlas.dstack.guest.DstackClient;
import dev.atlas.dstack.guest.Quote;
import dev.atlas.dstack.guest.TlsKey;
import dev.atlas.dstack.guest.TlsKeyRequest;
import dev.atlas.dstack.ra.RaTlsCertificate;
import dev.atlas.dstack.ra.RaTlsVerifier;
import dev.atlas.dstack.ra.VersionedAttestation;
import dev.atlas.testing.MockPccs;
import dev.atlas.testing.SharedTestData;
import dev.atlas.tdx.CollateralSource;
import dev.atlas.tdx.QuoteVerifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Upstream's simulator mode: dstack's {@code attestation.bin} replayed, patched, or re-signed by the mock PKI. */
class FixtureModeTest {
    @TempDir Path dir;

    static Path files() {
        return SharedTestData.dir().resolve("dstack/simulator");
    }

    GuestAgentSimulator.Builder builder() {
        Path f = files();
        return GuestAgentSimulator.builder().keys(f.resolve("appkeys.json")).compose(f.resolve("app-compose.json"))
                .sysConfig(f.resolve("sys-config.json")).attestation(f.resolve("attestation.bin"))
                .internalSocket(dir.resolve("dstack.sock"));
    }

    DstackClient client(GuestAgentSimulator s) {
        return DstackClient.builder().environment(Map.of()).endpoint(s.internalSocket().orElseThrow().toString()).build();
    }

    @Test
    void infoIsTheFixtureAndQuotesArePatched() throws Exception {
        VersionedAttestation fixture = VersionedAttestation.decode(Files.readAllBytes(files().resolve("attestation.bin")));
        try (GuestAgentSimulator s = builder().start()) {
            DstackClient c = client(s);
            AppInfo i = c.info();
            assertThat(i.appId()).isEqualTo(HEX.formatHex(SIM_APP_ID)); // from the fixture, no appId() needed
            JsonNode tcb = JSON.readTree(i.tcbInfo());
            assertThat(tcb.get("mrtd").asText()).isEqualTo(HEX.formatHex(Arrays.copyOfRange(fixture.quote(), 184, 232)));
            assertThat(tcb.get("rtmr3").asText()).isEqualTo(HEX.formatHex(Arrays.copyOfRange(fixture.quote(), 520, 568)));
            // the chain verifies to the KMS of the files with the fixture's app id
            assertThat(s.kmsPublicKey()).hasValueSatisfying(k -> assertThat(k).isEqualTo(SIM_KMS));
            c.getKey("/test/path", "test-purpose", SIM_KMS);

            byte[] rd = "patched".getBytes(StandardCharsets.UTF_8);
            Quote q = c.getQuote(rd);
            byte[] padded = Arrays.copyOf(rd, 64);
            assertThat(Arrays.copyOfRange(q.quote(), 568, 632)).isEqualTo(padded);
            // everything but the report data is the fixture's quote: Intel's signature no longer covers it
            byte[] expected = fixture.quote();
            System.arraycopy(padded, 0, expected, 568, 64);
            assertThat(q.quote()).isEqualTo(expected);
            VersionedAttestation att = VersionedAttestation.decode(q.attestation());
            assertThat(att.version()).isEqualTo(1); // GetQuote's attestation is V1, as upstream's simulator
            assertThat(att.reportData()).isEqualTo(padded);
            // Attest keeps the V0 fixture V0
            VersionedAttestation a = VersionedAttestation.decode(c.attest(rd));
            assertThat(a.version()).isZero();
            assertThat(a.reportData()).isEqualTo(padded);
            // no mock root signs these quotes
            assertThatThrownBy(s::mockRootCaPem).isInstanceOf(IllegalStateException.class);
            // EmitEvent cannot extend a fixed quote
            RawHttp.Response r = RawHttp.post(s.internalSocket().orElseThrow(), "/EmitEvent",
                    "{\"event\":\"x\",\"payload\":\"00\"}");
            assertThat(r.status()).isEqualTo(400);
            // GetTlsKey still works: the local CA signs, the leaf's attestation carries the binding
            TlsKey k = c.getTlsKey(TlsKeyRequest.builder().subject("fx").usageRaTls(true).build());
            assertThat(RaTlsCertificate.parse(k.certificates().get(0)).versionedAttestation().orElseThrow().reportData())
                    .isEqualTo(RaTlsCertificate.reportData(k.certificates().get(0).getPublicKey()));
        }
    }

    @Test
    void keepFixtureReportData() throws Exception {
        VersionedAttestation fixture = VersionedAttestation.decode(Files.readAllBytes(files().resolve("attestation.bin")));
        try (GuestAgentSimulator s = builder().keepFixtureReportData().start()) {
            Quote q = client(s).getQuote(new byte[] {1, 2, 3});
            assertThat(q.quote()).isEqualTo(fixture.quote());
        }
    }

    @Test
    void resignedQuotesVerifyAgainstTheMockRootKeepingTheFixtureMeasurements() throws Exception {
        VersionedAttestation fixture = VersionedAttestation.decode(Files.readAllBytes(files().resolve("attestation.bin")));
        try (GuestAgentSimulator s = builder().resignWithMockPki().start();
                MockPccs pccs = MockPccs.start(s::collateralJson, 0)) {
            DstackClient c = client(s);
            byte[] rd = "resigned".getBytes(StandardCharsets.UTF_8);
            Quote q = c.getQuote(rd);
            for (int off : new int[] {184, 376, 424, 472, 520}) {
                assertThat(Arrays.copyOfRange(q.quote(), off, off + 48)).isEqualTo(Arrays.copyOfRange(fixture.quote(), off,
                        off + 48));
            }
            DstackTdxVerifier v = DstackTdxVerifier.builder()
                    .quoteVerifier(QuoteVerifier.builder().insecureTrustAnchorForTesting(certificate(s.mockRootCaPem()))
                            .build())
                    .collateralSource(CollateralSource.forUrl(pccs.tdxUrl(), false, Clock.systemUTC())).build();
            ObjectNode o = JSON.createObjectNode();
            o.put("quote", HEX.formatHex(q.quote()));
            o.put("event_log", q.eventLog());
            o.put("report_data", HEX.formatHex(q.reportData()));
            o.put("vm_config", q.vmConfig());
            v.verify(DstackTdxVerifier.Evidence.builder(QuoteResponse.parse(o.toString()))
                    .expectedReportData(Arrays.copyOf(rd, 64)).skipCertificateCheck().build(),
                    PolicyJson.parse(s.policyJson(pccs.tdxUrl())), Instant.now());
            // the RA-TLS leaf verifies through the local CA and the mock root
            TlsKey k = c.getTlsKey(TlsKeyRequest.builder().subject("fx").usageRaTls(true).build());
            RaTlsVerifier.builder().trustedCa(certificate(s.appKeys().caCert())).dstackVerifier(v)
                    .usage(RaTlsCertificate.USAGE_APP_CUSTOM).build().verify(k.certificates(), Instant.now());
            // the policy names the fixture's bootchain
            JsonNode policy = JSON.readTree(s.policyJson(pccs.tdxUrl()));
            assertThat(policy.get("expected_bootchain").get("mrtd").asText())
                    .isEqualTo(HEX.formatHex(Arrays.copyOfRange(fixture.quote(), 184, 232)));
            PolicyJson.parse(policy.toString());
        }
    }
}
