package dev.atlas.dstack.ra.kms;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcJson;

/** {@code Onboard.Onboard} response ({@code OnboardResponse{bytes k256_pubkey}}): 33-byte compressed key (checked). */
public record OnboardResponse(byte[] k256Pubkey) {
    public static final int K256_PUBKEY_BYTES = 33;

    public OnboardResponse {
        k256Pubkey = Wire.copy(k256Pubkey, "k256Pubkey");
        Wire.requireLength(k256Pubkey, "k256_pubkey", K256_PUBKEY_BYTES);
    }

    @Override
    public byte[] k256Pubkey() {
        return k256Pubkey.clone();
    }

    public static OnboardResponse fromJson(JsonNode n) throws PrpcException {
        JsonNode m = Wire.message(n, "OnboardResponse");
        return new OnboardResponse(PrpcJson.bytes(m, "k256_pubkey", K256_PUBKEY_BYTES));
    }

    public ObjectNode toJson() {
        ObjectNode o = Wire.object();
        o.put("k256_pubkey", Wire.hex(k256Pubkey));
        return o;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof OnboardResponse r && Wire.eq(k256Pubkey, r.k256Pubkey);
    }

    @Override
    public int hashCode() {
        return Wire.hash(k256Pubkey);
    }

    @Override
    public String toString() {
        return "OnboardResponse[k256Pubkey=" + Wire.hex(k256Pubkey) + "]";
    }
}
