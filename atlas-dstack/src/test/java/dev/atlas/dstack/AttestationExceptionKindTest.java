package dev.atlas.dstack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.AttestationException.Kind;
import dev.atlas.tdx.AttestationException.Reason;
import dev.atlas.tdx.CollateralSource;
import dev.atlas.tdx.Quote;
import dev.atlas.tdx.QuoteVerifier;
import java.net.ServerSocket;
import java.time.Clock;
import java.util.EnumSet;
import org.junit.jupiter.api.Test;

/** Every reason has a kind; the three kinds come out of the three kinds of failure. */
class AttestationExceptionKindTest {
    @Test
    void everyReasonHasAKind() {
        for (Reason r : Reason.values()) {
            assertThat(r.kind()).as(r.name()).isNotNull();
            assertThat(new AttestationException(r, "x").kind()).isEqualTo(r.kind());
        }
        EnumSet<Reason> notRejected = EnumSet.noneOf(Reason.class);
        for (Reason r : Reason.values()) {
            if (r.kind() != Kind.REJECTED) {
                notRejected.add(r);
            }
        }
        assertThat(notRejected).containsExactlyInAnyOrder(Reason.COLLATERAL_FETCH_FAILED, Reason.INVALID_POLICY,
                Reason.INVALID_ARGUMENT, Reason.INVALID_CONFIGURATION, Reason.PEER_UNAVAILABLE);
    }

    @Test
    void pccsDown_isIo() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        DstackTdxVerifierTest.Case c = DstackTdxVerifierTest.honest();
        Quote q = Quote.parse(c.ev.quote());
        CollateralSource down = CollateralSource.forUrl("http://127.0.0.1:" + port, false, Clock.systemUTC());
        AttestationException e = assertThrows(AttestationException.class,
                () -> down.verify(q, QuoteVerifier.create(), c.ev.verificationTime()));
        assertThat(e.reason()).isEqualTo(Reason.COLLATERAL_FETCH_FAILED);
        assertThat(e.kind()).isEqualTo(Kind.IO);
        assertThat(e.getMessage()).contains("127.0.0.1:" + port);
    }

    @Test
    void badPolicy_isConfiguration() {
        AttestationException e = assertThrows(AttestationException.class,
                () -> PolicyJson.parse("{\"type\":\"dstack_tdx\",\"grace_period\":-1}"));
        assertThat(e.reason()).isEqualTo(Reason.INVALID_POLICY);
        assertThat(e.kind()).isEqualTo(Kind.CONFIGURATION);
    }

    @Test
    void wrongCompose_isRejected() throws Exception {
        DstackTdxVerifierTest.Case c = DstackTdxVerifierTest.honest();
        AttestationException e = c.rejected(p -> p.appComposeRaw("{}"));
        assertThat(e.reason()).isEqualTo(Reason.APP_COMPOSE_MISMATCH);
        assertThat(e.kind()).isEqualTo(Kind.REJECTED);
    }
}
