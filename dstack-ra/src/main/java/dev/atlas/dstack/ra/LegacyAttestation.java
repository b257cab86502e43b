package dev.atlas.dstack.ra;

import dev.atlas.dstack.ra.internal.TdxEventLogJson;
import dev.atlas.dstack.ra.internal.TdxQuoteFields;
import java.util.List;

/**
 * dstack's {@code Attestation::from_tdx_quote} ({@code dstack-attest/src/attestation.rs}), used by the legacy
 * forms: a version 1 CSR's {@code quote} + {@code event_log}, and an RA-TLS certificate's {@code .1} + {@code .2}
 * extensions. The event log is dstack's JSON; the runtime events are its runtime-event entries; the report data
 * is read from the quote's TD report; the config is empty. The result is V0 (all events are V1).
 */
final class LegacyAttestation {
    /** Largest legacy JSON event log read (ours; the gzip form is limited to 16 KiB by dstack). */
    static final int MAX_EVENT_LOG_BYTES = 4 << 20;

    private LegacyAttestation() {}

    static VersionedAttestation fromTdxQuote(byte[] quote, byte[] eventLogJson, String quoteField, String logField)
            throws RaException {
        List<TdxEvent> log = TdxEventLogJson.parse(eventLogJson, MAX_EVENT_LOG_BYTES, logField);
        byte[] reportData;
        try {
            reportData = TdxQuoteFields.parse(quote).reportData;
        } catch (RaException e) {
            throw new RaException(e.raReason(), quoteField, "not a TDX quote (" + e.raReason() + ")", e);
        }
        return new VersionedAttestation(0, quote, log, TdxEventLogJson.runtimeEvents(log), reportData, "", null);
    }
}
