package dev.atlas.dstack.ra;

import dev.atlas.dstack.ra.internal.Bytes;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;

/**
 * One TDX event-log entry as dstack carries it ({@code cc-eventlog/src/tdx.rs} {@code TdxEvent}): IMR
 * (0-based), event type, digest, name, payload; plus, in V1 attestations only, the runtime-event digest
 * version (1 or 2) and an optional hex pre-image. Byte arrays are copied in and out.
 *
 * @param imr IMR index 0..3 as u32
 * @param eventType u32 event type ({@code 0x08000001} for dstack runtime events)
 * @param digest digest bytes (empty for stripped runtime events)
 * @param event event name
 * @param payload event payload
 * @param version 1 (legacy digest) or 2 (JCS digest); V0 SCALE carries only 1
 * @param preimage hex digest pre-image or null; V0 SCALE never carries it
 */
public record TdxEvent(long imr, long eventType, byte[] digest, String event, byte[] payload, int version,
        String preimage) {
    /** The event type of dstack runtime events. */
    public static final long RUNTIME_EVENT_TYPE = 0x08000001L;
    /** The event type of the RTMR0 ACPI DATA entries. */
    public static final long ACPI_DATA_EVENT_TYPE = 10;
    static final byte[] ACPI_DATA = "ACPI DATA".getBytes(StandardCharsets.US_ASCII);

    public TdxEvent {
        if (imr < 0 || imr > 0xffffffffL || eventType < 0 || eventType > 0xffffffffL) {
            throw new IllegalArgumentException("imr and event_type are u32");
        }
        if (version != 1 && version != 2) {
            throw new IllegalArgumentException("version must be 1 or 2");
        }
        digest = Objects.requireNonNull(digest, "digest").clone();
        Objects.requireNonNull(event, "event");
        payload = Objects.requireNonNull(payload, "payload").clone();
    }

    /** A V1-digest event without pre-image. */
    public static TdxEvent of(long imr, long eventType, byte[] digest, String event, byte[] payload) {
        return new TdxEvent(imr, eventType, digest, event, payload, 1, null);
    }

    @Override
    public byte[] digest() {
        return digest.clone();
    }

    @Override
    public byte[] payload() {
        return payload.clone();
    }

    public boolean isRuntimeEvent() {
        return eventType == RUNTIME_EVENT_TYPE;
    }

    /** RTMR0 {@code ACPI DATA} entry ({@code is_tdx_acpi_data_event}). */
    public boolean isAcpiData() {
        return imr == 0 && eventType == ACPI_DATA_EVENT_TYPE && Arrays.equals(payload, ACPI_DATA);
    }

    /** {@code TdxEvent::stripped}: runtime events lose the digest, others lose the payload. */
    public TdxEvent stripped() {
        return isRuntimeEvent()
                ? new TdxEvent(imr, eventType, new byte[0], event, payload, version, preimage)
                : new TdxEvent(imr, eventType, digest, event, new byte[0], version, preimage);
    }

    /** The runtime event this entry records, when it is one. */
    public RuntimeEvent toRuntimeEvent() {
        return new RuntimeEvent(event, payload, version);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TdxEvent && imr == ((TdxEvent) o).imr && eventType == ((TdxEvent) o).eventType
                && Arrays.equals(digest, ((TdxEvent) o).digest) && event.equals(((TdxEvent) o).event)
                && Arrays.equals(payload, ((TdxEvent) o).payload) && version == ((TdxEvent) o).version
                && Objects.equals(preimage, ((TdxEvent) o).preimage);
    }

    @Override
    public int hashCode() {
        return Objects.hash(imr, eventType, event, Arrays.hashCode(digest), Arrays.hashCode(payload));
    }

    @Override
    public String toString() {
        return "TdxEvent[imr=" + imr + ", type=0x" + Long.toHexString(eventType) + ", event=" + event + ", digest="
                + Bytes.HEX.formatHex(digest) + ", payload=" + payload.length + " bytes, version=" + version + "]";
    }
}
