package dev.atlas.bench;

import dev.atlas.dstack.AttestationReport;
import dev.atlas.dstack.Bootchain;
import dev.atlas.dstack.DstackTdxPolicy;
import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.EventLog;
import dev.atlas.dstack.QuoteResponse;
import dev.atlas.dstack.ReportData;
import dev.atlas.tdx.Collateral;
import dev.atlas.tdx.CollateralSource;
import dev.atlas.tdx.QuoteVerifier;
import dev.atlas.testing.DcapEvidence;
import dev.atlas.testing.DstackEventLog;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.ZoneOffset;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * The dstack layer on simulated evidence shaped like a real dstack 0.6 response (12 boot events, 9 runtime
 * events with empty digests, a certificate event), signed through the mock Intel PKI.
 * <ul>
 *   <li>{@code eventLogOnly}: parse the response JSON (quote hex + double-encoded log), check the log,
 *       replay the four RTMRs: the dstack layer's own cost per connection.</li>
 *   <li>{@code fullWarm}: the whole {@link DstackTdxVerifier} (response parsing, event log, DCAP with a shared
 *       verifier and collateral, policy) as a client does for every new connection.</li>
 * </ul>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class DstackVerifyBenchmark {
    String responseJson;
    DstackTdxVerifier verifier;
    DstackTdxPolicy policy;
    byte[] nonce = new byte[32];
    byte[] ekm = new byte[32];
    byte[] cert = "leaf certificate DER".getBytes(StandardCharsets.US_ASCII);

    @Setup
    public void setup() throws Exception {
        HexFormat hex = HexFormat.of();
        byte[] compose = "{\"runner\":\"docker-compose\",\"docker_compose_file\":\"services: {}\"}"
                .getBytes(StandardCharsets.UTF_8);
        String os = "07".repeat(32);
        DstackEventLog log = DstackEventLog.dstackBoot(compose, os).tlsCertificate(cert).emptyRuntimeDigests().build();
        DcapEvidence.Builder eb = DcapEvidence.tdx().mrTd("ab".repeat(48))
                .reportData(ReportData.sessionBindingHex(nonce, ekm));
        for (int i = 0; i < 4; i++) {
            eb.rtmr(i, log.rtmr(i));
        }
        DcapEvidence ev = eb.build();
        responseJson = "{\"quote\":\"" + hex.formatHex(ev.quote()) + "\",\"event_log\":"
                + new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(log.json())
                + ",\"report_data\":\"\",\"vm_config\":\"{}\"}";
        DstackTdxPolicy policy = DstackTdxPolicy.builder()
                .expectedBootchain(Bootchain.of("ab".repeat(48), log.rtmr(0), log.rtmr(1), log.rtmr(2)))
                .appComposeRaw(new String(compose, StandardCharsets.UTF_8)).osImageHash(os).build();
        this.policy = policy;
        verifier = DstackTdxVerifier.builder()
                .quoteVerifier(QuoteVerifier.builder().insecureTrustAnchorForTesting(ev.rootCertificate()).build())
                .collateralSource(CollateralSource.fixed(Collateral.fromJson(ev.collateralJson())))
                .clock(Clock.fixed(ev.verificationTime(), ZoneOffset.UTC)).build();
        fullWarm();
    }

    @Benchmark
    public List<byte[]> eventLogOnly() throws Exception {
        EventLog log = QuoteResponse.parse(responseJson).eventLog();
        log.verify();
        return log.replay();
    }

    @Benchmark
    public AttestationReport fullWarm() throws Exception {
        return verifier.verify(DstackTdxVerifier.Evidence.builder(QuoteResponse.parse(responseJson))
                .sessionBinding(nonce, ekm).peerCertificate(cert).build(), policy);
    }
}
