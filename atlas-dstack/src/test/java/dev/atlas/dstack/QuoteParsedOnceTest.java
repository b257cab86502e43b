package dev.atlas.dstack;

import static org.assertj.core.api.Assertions.assertThat;

import dev.atlas.tdx.Collateral;
import dev.atlas.tdx.CollateralSource;
import dev.atlas.tdx.Quote;
import dev.atlas.tdx.QuoteVerifier;
import java.time.Clock;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * One verification parses the quote once: the verifier hands its parsed {@link Quote} to the collateral source,
 * the source verifies that instance (no bytes are passed down), and the report carries the same instance.
 */
class QuoteParsedOnceTest {
    @Test
    void theQuoteTheSourceSeesIsTheOneInTheReport() throws Exception {
        DstackTdxVerifierTest.Case c = DstackTdxVerifierTest.honest();
        Collateral coll = Collateral.fromJson(c.ev.collateralJson());
        List<Quote> seen = new ArrayList<>();
        DstackTdxVerifier v = DstackTdxVerifier.builder()
                .quoteVerifier(QuoteVerifier.builder().insecureTrustAnchorForTesting(c.ev.rootCertificate()).build())
                .collateralSource((quote, verifier, now) -> {
                    seen.add(quote);
                    return new CollateralSource.Verified(verifier.verify(quote, coll, now), false);
                })
                .clock(Clock.fixed(c.ev.verificationTime(), ZoneOffset.UTC)).build();
        AttestationReport r = v.verify(c.evidence(), c.policy().build());
        assertThat(seen).hasSize(1);
        assertThat(r.dcapReport().quote()).isSameAs(seen.get(0));
        assertThat(r.appraised()).isTrue();
    }
}
