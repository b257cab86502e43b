package dev.atlas.dstack;

import dev.atlas.dstack.internal.Digests;
import dev.atlas.tdx.internal.Hex;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Objects;

/**
 * One entry of a dstack event log, as sent: register index ({@code imr}, 0..3 for RTMR0..3), TCG event
 * type, the digest the sender claims was extended (possibly empty), the event name and the raw payload.
 * Immutable. Nothing in an entry is trusted until {@link EventLog#verify()} and an RTMR replay against a
 * verified quote accept it.
 */
public final class EventLogEntry {
    /** Event type of every dstack runtime event ({@code 0x08000001}). */
    public static final long RUNTIME_EVENT_TYPE = 0x08000001L;
    /** The register runtime events are extended into. */
    public static final int RUNTIME_IMR = 3;

    private final int imr;
    private final long eventType;
    private final byte[] digest;
    private final String event;
    private final byte[] payload;
    private final byte[] effectiveDigest;

    EventLogEntry(int imr, long eventType, byte[] digest, String event, byte[] payload) {
        this.imr = imr;
        this.eventType = eventType;
        this.digest = digest.clone();
        this.event = Objects.requireNonNull(event);
        this.payload = payload.clone();
        this.effectiveDigest = isRuntimeEvent() ? runtimeDigest(event, payload) : Arrays.copyOf(digest, 48);
    }

    /**
     * The V1 digest of a dstack runtime event:
     * {@code SHA-384(LE32(0x08000001) ‖ ":" ‖ utf8(name) ‖ ":" ‖ payload)}.
     */
    public static byte[] runtimeDigest(String name, byte[] payload) {
        return Digests.sha384(new byte[] {0x01, 0x00, 0x00, 0x08, ':'}, name.getBytes(StandardCharsets.UTF_8),
                new byte[] {':'}, payload);
    }

    /** 0..3 for RTMR0..RTMR3. */
    public int imr() {
        return imr;
    }

    public long eventType() {
        return eventType;
    }

    /** True for dstack runtime events (type {@code 0x08000001}). */
    public boolean isRuntimeEvent() {
        return eventType == RUNTIME_EVENT_TYPE;
    }

    /** The digest as sent (may be empty: dstack 0.5.6+ omits runtime digests; boot digests are 48 bytes). */
    public byte[] digest() {
        return digest.clone();
    }

    public String digestHex() {
        return Hex.encode(digest);
    }

    /**
     * The 48-byte value this entry contributes to its register: for runtime events the digest recomputed
     * from name and payload (never the sent one), for boot events the sent digest right-padded with zero
     * bytes to 48 (the reference's rule).
     */
    public byte[] effectiveDigest() {
        return effectiveDigest.clone();
    }

    byte[] effectiveDigestUnsafe() {
        return effectiveDigest;
    }

    /**
     * For runtime events: true when the sent digest is empty or equals the recomputed one. Boot events
     * carry no name/payload binding we can check, so this is true for them (their digests are checked by
     * the RTMR replay).
     */
    public boolean digestAgrees() {
        return !isRuntimeEvent() || digest.length == 0 || MessageDigest.isEqual(digest, effectiveDigest);
    }

    /** The event name ({@code ""} for most boot events). */
    public String event() {
        return event;
    }

    public byte[] payload() {
        return payload.clone();
    }

    byte[] payloadUnsafe() {
        return payload;
    }

    public String payloadHex() {
        return Hex.encode(payload);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof EventLogEntry)) {
            return false;
        }
        EventLogEntry e = (EventLogEntry) o;
        return imr == e.imr && eventType == e.eventType && Arrays.equals(digest, e.digest) && event.equals(e.event)
                && Arrays.equals(payload, e.payload);
    }

    @Override
    public int hashCode() {
        return Objects.hash(imr, eventType, event, Arrays.hashCode(digest), Arrays.hashCode(payload));
    }

    @Override
    public String toString() {
        return "EventLogEntry{imr=" + imr + ", type=0x" + Long.toHexString(eventType) + ", event=" + event
                + ", payload=" + payload.length + " bytes}";
    }
}
