package dev.atlas.dstack.ra.prpc;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.StringLength;

/** GET query decoding: encode a message as serde_qs would read it, decode, get the same message back. */
class QueryDecoderPropertiesTest {
    @Provide
    Arbitrary<String> names() {
        return Arbitraries.strings().withCharRange('a', 'z').withChars('_').ofMinLength(1).ofMaxLength(8);
    }

    @Provide
    Arbitrary<String> values() {
        return Arbitraries.strings().withCharRange(' ', '~').withChars('\u00fc', '\u20ac', '&', '=', '+', '%', '[')
                .ofMaxLength(20);
    }

    @Provide
    Arbitrary<ObjectNode> messages() {
        Arbitrary<JsonNode> leaf = values().map(StrictJson.QueryText::new);
        Arbitrary<JsonNode> list = values().list().ofMinSize(1).ofMaxSize(4).map(vs -> {
            ArrayNode a = StrictJson.NODES.arrayNode();
            vs.forEach(v -> a.add(new StrictJson.QueryText(v)));
            return a;
        });
        Arbitrary<JsonNode> nested = Arbitraries.maps(names(), values()).ofMinSize(1).ofMaxSize(3).map(m -> {
            ObjectNode o = StrictJson.NODES.objectNode();
            m.forEach((k, v) -> o.set(k, new StrictJson.QueryText(v)));
            return o;
        });
        Arbitrary<JsonNode> field = Arbitraries.oneOf(leaf, list, nested);
        return Arbitraries.maps(names(), field).ofMaxSize(6).map(m -> {
            ObjectNode o = StrictJson.NODES.objectNode();
            m.forEach(o::set);
            return o;
        });
    }

    static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    static String encode(ObjectNode message, boolean indexed) {
        List<String> pairs = new ArrayList<>();
        for (Map.Entry<String, JsonNode> e : message.properties()) {
            JsonNode v = e.getValue();
            if (v.isArray()) {
                for (int i = 0; i < v.size(); i++) {
                    pairs.add(e.getKey() + (indexed ? "[" + i + "]" : "[]") + "=" + enc(v.get(i).textValue()));
                }
            } else if (v.isObject()) {
                for (Map.Entry<String, JsonNode> s : v.properties()) {
                    pairs.add(e.getKey() + "[" + s.getKey() + "]=" + enc(s.getValue().textValue()));
                }
            } else {
                pairs.add(e.getKey() + "=" + enc(v.textValue()));
            }
        }
        return String.join("&", pairs);
    }

    @Property(tries = 300)
    void roundTrip(@ForAll("messages") ObjectNode message) throws Exception {
        assertThat(QueryDecoder.decode(encode(message, true))).isEqualTo(message);
        assertThat(QueryDecoder.decode(encode(message, false))).isEqualTo(message);
    }

    @Property(tries = 200)
    void indexOrderDoesNotMatter(@ForAll("messages") ObjectNode message) throws Exception {
        List<String> pairs = new ArrayList<>(List.of(encode(message, true).split("&")));
        Collections.reverse(pairs);
        JsonNode back = QueryDecoder.decode(String.join("&", pairs));
        assertThat(back.size()).isEqualTo(message.size());
        for (Map.Entry<String, JsonNode> e : message.properties()) {
            assertThat(back.get(e.getKey())).isEqualTo(e.getValue()); // lists ordered by index, not position
        }
    }

    @Property(tries = 500)
    void arbitraryQueriesFailOnlyWithAJsonError(@ForAll @StringLength(max = 60) String raw) {
        try {
            JsonNode n = QueryDecoder.decode(raw);
            assertThat(n.isObject()).isTrue();
        } catch (StrictJson.JsonError expected) {
            assertThat(expected.getMessage()).isNotBlank();
        }
    }
}
