package dev.atlas.server;

import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;

/**
 * What a {@link QuoteProvider} returns: the dstack guest agent's {@code GetQuoteResponse}.
 *
 * <p>The event log and VM config are kept as the JSON texts the agent sent, because they travel as JSON strings
 * and the server passes them on (after back-filling empty runtime digests). The report data is never printed.
 *
 * @param quote      the raw quote bytes
 * @param eventLog   the event log, JSON array text
 * @param reportData the report data the agent echoes (64 bytes, or empty if the agent sent none)
 * @param vmConfig   the VM config, JSON text (may be empty)
 */
public record GetQuoteResponse(byte[] quote, String eventLog, byte[] reportData, String vmConfig) {
    private static final HexFormat HEX = HexFormat.of();

    public GetQuoteResponse {
        Objects.requireNonNull(quote, "quote");
        Objects.requireNonNull(eventLog, "eventLog");
        Objects.requireNonNull(reportData, "reportData");
        Objects.requireNonNull(vmConfig, "vmConfig");
        if (quote.length == 0) {
            throw new IllegalArgumentException("empty quote");
        }
        quote = quote.clone();
        reportData = reportData.clone();
    }

    @Override
    public byte[] quote() {
        return quote.clone();
    }

    @Override
    public byte[] reportData() {
        return reportData.clone();
    }

    /** Hex of the quote. */
    public String quoteHex() {
        return HEX.formatHex(quote);
    }

    /** Hex of the report data. */
    public String reportDataHex() {
        return HEX.formatHex(reportData);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GetQuoteResponse r && Arrays.equals(quote, r.quote) && eventLog.equals(r.eventLog)
                && Arrays.equals(reportData, r.reportData) && vmConfig.equals(r.vmConfig);
    }

    @Override
    public int hashCode() {
        return Objects.hash(Arrays.hashCode(quote), eventLog, Arrays.hashCode(reportData), vmConfig);
    }

    @Override
    public String toString() {
        return "GetQuoteResponse[" + quote.length + " quote bytes, event log " + eventLog.length() + " chars]";
    }
}
