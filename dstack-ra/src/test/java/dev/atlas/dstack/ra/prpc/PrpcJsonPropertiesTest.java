package dev.atlas.dstack.ra.prpc;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.Locale;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** Round trips: hex bytes, and a handler's error text through the dispatcher's body to the client's reader. */
class PrpcJsonPropertiesTest {
    @Provide
    Arbitrary<String> messages() {
        return Arbitraries.strings().withCharRange('\u0000', '\u00ff').withChars('\u2028', '\u20ac', '"', '\\')
                .ofMaxLength(60);
    }

    @Property(tries = 300)
    void hexRoundTrip(@ForAll byte[] bytes) throws Exception {
        String hex = PrpcJson.hex(bytes);
        assertThat(hex).matches("[0-9a-f]*");
        assertThat(PrpcJson.parseHex(hex, "f")).isEqualTo(bytes);
        assertThat(PrpcJson.parseHex("0x" + hex.toUpperCase(Locale.ROOT), "f")).isEqualTo(bytes);
    }

    @Property(tries = 300)
    void errorTextSurvivesTheWire(@ForAll("messages") String message) {
        byte[] body = PrpcDispatcher.errorJson(message).getBytes(StandardCharsets.UTF_8);
        assertThat(PrpcClient.errorText(body)).isEqualTo(message);
        assertThat(new String(body, StandardCharsets.UTF_8)).startsWith("{\n  \"error\": \"").endsWith("\"\n}");
    }
}
