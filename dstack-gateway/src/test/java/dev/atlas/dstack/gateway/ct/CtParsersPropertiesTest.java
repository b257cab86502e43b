package dev.atlas.dstack.gateway.ct;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.constraints.Size;

/** Properties: what crt.sh and the gateway write, the parsers read back unchanged. */
class CtParsersPropertiesTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Property(tries = 100)
    void crtShRowsRoundTrip(@ForAll @Size(max = 8) List<@LongRange(min = 1) Long> ids, @ForAll String name)
            throws Exception {
        ArrayNode a = JSON.createArrayNode();
        for (long id : ids) {
            a.addObject().put("id", id).put("name_value", name).put("issuer_ca_id", 3).putNull("common_name");
        }
        List<CrtShEntry> rows = CrtShEntry.parseList(a.toString().getBytes(StandardCharsets.UTF_8), 1 << 20, "p");
        assertEquals(ids, rows.stream().map(CrtShEntry::id).toList());
        rows.forEach(r -> assertEquals(name, r.nameValue()));
    }

    @Property(tries = 100)
    void acmeInfoKeysRoundTrip(@ForAll @Size(max = 6) List<@Size(min = 1, max = 80) byte[]> keys,
            @ForAll String quote) throws Exception {
        ObjectNode o = JSON.createObjectNode().put("account_uri", "u");
        ArrayNode a = o.putArray("quoted_hist_keys");
        for (byte[] k : keys) {
            a.addObject().put("public_key", HexFormat.of().formatHex(k)).put("quote", quote);
        }
        AcmeInfo info = AcmeInfo.parse(o.toString().getBytes(StandardCharsets.UTF_8), "p");
        assertEquals(keys.size(), info.quotedKeys().size());
        for (int i = 0; i < keys.size(); i++) {
            assertArrayEquals(keys.get(i), info.quotedKeys().get(i).spki());
            assertEquals(quote, info.quotedKeys().get(i).quoteJson());
        }
    }
}
