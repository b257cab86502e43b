package dev.atlas.dstack;

import dev.atlas.tdx.internal.Hex;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * A dstack runtime event whose digest has been checked against its name and payload (it sits on RTMR3 and,
 * once the replay matches a verified quote, was measured by the TD). Immutable.
 */
public final class RuntimeEvent {
    private final String name;
    private final byte[] payload;
    private final byte[] digest;
    private final int index;

    RuntimeEvent(String name, byte[] payload, byte[] digest, int index) {
        this.name = name;
        this.payload = payload.clone();
        this.digest = digest.clone();
        this.index = index;
    }

    public String name() {
        return name;
    }

    public byte[] payload() {
        return payload.clone();
    }

    public String payloadHex() {
        return Hex.encode(payload);
    }

    /** The payload as UTF-8 text, if it is valid UTF-8. */
    public Optional<String> payloadText() {
        try {
            return Optional.of(StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(payload)).toString());
        } catch (CharacterCodingException e) {
            return Optional.empty();
        }
    }

    /** The 48-byte SHA-384 digest extended into RTMR3 (recomputed, not the sent one). */
    public String digestHex() {
        return Hex.encode(digest);
    }

    /** Position of the entry in the whole event log (0-based). */
    public int logIndex() {
        return index;
    }

    @Override
    public String toString() {
        return "RuntimeEvent{" + name + ", " + payload.length + " bytes}";
    }
}
