package dev.atlas.dstack.simulator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.atlas.server.GetQuoteResponse;
import dev.atlas.server.GuestAgentQuoteProvider;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The aTLS server's {@link GuestAgentQuoteProvider} on top of the simulator: it measures its certificate with
 * {@code EmitEvent} (dstack ≤ 0.5.x), then quotes; with {@code withoutEmitEvent()} the call fails as against a
 * current dstack agent without a native RTMR3 file.
 */
class QuoteProviderCompatibilityTest {
    @TempDir Path dir;

    @Test
    void emitEventThenQuote() throws Exception {
        try (GuestAgentSimulator s = GuestAgentSimulator.builder().seed(new byte[32])
                .internalSocket(dir.resolve("dstack.sock")).start()) {
            GuestAgentQuoteProvider p = GuestAgentQuoteProvider.builder()
                    .endpoint(s.internalSocket().orElseThrow().toString())
                    .measurement(GuestAgentQuoteProvider.Measurement.EMIT_EVENT).build();
            p.emitEvent("New TLS Certificate", "abcd".getBytes(StandardCharsets.US_ASCII));
            GetQuoteResponse q = p.getQuote(new byte[] {9});
            assertThat(q.eventLog()).contains("New TLS Certificate");
            assertThat(Arrays.copyOf(q.reportData(), 1)).containsExactly(9);
            assertThat(p.tcbInfo()).contains("mrtd");
        }
    }

    @Test
    void withoutEmitEventTheProviderFails() throws Exception {
        try (GuestAgentSimulator s = GuestAgentSimulator.builder().seed(new byte[32]).withoutEmitEvent()
                .internalSocket(dir.resolve("dstack.sock")).start()) {
            GuestAgentQuoteProvider p = GuestAgentQuoteProvider.builder()
                    .endpoint(s.internalSocket().orElseThrow().toString()).build();
            assertThatThrownBy(() -> p.emitEvent("e", new byte[1])).isInstanceOf(IOException.class)
                    .hasMessageContaining("EmitEvent");
        }
    }
}
