package dev.atlas.tdx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.atlas.tdx.AttestationException.Reason;
import dev.atlas.testing.SharedTestData;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** Known answers on the real Intel-signed samples (dcap-qvl's expectations, spec §5). */
class RealSamplesTest {
    private static final QuoteVerifier VERIFIER = QuoteVerifier.create();

    private static Collateral collateral(String name) throws AttestationException {
        return Collateral.fromJson(SharedTestData.text("dcap/" + name));
    }

    @Test
    void tdxQuote_atSampleTime_isUpToDateWithoutAdvisories() throws Exception {
        VerifiedReport r = VERIFIER.verify(SharedTestData.bytes("dcap/tdx_quote"), collateral("tdx_quote_collateral.json"),
                Instant.ofEpochSecond(1752919234L));
        assertThat(r.status()).isEqualTo(TcbStatus.UP_TO_DATE);
        assertThat(r.advisoryIds()).isEmpty();
        assertThat(r.ppid()).isEqualTo("811dca2a26b952e85bb6448b097ba4fd");
        assertThat(r.fmspc()).isEqualTo("B0C06F000000");
        assertThat(r.qeStatus().status()).isEqualTo(TcbStatus.UP_TO_DATE);
        assertThat(r.platformStatus().status()).isEqualTo(TcbStatus.UP_TO_DATE);
        assertThat(r.tcbDate()).isEqualTo("2024-03-13T00:00:00Z");
        assertThat(r.tdReport().mrTd()).startsWith("91eb2b44");
        assertThat(r.tdReport().mrSeam()).startsWith("5b38e33a");
    }

    @Test
    void tdxQuote_atPckCrlNextUpdate_isCrlExpired() throws Exception {
        byte[] quote = SharedTestData.bytes("dcap/tdx_quote");
        Collateral c = collateral("tdx_quote_collateral.json");
        AttestationException e = assertThrows(AttestationException.class, () -> VERIFIER.verify(quote, c,
                Instant.ofEpochSecond(1752919235L)));
        assertThat(e.reason()).isEqualTo(Reason.CRL_EXPIRED);
    }

    @Test
    void tdxQuote_afterTcbInfoNextUpdate_isCollateralExpiredBeforeAnyCrlCheck() throws Exception {
        // dcap-qvl checks collateral dates before chains; the root CRL is still current then.
        byte[] quote = SharedTestData.bytes("dcap/tdx_quote");
        Collateral c = collateral("tdx_quote_collateral.json");
        AttestationException e = assertThrows(AttestationException.class, () -> VERIFIER.verify(quote, c,
                Instant.ofEpochSecond(1752920164L)));
        assertThat(e.reason()).isEqualTo(Reason.COLLATERAL_EXPIRED);
        assertThat(e.getMessage()).contains("TCBInfo expired");
    }

    @Test
    void sgxQuote_atSampleTime_isConfigurationAndSwHardeningNeeded() throws Exception {
        VerifiedReport r = VERIFIER.verify(SharedTestData.bytes("dcap/sgx_quote"), collateral("sgx_quote_collateral.json"),
                Instant.ofEpochSecond(1752919277L));
        assertThat(r.status()).isEqualTo(TcbStatus.CONFIGURATION_AND_SW_HARDENING_NEEDED);
        assertThat(r.advisoryIds()).containsExactly("INTEL-SA-00289", "INTEL-SA-00615");
        assertThat(r.qeStatus().status()).isEqualTo(TcbStatus.UP_TO_DATE);
        assertThat(r.ppid()).isEqualTo("d04ec06d4e6d92dc90d0ad3cf5ee2ddf");
        assertThat(r.fmspc()).isEqualTo("00A067110000");
    }

    @Test
    void outdatedTdxQuote_isRejectedWithNoMatchingTcbLevel() throws Exception {
        byte[] quote = SharedTestData.bytes("dcap/tdx_quote_outdated");
        Collateral c = collateral("tdx_quote_outdated_collateral.json");
        AttestationException e = assertThrows(AttestationException.class, () -> VERIFIER.verify(quote, c,
                Instant.ofEpochSecond(1774003274L)));
        assertThat(e.reason()).isEqualTo(Reason.NO_MATCHING_TCB_LEVEL);
        assertThat(e.getMessage()).contains("No matching TCB level found");
    }

    @Test
    void hexQuotes_parse() throws Exception {
        for (String name : new String[] {"dcap/tdx-quote.hex", "dcap/quote-from-tappd.hex"}) {
            Quote q = Quote.parse(SharedTestData.hexQuote(name));
            assertThat(q.header().version()).isEqualTo(4);
            assertThat(q.header().teeType()).isEqualTo(TeeType.TDX);
            assertThat(q.tdReport().teeTcbSvn()).startsWith("050102");
            assertThat(q.qeReport().isvSvn()).isEqualTo(6);
            assertThat(q.trailingBytes()).isEqualTo(70);
        }
    }

    @Test
    void sampleQuotes_parseWithTheDocumentedLayout() throws Exception {
        Quote tdx = Quote.parse(SharedTestData.bytes("dcap/tdx_quote"));
        assertThat(tdx.bodyType()).isEqualTo(Quote.BodyType.TD_REPORT_10);
        assertThat(tdx.signedLength()).isEqualTo(632);
        assertThat(tdx.outerCertificationType()).isEqualTo(6);
        assertThat(tdx.certificationData().type()).isEqualTo(5);
        assertThat(tdx.certificationData().bodyLength()).isEqualTo(3678);
        assertThat(tdx.trailingBytes()).isEqualTo(70);
        assertThat(tdx.qeAuthData()).hasSize(32);

        Quote outdated = Quote.parse(SharedTestData.bytes("dcap/tdx_quote_outdated"));
        assertThat(outdated.header().version()).isEqualTo(5);
        assertThat(outdated.bodyType()).isEqualTo(Quote.BodyType.TD_REPORT_15);
        assertThat(outdated.bodyDescriptorSize()).isEqualTo(648);
        assertThat(outdated.signedLength()).isEqualTo(702);
        assertThat(outdated.tdReport().mrServiceTd()).isEqualTo("00".repeat(48));
        assertThat(outdated.trailingBytes()).isZero();

        Quote sgx = Quote.parse(SharedTestData.bytes("dcap/sgx_quote"));
        assertThat(sgx.header().version()).isEqualTo(3);
        assertThat(sgx.enclaveReport()).isNotNull();
        assertThat(sgx.signedLength()).isEqualTo(432);
        assertThat(sgx.outerCertificationType()).isEqualTo(-1);
        assertThat(sgx.certificationData().bodyLength()).isEqualTo(3548);
        assertThat(sgx.trailingBytes()).isZero();
    }

    @Test
    void collateral_roundTripsThroughJsonByteExact() throws Exception {
        Collateral c = collateral("tdx_quote_collateral.json");
        Collateral again = Collateral.fromJson(c.toJson());
        assertThat(again.tcbInfo()).isEqualTo(c.tcbInfo());
        assertThat(again.qeIdentity()).isEqualTo(c.qeIdentity());
        assertThat(again.pckCrl()).isEqualTo(c.pckCrl());
        assertThat(again.toJson()).isEqualTo(c.toJson());
        VERIFIER.verify(SharedTestData.bytes("dcap/tdx_quote"), again, Instant.ofEpochSecond(1752919234L));
    }
}
