package dev.atlas.dstack.guest;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.Size;

/** Properties of the response parsers: hex round-trips, and arbitrary input fails only as MALFORMED_RESPONSE. */
class ResponseParsersPropertiesTest {
    static final ResponseParsers.Ctx CTX = new ResponseParsers.Ctx("unix:/test", "Test");

    @Property
    void keyRoundTrips(@ForAll @Size(max = 64) byte[] key, @ForAll @Size(max = 4) List<@Size(max = 70) byte[]> chain)
            throws DstackGuestException {
        HexFormat h = HexFormat.of();
        StringBuilder sb = new StringBuilder("{\"key\":\"" + h.formatHex(key) + "\",\"signature_chain\":[");
        for (int i = 0; i < chain.size(); i++) {
            sb.append(i == 0 ? "" : ",").append('"').append(h.formatHex(chain.get(i))).append('"');
        }
        DerivedKey k = ResponseParsers.key(CTX, sb.append("]}").toString().getBytes(StandardCharsets.UTF_8));
        assertThat(k.key()).isEqualTo(key);
        assertThat(k.signatureChain()).hasSize(chain.size());
        for (int i = 0; i < chain.size(); i++) {
            assertThat(k.signatureChain().get(i)).isEqualTo(chain.get(i));
        }
    }

    @Property
    void arbitraryInputFailsWithReason(@ForAll byte[] data) {
        ResponseParsersFuzzTest.fuzzerTestOneInput(data);
    }

    @Property
    void arbitraryStringsInFields(@ForAll String s) {
        String json = "{\"quote\":" + com.fasterxml.jackson.core.io.JsonStringEncoder.getInstance()
                .quoteAsString(s).length + ",\"event_log\":\"" + new String(
                com.fasterxml.jackson.core.io.JsonStringEncoder.getInstance().quoteAsString(s)) + "\"}";
        ResponseParsersFuzzTest.fuzzerTestOneInput(json.getBytes(StandardCharsets.UTF_8));
    }
}
