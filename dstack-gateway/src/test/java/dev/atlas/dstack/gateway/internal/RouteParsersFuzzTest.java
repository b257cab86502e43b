package dev.atlas.dstack.gateway.internal;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.dstack.ra.RaException;
import io.netty.buffer.Unpooled;

/**
 * Jazzer target for route's parsers: a TXT value ({@code app_id:port}), a TXT RDATA's first string, a port policy's
 * proto JSON and an agent's {@code tcb_info}. Only their declared failures may escape, and what is accepted must
 * satisfy the grammar (a port in range, an id without {@code -}; a policy that survives its own JSON form).
 */
class RouteParsersFuzzTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @FuzzTest(maxDuration = "10s")
    void parsers(FuzzedDataProvider data) {
        String txt = data.consumeString(300);
        try {
            AppAddressDns.Target t = AppAddressDns.parse(txt);
            if (t.port() < 0 || t.port() > 65535 || t.appId().isEmpty() || t.appId().contains("-")) {
                throw new AssertionError("accepted " + t);
            }
        } catch (RaException expected) {
            // refused with a reason
        }
        byte[] rdata = data.consumeBytes(300);
        String first = AppAddressDns.firstString(Unpooled.wrappedBuffer(rdata));
        if (first != null && (rdata.length == 0 || first.length() > (rdata[0] & 0xff))) {
            throw new AssertionError("first string longer than its length byte");
        }
        String json = data.consumeString(2000);
        JsonNode node;
        try {
            node = JSON.readTree(json);
        } catch (Exception e) {
            node = null;
        }
        if (node != null) {
            try {
                PortPolicy p = PortPolicy.fromJson(node, "p");
                if (!PortPolicy.fromJson(p.toJson(), "p").equals(p)) {
                    throw new AssertionError("round trip changed " + p);
                }
            } catch (RaException expected) {
                // refused with a reason
            }
        }
        try {
            PortPolicies.parseTcbInfo(data.consumeRemainingAsString(), "");
        } catch (PortPolicies.PermanentFetchFailure expected) {
            // refused
        }
    }
}
