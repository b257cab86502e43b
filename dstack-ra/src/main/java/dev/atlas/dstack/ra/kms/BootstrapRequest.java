package dev.atlas.dstack.ra.kms;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcJson;
import java.util.Objects;

/**
 * {@code Onboard.Bootstrap} request ({@code BootstrapRequest{string domain}}). The domain rules of §2.3 are the
 * KMS's check (they produce dstack's error text), not the parser's.
 */
public record BootstrapRequest(String domain) {
    public BootstrapRequest {
        Objects.requireNonNull(domain, "domain");
    }

    public static BootstrapRequest fromJson(JsonNode n) throws PrpcException {
        JsonNode m = Wire.message(n, "BootstrapRequest");
        return new BootstrapRequest(PrpcJson.string(m, "domain"));
    }

    public ObjectNode toJson() {
        ObjectNode o = Wire.object();
        o.put("domain", domain);
        return o;
    }
}
