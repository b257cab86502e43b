package dev.atlas.dstack.ra.kms;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcJson;
import java.util.List;

/**
 * {@code KMS.SignCert} response ({@code SignCertResponse{repeated string certificate_chain}}): PEM certificates,
 * leaf first ([leaf, app CA, KMS root] from dstack's KMS). At most {@link #MAX_CERTIFICATES} entries (parser limit);
 * parsing the PEMs is the caller's step.
 */
public record SignCertResponse(List<String> certificateChain) {
    public static final int MAX_CERTIFICATES = 8;

    public SignCertResponse {
        certificateChain = Wire.list(certificateChain, "certificateChain");
        if (certificateChain.size() > MAX_CERTIFICATES) {
            throw new IllegalArgumentException("certificate_chain: at most " + MAX_CERTIFICATES + " entries, got "
                    + certificateChain.size());
        }
    }

    public static SignCertResponse fromJson(JsonNode n) throws PrpcException {
        JsonNode m = Wire.message(n, "SignCertResponse");
        List<String> chain = PrpcJson.stringList(m, "certificate_chain");
        if (chain.size() > MAX_CERTIFICATES) {
            throw new PrpcException("field `certificate_chain`: at most " + MAX_CERTIFICATES + " entries, got "
                    + chain.size());
        }
        return new SignCertResponse(chain);
    }

    public ObjectNode toJson() {
        ObjectNode o = Wire.object();
        ArrayNode a = o.putArray("certificate_chain");
        certificateChain.forEach(a::add);
        return o;
    }
}
