package dev.atlas.dstack.ra;

import dev.atlas.dstack.ra.internal.Bytes;
import dev.atlas.dstack.ra.internal.Hashes;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * A dstack runtime (RTMR3) event ({@code cc-eventlog/src/runtime_events.rs}): name, payload and the digest
 * version (1: {@code SHA-384(u32le(0x08000001) ‖ ":" ‖ name ‖ ":" ‖ payload)}, 2: {@code SHA-384} of the JCS
 * document {@code {"name":…,"payload":hex,"type":134217729}}).
 *
 * @param event event name
 * @param payload event payload
 * @param version 1 or 2
 */
public record RuntimeEvent(String event, byte[] payload, int version) {
    public RuntimeEvent {
        Objects.requireNonNull(event, "event");
        payload = Objects.requireNonNull(payload, "payload").clone();
        if (version != 1 && version != 2) {
            throw new IllegalArgumentException("version must be 1 or 2");
        }
    }

    public static RuntimeEvent v1(String event, byte[] payload) {
        return new RuntimeEvent(event, payload, 1);
    }

    @Override
    public byte[] payload() {
        return payload.clone();
    }

    /** The bytes that are hashed into the digest. */
    public byte[] preimage() {
        if (version == 1) {
            return Bytes.concat(new byte[] {1, 0, 0, 8}, new byte[] {':'}, event.getBytes(StandardCharsets.UTF_8),
                    new byte[] {':'}, payload);
        }
        return ("{\"name\":" + jcsString(event) + ",\"payload\":\"" + Bytes.HEX.formatHex(payload)
                + "\",\"type\":134217729}").getBytes(StandardCharsets.UTF_8);
    }

    public byte[] sha384Digest() {
        return Hashes.sha384(preimage());
    }

    /**
     * RTMR replay: start from 48 zero bytes, {@code mr = SHA-384(mr ‖ digest)} per event; with
     * {@code toEvent}, stop after the first event of that name.
     */
    public static byte[] replay(List<RuntimeEvent> events, String toEvent) {
        byte[] mr = new byte[48];
        for (RuntimeEvent e : events) {
            mr = Hashes.sha384(mr, e.sha384Digest());
            if (toEvent != null && e.event.equals(toEvent)) {
                break;
            }
        }
        return mr;
    }

    /** RFC 8785 string serialisation (ECMAScript JSON.stringify escaping). */
    static String jcsString(String s) {
        StringBuilder b = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\b': b.append("\\b"); break;
                case '\f': b.append("\\f"); break;
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                default:
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
            }
        }
        return b.append('"').toString();
    }


    @Override
    public boolean equals(Object o) {
        return o instanceof RuntimeEvent && event.equals(((RuntimeEvent) o).event)
                && Arrays.equals(payload, ((RuntimeEvent) o).payload) && version == ((RuntimeEvent) o).version;
    }

    @Override
    public int hashCode() {
        return Objects.hash(event, Arrays.hashCode(payload), version);
    }

    @Override
    public String toString() {
        return "RuntimeEvent[" + event + ", " + payload.length + " bytes, v" + version + "]";
    }
}
