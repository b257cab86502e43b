package dev.atlas.server;

import java.io.IOException;

/**
 * Where the aTLS server gets quotes and measures runtime events: the dstack guest agent
 * ({@link GuestAgentQuoteProvider}) or a simulated CVM ({@code dev.atlas.server.testing.SimulatedQuoteProvider} in {@code atlas-server-testing}).
 *
 * <p>Implementations must be thread-safe: the server calls {@link #getQuote} from many connections at once.
 */
public interface QuoteProvider {
    /**
     * A quote whose report data is {@code reportData} (at most 64 bytes; the agent zero-pads to 64), with the
     * event log that replays to the quote's RTMRs.
     *
     * @throws IOException when the agent cannot be reached or answers an error
     */
    GetQuoteResponse getQuote(byte[] reportData) throws IOException;

    /**
     * The agent's {@code Info().tcb_info} as JSON object text, sent to clients as {@code tcb_info} (informative;
     * clients do not trust it). Null when the provider has none.
     */
    default String tcbInfo() throws IOException {
        return null;
    }

    /**
     * Appends a runtime event to the event log and extends RTMR3 with its digest
     * ({@code SHA-384(LE32(0x08000001) ‖ ":" ‖ event ‖ ":" ‖ payload)}). The server measures its TLS certificate
     * this way before it accepts connections.
     *
     * @throws IOException when the event could not be measured; the server then refuses to start
     */
    void emitEvent(String event, byte[] payload) throws IOException;

    /** A short description for logs (never secrets). */
    default String description() {
        return getClass().getSimpleName();
    }
}
