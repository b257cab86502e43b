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
 * {@code EmitEvent} (dstack ≤ 0.5.x), then quotes; with {@code withoutEmitEvent()} (current dstack) it falls back to the
 * native RTMR3 file, and fails saying why when there is none.
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
                    .hasMessageContaining("EmitEvent").hasMessageContaining("removed");
        }
    }

    /** dstack's answer for the removed method is pRPC's 400 "Service not found": AUTO falls back to the native file. */
    @Test
    void withoutEmitEventAutoFallsBackToTheNativeRtmr3File() throws Exception {
        Path rtmr3 = java.nio.file.Files.createFile(dir.resolve("rtmr3:sha384"));
        try (GuestAgentSimulator s = GuestAgentSimulator.builder().seed(new byte[32]).withoutEmitEvent()
                .internalSocket(dir.resolve("dstack.sock")).start()) {
            GuestAgentQuoteProvider p = GuestAgentQuoteProvider.builder()
                    .endpoint(s.internalSocket().orElseThrow().toString()).nativeRtmr3(rtmr3).build();
            p.emitEvent("New TLS Certificate", "abcd".getBytes(StandardCharsets.US_ASCII));
            assertThat(java.nio.file.Files.size(rtmr3)).isEqualTo(48);
            assertThat(p.description()).contains("natively");
        }
    }
}
