package dev.atlas.dstack.vmm.internal;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.atlas.dstack.ra.RaException;
import java.io.ByteArrayInputStream;
import java.io.IOException;

/** Jazzer: the key-provider frame reader and response parser accept or refuse with an RaException, nothing else. */
class KeyProviderFrameFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void frameAndResponse(FuzzedDataProvider data) {
        byte[] wire = data.consumeRemainingAsBytes();
        try {
            byte[] payload = KeyProviderClient.readFrame(new ByteArrayInputStream(wire));
            KeyProviderClient.Response r = KeyProviderClient.decodeResponse(payload);
            if (r.encryptedKey() == null || r.providerQuote() == null) {
                throw new IllegalStateException("null bytes from a parsed response");
            }
        } catch (RaException expected) {
            // refused with a reason
        } catch (IOException e) {
            throw new IllegalStateException("an in-memory stream cannot fail", e);
        }
    }
}
