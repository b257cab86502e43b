package dev.atlas.dstack.guest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/**
 * A PKCS#8 P-256 key and a certificate from dstack's own simulator {@code appkeys.json}
 * ({@code sdk/simulator/appkeys.json}, copy in {@code ../shared/testdata/dstack/simulator/}), shaped as a
 * {@code GetTlsKey} response.
 */
final class TlsFixture {
    private TlsFixture() {}

    /** {@code ../shared/testdata/dstack/NAME} (the test is skipped when the folder is absent). */
    static Path shared(String name) {
        return dev.atlas.testing.SharedTestData.dir().resolve("dstack").resolve(name);
    }

    static JsonNode appkeys() {
        try {
            return new ObjectMapper().readTree(shared("simulator/appkeys.json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("shared testdata: " + shared("simulator/appkeys.json"), e);
        }
    }

    static String keyPem() {
        return appkeys().get("key_provider").get("None").get("key").textValue();
    }

    static String certPem() {
        return appkeys().get("ca_cert").textValue();
    }

    static String keyBase64Line() {
        return keyPem().split("\n")[1];
    }

    static String responseJson() {
        ObjectMapper m = new ObjectMapper();
        var o = m.createObjectNode();
        o.put("key", keyPem());
        o.putArray("certificate_chain").add(certPem());
        return o.toString();
    }
}
