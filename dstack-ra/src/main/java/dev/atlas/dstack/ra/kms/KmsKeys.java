package dev.atlas.dstack.ra.kms;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcJson;
import java.util.Objects;

/**
 * One key set of {@code KmsKeyResponse} ({@code KmsKeys{string ca_key; bytes k256_key}}): the root CA private key
 * (PKCS#8 PEM, parsed by the receiver) and the 32-byte secp256k1 root key (length checked by the parser). Both are
 * secret: {@link #toString()} redacts them.
 */
public record KmsKeys(String caKey, byte[] k256Key) {
    public static final int K256_KEY_BYTES = 32;

    public KmsKeys {
        Objects.requireNonNull(caKey, "caKey");
        k256Key = Wire.copy(k256Key, "k256Key");
        Wire.requireLength(k256Key, "k256_key", K256_KEY_BYTES);
    }

    @Override
    public byte[] k256Key() {
        return k256Key.clone();
    }

    public static KmsKeys fromJson(JsonNode n) throws PrpcException {
        JsonNode m = Wire.message(n, "KmsKeys");
        return new KmsKeys(PrpcJson.string(m, "ca_key"), PrpcJson.bytes(m, "k256_key", K256_KEY_BYTES));
    }

    public ObjectNode toJson() {
        ObjectNode o = Wire.object();
        o.put("ca_key", caKey);
        o.put("k256_key", Wire.hex(k256Key));
        return o;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof KmsKeys r && caKey.equals(r.caKey) && Wire.eq(k256Key, r.k256Key);
    }

    @Override
    public int hashCode() {
        return Objects.hash(caKey, Wire.hash(k256Key));
    }

    @Override
    public String toString() {
        return "KmsKeys[caKey=" + Wire.redacted(caKey) + ", k256Key=" + Wire.redacted(k256Key) + "]";
    }
}
