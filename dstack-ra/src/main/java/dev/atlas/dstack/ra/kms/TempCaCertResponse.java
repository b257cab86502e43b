package dev.atlas.dstack.ra.kms;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcJson;
import java.util.Objects;

/**
 * {@code KMS.GetTempCaCert} response ({@code GetTempCaCertResponse{string temp_ca_cert; string temp_ca_key;
 * string ca_cert}}): PEM strings, parsed by the caller. The temp CA key is handed to anyone (a bootstrap
 * convenience, §2.3), but it is a private key, so {@link #toString()} redacts it.
 */
public record TempCaCertResponse(String tempCaCert, String tempCaKey, String caCert) {
    public TempCaCertResponse {
        Objects.requireNonNull(tempCaCert, "tempCaCert");
        Objects.requireNonNull(tempCaKey, "tempCaKey");
        Objects.requireNonNull(caCert, "caCert");
    }

    public static TempCaCertResponse fromJson(JsonNode n) throws PrpcException {
        JsonNode m = Wire.message(n, "GetTempCaCertResponse");
        return new TempCaCertResponse(PrpcJson.string(m, "temp_ca_cert"), PrpcJson.string(m, "temp_ca_key"),
                PrpcJson.string(m, "ca_cert"));
    }

    public ObjectNode toJson() {
        ObjectNode o = Wire.object();
        o.put("temp_ca_cert", tempCaCert);
        o.put("temp_ca_key", tempCaKey);
        o.put("ca_cert", caCert);
        return o;
    }

    @Override
    public String toString() {
        return "TempCaCertResponse[tempCaCert=" + tempCaCert.length() + " chars, tempCaKey="
                + Wire.redacted(tempCaKey) + ", caCert=" + caCert.length() + " chars]";
    }
}
