package dev.atlas.server.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.Size;

/** Properties of the server-side parsers (the guest-agent response reader's are in atlas-protocol). */
class ServerParserPropertiesTest {
    @Property(tries = 200)
    void everyWellFormedNonceIsAcceptedAndRoundTrips(@ForAll @Size(32) byte[] nonce) throws Exception {
        String hex = HexFormat.of().formatHex(nonce);
        assertThat(TdxQuoteHandler.parseNonce(("{\"nonce_hex\":\"" + hex + "\"}").getBytes(StandardCharsets.UTF_8)))
                .isEqualTo(nonce);
        assertThat(TdxQuoteHandler.parseNonce(("{\"nonce_hex\":\"" + hex.toUpperCase() + "\",\"x\":[1]}")
                .getBytes(StandardCharsets.UTF_8))).isEqualTo(nonce);
    }

    @Property(tries = 200)
    void pythonStyleStringsAreAsciiAndRoundTrip(@ForAll String s) throws Exception {
        StringBuilder sb = new StringBuilder();
        PyJson.string(s, sb);
        assertThat(sb.chars().allMatch(ch -> ch >= 0x20 && ch < 0x7f)).isTrue();
        assertThat(new com.fasterxml.jackson.databind.ObjectMapper().readTree(sb.toString()).textValue()).isEqualTo(s);
    }
}
