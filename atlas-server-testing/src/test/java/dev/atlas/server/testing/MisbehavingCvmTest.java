package dev.atlas.server.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.atlas.dstack.AttestationReport;
import dev.atlas.dstack.DstackTdxPolicy;
import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.QuoteResponse;
import dev.atlas.server.AtlsServer;
import dev.atlas.server.ServerCertificate;
import dev.atlas.tdx.AttestationException.Reason;
import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.Collateral;
import dev.atlas.tdx.CollateralSource;
import dev.atlas.tdx.QuoteVerifier;
import dev.atlas.tdx.TcbStatus;
import dev.atlas.testing.SimulatedCvm;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.HexFormat;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * Each simulator misbehaviour, served by the aTLS server, is rejected by the production verifier with its
 * reason. The policy is always written from what the CVM declares (as `atlas simulate` does).
 */
class MisbehavingCvmTest {
    static final ServerCertificate CERT = ServerCertificate.selfSigned(Clock.systemUTC(), Duration.ofDays(1), "localhost");

    static AttestationReport attest(UnaryOperator<SimulatedCvm.Builder> change, int connections) throws Exception {
        SimulatedCvm cvm = change.apply(SimulatedCvm.builder().seed(11)).build();
        try (AtlsServer s = AtlsServer.builder().certificate(CERT).quoteProvider(SimulatedQuoteProvider.of(cvm))
                .checkQuoteReportData(false).build().start()) {
            AttestationReport last = null;
            for (int i = 0; i < connections; i++) {
                byte[] nonce = new byte[32];
                nonce[0] = (byte) i;
                try (JsseClient c = JsseClient.connect(s.address(), s.certificate().leaf())) {
                    JsseClient.Response r = c.exchange(JsseClient.quoteRequest("localhost",
                            "{\"nonce_hex\":\"" + HexFormat.of().formatHex(nonce) + "\"}"));
                    assertThat(r.status()).isEqualTo(200);
                    DstackTdxPolicy p = AtlsServerTest.policy(cvm, null);
                    last = DstackTdxVerifier.builder()
                            .quoteVerifier(QuoteVerifier.builder().insecureTrustAnchorForTesting(cvm.rootCertificate()).build())
                            .collateralSource(CollateralSource.fixed(Collateral.fromJson(cvm.collateralJson())))
                            .build()
                            .verify(DstackTdxVerifier.Evidence.builder(QuoteResponse.parse(r.text()))
                                    .sessionBinding(nonce, c.ekm).peerCertificate(CERT.leaf().getEncoded()).build(), p);
                }
            }
            return last;
        }
    }

    static Reason rejected(UnaryOperator<SimulatedCvm.Builder> change) {
        return rejected(change, 1);
    }

    static Reason rejected(UnaryOperator<SimulatedCvm.Builder> change, int connections) {
        return assertThrows(AttestationException.class, () -> attest(change, connections)).reason();
    }

    @Test
    void honestCvmVerifies() throws Exception {
        assertThat(attest(b -> b, 1).tcbStatus()).isEqualTo(TcbStatus.UP_TO_DATE);
        assertThat(attest(SimulatedCvm.Builder::stripRuntimeDigests, 1).tcbStatus()).isEqualTo(TcbStatus.UP_TO_DATE);
    }

    @Test
    void anotherTcbStatus() {
        assertThat(rejected(b -> b.tcbStatus("OutOfDate"))).isEqualTo(Reason.TCB_STATUS_NOT_ALLOWED);
    }

    @Test
    void debugTd() {
        assertThat(rejected(SimulatedCvm.Builder::debugTd)).isEqualTo(Reason.DEBUG_ENABLED);
    }

    @Test
    void wrongCompose() {
        assertThat(rejected(b -> b.misbehaveMeasureCompose("{\"evil\":true}".getBytes(StandardCharsets.UTF_8))))
                .isEqualTo(Reason.APP_COMPOSE_MISMATCH);
    }

    @Test
    void rewrittenPayload() {
        byte[] declared = HexFormat.of().parseHex(SimulatedCvm.builder().seed(11).build().composeHash());
        byte[] other = declared.clone();
        other[0] ^= 1;
        // The rewritten compose-hash payload is caught by the runtime-digest check (Atlas would accept it) …
        assertThat(rejected(b -> b.misbehaveRewritePayload("compose-hash", other)))
                .isEqualTo(Reason.EVENT_DIGEST_MISMATCH);
        // … and with dstack >= 0.5.6's empty digests by the RTMR3 replay.
        assertThat(rejected(b -> b.stripRuntimeDigests().misbehaveRewritePayload("compose-hash", other)))
                .isEqualTo(Reason.RTMR_MISMATCH);
    }

    @Test
    void replayedQuote() {
        assertThat(rejected(SimulatedCvm.Builder::misbehaveReplayQuote, 2)).isEqualTo(Reason.REPORT_DATA_MISMATCH);
    }

    @Test
    void localKeyProviderHasNoOsImageHash() {
        assertThat(rejected(b -> b.keyProvider(SimulatedCvm.KeyProvider.LOCAL_SGX)))
                .isEqualTo(Reason.OS_IMAGE_HASH_MISMATCH);
    }
}
