package dev.atlas.dstack.ra;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.EventLog;
import dev.atlas.dstack.QuoteResponse;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.internal.Bytes;
import dev.atlas.tdx.AttestationException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * dstack's {@code VersionedAttestation} for TDX (§2.7; {@code dstack-attest/src/attestation.rs},
 * {@code v1.rs}): the TDX quote and event log, the runtime events, the 64-byte report data and the config
 * string. {@link #decode(byte[])} reads both wire forms — V0 (first byte {@code 0x00}, SCALE) and V1 (a
 * msgpack map) — and {@link #encode()} writes the form given by {@link #version()}.
 *
 * @param version 0 (SCALE) or 1 (msgpack)
 * @param quote raw TDX quote
 * @param eventLog TDX event log (full, or stripped for certificates)
 * @param runtimeEvents RTMR3 runtime events ({@code stack.runtime_events})
 * @param reportData 64 bytes
 * @param config vm_config JSON, or a sys-config JSON that contains it
 * @param reportDataPayload V1 {@code dstack-pod} stack only; null for {@code dstack}
 */
public record VersionedAttestation(int version, byte[] quote, List<TdxEvent> eventLog, List<RuntimeEvent> runtimeEvents,
        byte[] reportData, String config, String reportDataPayload) {
    /** Largest encoded attestation accepted ({@code MAX_ATTESTATION_BYTES}, 10 MiB). */
    public static final int MAX_BYTES = 10 * 1024 * 1024;
    /** Most entries accepted in {@code event_log} and in {@code runtime_events} (ours; dstack sets none). */
    public static final int MAX_EVENTS = 4096;

    public VersionedAttestation {
        if (version != 0 && version != 1) {
            throw new IllegalArgumentException("version must be 0 or 1");
        }
        quote = Objects.requireNonNull(quote, "quote").clone();
        eventLog = List.copyOf(eventLog);
        runtimeEvents = List.copyOf(runtimeEvents);
        reportData = Objects.requireNonNull(reportData, "reportData").clone();
        if (reportData.length != 64) {
            throw new IllegalArgumentException("report_data must be 64 bytes");
        }
        Objects.requireNonNull(config, "config");
        if (version == 0) {
            if (reportDataPayload != null) {
                throw new IllegalArgumentException("V0 has no report_data_payload (dstack-pod needs V1)");
            }
            for (TdxEvent e : eventLog) {
                if (e.version() != 1 || e.preimage() != null) {
                    throw new IllegalArgumentException("V0 carries only V1-digest events without pre-image");
                }
            }
            for (RuntimeEvent e : runtimeEvents) {
                if (e.version() != 1) {
                    throw new IllegalArgumentException("V0 carries only V1-digest runtime events");
                }
            }
        }
    }

    /** Reads V0 SCALE or V1 msgpack; rejects more than {@link #MAX_BYTES}, trailing bytes and wrong types. */
    public static VersionedAttestation decode(byte[] bytes) throws RaException {
        if (bytes.length > MAX_BYTES) {
            throw new RaException(Reason.TOO_LARGE, "attestation", bytes.length + " bytes > " + MAX_BYTES);
        }
        if (bytes.length == 0) {
            throw new RaException(Reason.TRUNCATED, "attestation", "empty");
        }
        int first = bytes[0] & 0xff;
        if (first == 0x00) {
            return AttestationScale.decode(bytes);
        }
        if ((first >= 0x80 && first <= 0x8f) || first == 0xde || first == 0xdf) {
            return AttestationMsgpack.decode(bytes);
        }
        throw new RaException(Reason.UNKNOWN_VERSION, "attestation",
                "first byte 0x" + Integer.toHexString(first) + " is neither V0 (0x00) nor a msgpack map (V1)");
    }

    /** The wire bytes of {@link #version()}. */
    public byte[] encode() {
        return version == 0 ? AttestationScale.encode(this) : AttestationMsgpack.encode(this);
    }

    /** The same attestation in the other wire form (V1 → V0 needs V1-digest events and no pod payload). */
    public VersionedAttestation withVersion(int newVersion) {
        return new VersionedAttestation(newVersion, quote, eventLog, runtimeEvents, reportData, config, reportDataPayload);
    }

    /**
     * {@code into_stripped}, as embedded in RA-TLS certificates: keeps the RTMR3 entries (runtime events
     * without digest, others without payload) and the RTMR0 {@code ACPI DATA} entries (digest kept, payload
     * the {@code "ACPI DATA"} marker); drops every other boot entry.
     */
    public VersionedAttestation stripped() {
        List<TdxEvent> out = new ArrayList<>();
        for (TdxEvent e : eventLog) {
            if (e.isAcpiData()) {
                TdxEvent s = e.stripped();
                out.add(new TdxEvent(s.imr(), s.eventType(), s.digest(), s.event(), TdxEvent.ACPI_DATA, s.version(),
                        s.preimage()));
            } else if (e.imr() == 3) {
                out.add(e.stripped());
            }
        }
        return new VersionedAttestation(version, quote, out, runtimeEvents, reportData, config, reportDataPayload);
    }

    /**
     * What {@link DstackTdxVerifier} checks for this attestation, expecting {@code expectedReportData}: the quote,
     * and the event log (as stripped: the verifier recomputes the RTMR3 digests and replays them). The event log's
     * RTMR3 entries must be exactly {@link #runtimeEvents()} ({@code CERT_EXTENSION_MALFORMED} otherwise). The
     * binding of the report data is the caller's to check first, with its own words; the verifier checks it again.
     */
    public DstackTdxVerifier.Evidence evidence(byte[] expectedReportData) throws AttestationException {
        List<RuntimeEvent> fromLog = new ArrayList<>();
        for (TdxEvent e : eventLog) {
            if (e.imr() == 3 && e.isRuntimeEvent()) {
                fromLog.add(e.toRuntimeEvent());
            }
        }
        if (!fromLog.equals(runtimeEvents)) {
            throw new RaException(Reason.CERT_EXTENSION_MALFORMED, "attestation.runtime_events",
                    "differ from the event log's RTMR3 entries (" + runtimeEvents.size() + " vs "
                    + fromLog.size() + ")");
        }
        ArrayNode log = JsonNodeFactory.instance.arrayNode();
        for (TdxEvent e : eventLog) {
            ObjectNode o = log.addObject();
            o.put("imr", e.imr());
            o.put("event_type", e.eventType());
            o.put("digest", Bytes.HEX.formatHex(e.digest()));
            o.put("event", e.event());
            o.put("event_payload", Bytes.HEX.formatHex(e.payload()));
            if (e.version() != 1) {
                o.put("version", e.version());
            }
        }
        return DstackTdxVerifier.Evidence.builder(QuoteResponse.of(quote, EventLog.parse(log.toString())))
                .expectedReportData(expectedReportData)
                .skipCertificateCheck()
                .strippedEventLog()
                .build();
    }

    @Override
    public byte[] quote() {
        return quote.clone();
    }

    @Override
    public byte[] reportData() {
        return reportData.clone();
    }

    /** The payload of the first runtime event named {@code name} before {@code system-ready}, or null. */
    public byte[] findEventPayload(String name) {
        for (RuntimeEvent e : runtimeEvents) {
            if (e.event().equals("system-ready")) {
                break;
            }
            if (e.event().equals(name)) {
                return e.payload();
            }
        }
        return null;
    }

    /** Every payload of events named {@code name} before {@code system-ready}, in order. */
    public List<byte[]> findEventPayloads(String name) {
        List<byte[]> out = new ArrayList<>();
        for (RuntimeEvent e : runtimeEvents) {
            if (e.event().equals("system-ready")) {
                break;
            }
            if (e.event().equals(name)) {
                out.add(e.payload());
            }
        }
        return out;
    }

    /** {@code decode_app_info(boottime_mr)} with the embedded config. */
    public AppInfo appInfo(boolean bootTime) throws RaException {
        return AppInfo.fromAttestation(this, bootTime, "");
    }

    /** {@code decode_app_info_ex(boottime_mr, vm_config)}: {@code vmConfig} wins over the embedded config. */
    public AppInfo appInfo(boolean bootTime, String vmConfig) throws RaException {
        return AppInfo.fromAttestation(this, bootTime, vmConfig);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof VersionedAttestation)) {
            return false;
        }
        VersionedAttestation a = (VersionedAttestation) o;
        return version == a.version && Arrays.equals(quote, a.quote) && eventLog.equals(a.eventLog)
                && runtimeEvents.equals(a.runtimeEvents) && Arrays.equals(reportData, a.reportData)
                && config.equals(a.config) && Objects.equals(reportDataPayload, a.reportDataPayload);
    }

    @Override
    public int hashCode() {
        return Objects.hash(version, Arrays.hashCode(quote), eventLog, runtimeEvents, config);
    }

    @Override
    public String toString() {
        return "VersionedAttestation[V" + version + ", tdx quote " + quote.length + " bytes, " + eventLog.size()
                + " log entries, " + runtimeEvents.size() + " runtime events, config " + config.length() + " chars"
                + (reportDataPayload != null ? ", dstack-pod" : "") + "]";
    }
}
