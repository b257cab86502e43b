package dev.atlas.dstack.simulator.internal;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.simulator.GatewayRegistration;
import java.io.IOException;
import java.net.URI;

/**
 * Jazzer target: a gateway's {@code RegisterCvmResponse} as the simulated CVM reads it, and the
 * {@code dstack-wg0.conf} rendered from it. Only {@link RaException} with a reason and a field may escape the
 * parser; a rendered config holds only dstack-util's lines (a gateway's answer never injects {@code PostUp} or
 * anything else into the file {@code wg} reads).
 */
class RegisterCvmResponseFuzzTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String SK = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

    @FuzzTest(maxDuration = "10s")
    void parse(FuzzedDataProvider data) {
        fuzzerTestOneInput(data);
    }

    /**
     * Entry point for the Jazzer CLI: either a well-shaped response whose strings are fuzzed (where injections
     * would hide), or arbitrary JSON.
     */
    public static void fuzzerTestOneInput(FuzzedDataProvider data) {
        JsonNode n;
        if (data.consumeBoolean()) {
            ObjectNode r = JSON.createObjectNode();
            ObjectNode wg = r.putObject("wg");
            wg.put("client_ip", data.consumeString(20));
            int servers = data.consumeInt(0, 3);
            for (int i = 0; i < servers; i++) {
                ObjectNode s = wg.withArray("servers").addObject();
                s.put("pk", data.consumeBoolean() ? SK : data.consumeString(50));
                s.put("ip", data.consumeString(24));
                s.put("endpoint", data.consumeString(64));
            }
            r.putObject("agent").put("domain", data.consumeString(32));
            n = r;
        } else {
            try {
                n = JSON.readTree(data.consumeRemainingAsBytes());
            } catch (IOException e) {
                return;
            }
        }
        GatewayRegistration r;
        try {
            r = GatewayBoot.parseResponse(URI.create("https://gw.test:9202"), n);
        } catch (RaException e) {
            if (e.raReason() == null || e.field() == null) {
                throw new AssertionError("a refusal without reason or field");
            }
            return;
        }
        String conf = GatewayBoot.renderGuestConfig(SK, r);
        for (String line : conf.split("\n", -1)) {
            if (!line.isEmpty() && !line.equals("[Interface]") && !line.equals("[Peer]")
                    && !line.matches("(PrivateKey|PublicKey) = [A-Za-z0-9+/]{43}=|ListenPort = 9182"
                            + "|Address = [0-9.]+/32|AllowedIPs = [0-9.]+/32|Endpoint = [A-Za-z0-9.\\-:\\[\\]]+"
                            + "|PersistentKeepalive = 25")) {
                throw new AssertionError("rendered an unexpected line: " + line);
            }
        }
    }
}
