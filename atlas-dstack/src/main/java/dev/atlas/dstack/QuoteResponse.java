package dev.atlas.dstack;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.AttestationException.Reason;
import dev.atlas.tdx.Quote;
import dev.atlas.tdx.internal.Hex;
import dev.atlas.tdx.internal.Json;

/**
 * What a dstack CVM returns for a quote: the guest agent's GetQuote response
 * ({@code {"quote":hex,"event_log":...,"report_data":hex,"vm_config":...}}), also found as the
 * {@code quote} member of the aTLS {@code /tdx_quote} response. Untrusted input; immutable.
 */
public final class QuoteResponse {
    /** Maximum response size accepted (characters). */
    public static final int MAX_CHARS = 8 << 20;

    private final byte[] quote;
    private final EventLog eventLog;
    private final String reportDataHex;
    private final String vmConfig;

    private QuoteResponse(byte[] quote, EventLog eventLog, String reportDataHex, String vmConfig) {
        this.quote = quote;
        this.eventLog = eventLog;
        this.reportDataHex = reportDataHex;
        this.vmConfig = vmConfig;
    }

    /** A response from parts (for servers and simulators). */
    public static QuoteResponse of(byte[] quote, EventLog eventLog) {
        return new QuoteResponse(quote.clone(), eventLog, "", "");
    }

    /**
     * Parses a GetQuote response, or a {@code /tdx_quote} response whose {@code quote} member is one (other
     * members of that envelope, such as {@code tcb_info}, are untrusted and ignored). {@code event_log} may be
     * the double-encoded string dstack sends or a plain array.
     *
     * @throws AttestationException {@link Reason#MALFORMED_RESPONSE}, or the event log's parse reasons
     */
    public static QuoteResponse parse(String json) throws AttestationException {
        JsonNode n;
        try {
            n = Json.parse(json, MAX_CHARS);
        } catch (IllegalArgumentException e) {
            throw new AttestationException(Reason.MALFORMED_RESPONSE, "quote response: " + e.getMessage());
        }
        if (!n.isObject()) {
            throw new AttestationException(Reason.MALFORMED_RESPONSE, "quote response must be a JSON object");
        }
        JsonNode q = n.get("quote");
        if (q == null) {
            throw new AttestationException(Reason.MALFORMED_RESPONSE, "quote response: missing field `quote`");
        }
        if (q.isObject()) {
            n = q; // /tdx_quote envelope
            q = n.get("quote");
            if (q == null) {
                throw new AttestationException(Reason.MALFORMED_RESPONSE, "quote response: missing field `quote.quote`");
            }
        }
        if (!q.isTextual()) {
            throw new AttestationException(Reason.MALFORMED_RESPONSE, "quote response: `quote` must be a hex string");
        }
        if (q.textValue().length() > 2 * Quote.MAX_QUOTE_BYTES) {
            throw new AttestationException(Reason.MALFORMED_RESPONSE, "quote response: quote exceeds "
                    + Quote.MAX_QUOTE_BYTES + " bytes");
        }
        byte[] quote;
        try {
            quote = Hex.decode(q.textValue());
        } catch (IllegalArgumentException e) {
            throw new AttestationException(Reason.MALFORMED_RESPONSE, "quote response: `quote` is not hex: "
                    + e.getMessage());
        }
        JsonNode log = n.get("event_log");
        if (log == null) {
            throw new AttestationException(Reason.MALFORMED_RESPONSE, "quote response: missing field `event_log`");
        }
        EventLog eventLog = EventLog.fromJson(log);
        JsonNode rd = n.get("report_data");
        JsonNode vm = n.get("vm_config");
        return new QuoteResponse(quote, eventLog, rd != null && rd.isTextual() ? rd.textValue() : "",
                vm == null || vm.isNull() ? "" : vm.isTextual() ? vm.textValue() : vm.toString());
    }

    /** The raw quote bytes (a copy). */
    public byte[] quote() {
        return quote.clone();
    }

    byte[] quoteUnsafe() {
        return quote;
    }

    public EventLog eventLog() {
        return eventLog;
    }

    /** The {@code report_data} echo as sent (never used for verification; the quote's value is). */
    public String reportDataHex() {
        return reportDataHex;
    }

    /** The {@code vm_config} text as sent (untrusted; empty if absent). */
    public String vmConfig() {
        return vmConfig;
    }

    /** The GetQuote response JSON ({@code event_log} double-encoded as dstack sends it). */
    public String toJson() {
        var o = Json.MAPPER.createObjectNode();
        o.put("quote", Hex.encode(quote));
        o.put("event_log", eventLog.toJson());
        o.put("report_data", reportDataHex);
        o.put("vm_config", vmConfig);
        return o.toString();
    }
}
