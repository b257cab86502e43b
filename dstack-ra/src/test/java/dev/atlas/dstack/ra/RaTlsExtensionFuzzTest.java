package dev.atlas.dstack.ra;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.util.HashMap;
import java.util.Map;

/**
 * Jazzer target: the RA-TLS extension readers ({@code .1}/{@code .2} with the gzip event log, {@code .3},
 * {@code .4}, {@code .8}, {@code .9}) on arbitrary {@code extnValue} bytes, without building certificates. Only
 * {@link RaException} with a reason may escape. Seeds:
 * {@code src/test/resources/dev/atlas/dstack/ra/RaTlsExtensionFuzzTestInputs}.
 */
class RaTlsExtensionFuzzTest {
    private static final String[] OIDS = {RaTlsCertificate.OID_TDX_QUOTE, RaTlsCertificate.OID_EVENT_LOG,
        RaTlsCertificate.OID_APP_ID, RaTlsCertificate.OID_CERT_USAGE, RaTlsCertificate.OID_ATTESTATION,
        RaTlsCertificate.OID_APP_INFO};

    @FuzzTest(maxDuration = "10s")
    void parse(FuzzedDataProvider data) {
        Map<String, byte[]> ext = new HashMap<>();
        for (String oid : OIDS) {
            if (data.consumeBoolean()) {
                byte[] payload = data.consumeBytes(data.consumeInt(0, 1 << 16));
                // mostly well-wrapped payloads (to reach the inner decoders), sometimes raw bytes
                ext.put(oid, data.consumeBoolean() ? payload : wrapTwice(payload));
            }
        }
        try {
            RaTlsCertificate.parse(null, ext::get);
        } catch (RaException expected) {
            ScaleAttestationFuzzTest.check(expected);
        }
    }

    private static byte[] wrapTwice(byte[] payload) {
        try {
            return RaTlsFixtures.wrap(RaTlsFixtures.wrap(payload));
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
