package dev.atlas.dstack.ra.kms;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcJson;
import java.util.Objects;

/**
 * {@code KMS.GetAppEnvEncryptPubKey} response ({@code PublicKeyResponse}): the app's X25519 env public key
 * (32 bytes), the legacy signature (65 bytes), the Unix-seconds {@code timestamp} (uint64, carried as an unsigned
 * {@code long}) and the timestamped {@code signature_v1} (65 bytes, or empty from a KMS that predates it). Lengths
 * are checked by the parser; whether the signatures recover to the KMS key and the timestamp is fresh is the
 * caller's check ({@code KmsSignatures}).
 */
public record PublicKeyResponse(byte[] publicKey, byte[] signature, long timestamp, byte[] signatureV1) {
    public static final int PUBLIC_KEY_BYTES = 32;
    public static final int SIGNATURE_BYTES = 65;

    public PublicKeyResponse {
        publicKey = Wire.copy(publicKey, "publicKey");
        signature = Wire.copy(signature, "signature");
        signatureV1 = Wire.copy(signatureV1, "signatureV1");
        Wire.requireLength(publicKey, "public_key", PUBLIC_KEY_BYTES);
        Wire.requireLength(signature, "signature", SIGNATURE_BYTES);
        Wire.requireEmptyOr(signatureV1, "signature_v1", SIGNATURE_BYTES);
    }

    @Override
    public byte[] publicKey() {
        return publicKey.clone();
    }

    @Override
    public byte[] signature() {
        return signature.clone();
    }

    @Override
    public byte[] signatureV1() {
        return signatureV1.clone();
    }

    public static PublicKeyResponse fromJson(JsonNode n) throws PrpcException {
        JsonNode m = Wire.message(n, "PublicKeyResponse");
        return new PublicKeyResponse(PrpcJson.bytes(m, "public_key", PUBLIC_KEY_BYTES),
                PrpcJson.bytes(m, "signature", SIGNATURE_BYTES), PrpcJson.uint64(m, "timestamp"),
                Wire.bytesEmptyOr(m, "signature_v1", SIGNATURE_BYTES));
    }

    public ObjectNode toJson() {
        ObjectNode o = Wire.object();
        o.put("public_key", Wire.hex(publicKey));
        o.put("signature", Wire.hex(signature));
        Wire.putU64(o, "timestamp", timestamp);
        o.put("signature_v1", Wire.hex(signatureV1));
        return o;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PublicKeyResponse r && Wire.eq(publicKey, r.publicKey) && Wire.eq(signature, r.signature)
                && timestamp == r.timestamp && Wire.eq(signatureV1, r.signatureV1);
    }

    @Override
    public int hashCode() {
        return Objects.hash(Wire.hash(publicKey), Wire.hash(signature), timestamp, Wire.hash(signatureV1));
    }

    @Override
    public String toString() {
        return "PublicKeyResponse[publicKey=" + Wire.hex(publicKey) + ", signature=" + Wire.hex(signature)
                + ", timestamp=" + Long.toUnsignedString(timestamp) + ", signatureV1=" + Wire.hex(signatureV1) + "]";
    }
}
