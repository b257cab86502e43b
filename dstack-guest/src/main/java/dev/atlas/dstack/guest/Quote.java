package dev.atlas.dstack.guest;

/**
 * {@code GetQuote}: {@code GetQuoteResponse{quote, event_log, report_data, vm_config, attestation}}. On TDX
 * {@code attestation} is empty and {@code eventLog} is JSON text (RTMR3 digests empty, §5.2); elsewhere
 * {@code quote} and {@code eventLog} are empty.
 */
public record Quote(byte[] quote, String eventLog, byte[] reportData, String vmConfig, byte[] attestation) {
    public Quote {
        quote = quote.clone();
        reportData = reportData.clone();
        attestation = attestation.clone();
    }

    @Override public byte[] quote() { return quote.clone(); }
    @Override public byte[] reportData() { return reportData.clone(); }
    @Override public byte[] attestation() { return attestation.clone(); }

    @Override
    public String toString() {
        return "Quote[quote=" + quote.length + " bytes, eventLog=" + eventLog.length() + " chars, reportData="
                + java.util.HexFormat.of().formatHex(reportData) + ", attestation=" + attestation.length + " bytes]";
    }
}
