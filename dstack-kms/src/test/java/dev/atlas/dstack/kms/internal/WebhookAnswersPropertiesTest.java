package dev.atlas.dstack.kms.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.RaException;
import java.nio.charset.StandardCharsets;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.StringLength;

/**
 * Round trips of the webhook answer reader: any decision a webhook can write reads back as itself, extra fields
 * included; the same answer with one required field removed is never a decision.
 */
class WebhookAnswersPropertiesTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Property(tries = 200)
    void decisionsRoundTrip(@ForAll boolean allowed, @ForAll @StringLength(max = 64) String reason,
            @ForAll @StringLength(max = 64) String gateway, @ForAll @StringLength(max = 16) String extra)
            throws Exception {
        ObjectNode o = JSON.createObjectNode();
        o.put("isAllowed", allowed);
        o.put("reason", reason);
        o.put("gatewayAppId", gateway);
        o.put("x-" + extra, extra);
        BootDecision d = WebhookAnswers.bootResponse(o.toString().getBytes(StandardCharsets.UTF_8), "http://p");
        assertEquals(new BootDecision(allowed, reason, java.util.Optional.of(gateway)), d);
        for (String field : new String[] {"isAllowed", "reason", "gatewayAppId"}) {
            ObjectNode missing = o.deepCopy();
            missing.remove(field);
            RaException e = assertThrows(RaException.class, () -> WebhookAnswers.bootResponse(
                    missing.toString().getBytes(StandardCharsets.UTF_8), "http://p"));
            assertEquals("failed to decode response from http://p: missing field `" + field + "`", e.detail());
        }
    }

    @Property(tries = 100)
    void infoRoundTrips(@ForAll long chainBits, @ForAll @StringLength(max = 32) String contract) throws Exception {
        ObjectNode o = JSON.createObjectNode();
        o.put("status", "ok");
        o.put("kmsContractAddr", contract);
        o.put("gatewayAppId", "");
        o.put("chainId", new java.math.BigInteger(Long.toUnsignedString(chainBits)));
        o.put("appImplementation", "0x");
        AuthInfo i = WebhookAnswers.info(o.toString().getBytes(StandardCharsets.UTF_8), "http://p");
        assertEquals(chainBits, i.chainId().getAsLong());
        assertEquals(contract, i.kmsContractAddr());
    }
}
