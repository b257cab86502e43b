package dev.atlas.dstack.ra.kms;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcJson;
import java.util.Objects;

/**
 * {@code Onboard.Onboard} request ({@code OnboardRequest{string source_url; string domain}}). The URL is kept as
 * sent; normalising it ({@link KmsClient#normalizeUrl}) and validating the domain are the KMS's steps.
 */
public record OnboardRequest(String sourceUrl, String domain) {
    public OnboardRequest {
        Objects.requireNonNull(sourceUrl, "sourceUrl");
        Objects.requireNonNull(domain, "domain");
    }

    public static OnboardRequest fromJson(JsonNode n) throws PrpcException {
        JsonNode m = Wire.message(n, "OnboardRequest");
        return new OnboardRequest(PrpcJson.string(m, "source_url"), PrpcJson.string(m, "domain"));
    }

    public ObjectNode toJson() {
        ObjectNode o = Wire.object();
        o.put("source_url", sourceUrl);
        o.put("domain", domain);
        return o;
    }
}
