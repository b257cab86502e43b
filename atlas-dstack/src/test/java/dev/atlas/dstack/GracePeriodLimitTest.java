package dev.atlas.dstack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.AttestationException.Reason;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code grace_period} has one upper bound, {@link DstackTdxPolicy#MAX_GRACE_PERIOD_SECONDS}, checked both when
 * JSON is parsed and when the builder builds: a policy that loads can always be evaluated (2^63-1 used to load
 * and then fail every verification with "timestamp overflow").
 */
class GracePeriodLimitTest {
    static String json(String grace) {
        return PolicyTest.full(",\"allowed_tcb_status\":[\"UpToDate\",\"OutOfDate\"],\"grace_period\":" + grace);
    }

    static void tooLarge(AttestationException e) {
        assertThat(e.reason()).isEqualTo(Reason.INVALID_POLICY);
        assertThat(e.getMessage()).contains("grace_period").contains("31536000").contains("365 days");
    }

    @Test
    void theMaximumIs365Days() {
        assertThat(DstackTdxPolicy.MAX_GRACE_PERIOD_SECONDS).isEqualTo(31_536_000L);
    }

    @Test
    void longMaxAndMaxPlusOneAreRejectedWhenParsed() {
        tooLarge(PolicyTest.invalid(json(Long.toString(Long.MAX_VALUE))));
        tooLarge(PolicyTest.invalid(json("31536001")));
    }

    @Test
    void theMaximumItselfIsAccepted() throws Exception {
        DstackTdxPolicy p = PolicyJson.parse(json("31536000"));
        assertThat(p.gracePeriodSeconds()).isEqualTo(31_536_000L);
        assertThat(PolicyJson.parse(p.toJson()).gracePeriodSeconds()).isEqualTo(31_536_000L);
    }

    @Test
    void theBuilderAppliesTheSameBound() throws Exception {
        DstackTdxPolicy base = PolicyJson.parse(json("0"));
        for (long g : new long[] {Long.MAX_VALUE, DstackTdxPolicy.MAX_GRACE_PERIOD_SECONDS + 1}) {
            tooLarge(assertThrows(AttestationException.class, () -> builderLike(base).gracePeriodSeconds(g).build()));
        }
        assertThat(builderLike(base).gracePeriodSeconds(DstackTdxPolicy.MAX_GRACE_PERIOD_SECONDS).build()
                .gracePeriodSeconds()).isEqualTo(DstackTdxPolicy.MAX_GRACE_PERIOD_SECONDS);
    }

    private static DstackTdxPolicy.Builder builderLike(DstackTdxPolicy p) {
        return DstackTdxPolicy.builder().expectedBootchain(p.expectedBootchain()).appComposeRaw("{\"runner\":\"docker-compose\"}")
                .osImageHash(p.osImageHash()).allowedTcbStatus(List.of("UpToDate", "OutOfDate"));
    }
}
