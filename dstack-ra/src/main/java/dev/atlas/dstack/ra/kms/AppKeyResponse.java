package dev.atlas.dstack.ra.kms;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcJson;
import java.util.Objects;

/**
 * {@code KMS.GetAppKey} response ({@code AppKeyResponse}): the keys the KMS releases to a booting app.
 *
 * <p>Fixed lengths (§2.4), checked by the parser and the constructor: {@code disk_crypt_key}, {@code env_crypt_key}
 * (X25519 secret) and {@code k256_key} (secp256k1 scalar) 32 bytes each, {@code k256_signature} 65 bytes
 * ({@code r‖s‖recid}), {@code os_image_hash} empty or 32 bytes. {@code ca_cert} is the KMS root CA certificate (PEM).
 * {@code tproxy_app_id} is the deprecated copy of {@code gateway_app_id}. Whether the signature really recovers to
 * the KMS root key is the caller's check ({@code KmsSignatures}), not the parser's.
 *
 * <p>The three keys are secret: {@link #toString()} redacts them.
 */
public record AppKeyResponse(String caCert, byte[] diskCryptKey, byte[] envCryptKey, byte[] k256Key,
        byte[] k256Signature, String tproxyAppId, String gatewayAppId, byte[] osImageHash) {
    public static final int KEY_BYTES = 32;
    public static final int SIGNATURE_BYTES = 65;
    public static final int OS_IMAGE_HASH_BYTES = 32;

    public AppKeyResponse {
        Objects.requireNonNull(caCert, "caCert");
        diskCryptKey = Wire.copy(diskCryptKey, "diskCryptKey");
        envCryptKey = Wire.copy(envCryptKey, "envCryptKey");
        k256Key = Wire.copy(k256Key, "k256Key");
        k256Signature = Wire.copy(k256Signature, "k256Signature");
        Objects.requireNonNull(tproxyAppId, "tproxyAppId");
        Objects.requireNonNull(gatewayAppId, "gatewayAppId");
        osImageHash = Wire.copy(osImageHash, "osImageHash");
        Wire.requireLength(diskCryptKey, "disk_crypt_key", KEY_BYTES);
        Wire.requireLength(envCryptKey, "env_crypt_key", KEY_BYTES);
        Wire.requireLength(k256Key, "k256_key", KEY_BYTES);
        Wire.requireLength(k256Signature, "k256_signature", SIGNATURE_BYTES);
        Wire.requireEmptyOr(osImageHash, "os_image_hash", OS_IMAGE_HASH_BYTES);
    }

    @Override
    public byte[] diskCryptKey() {
        return diskCryptKey.clone();
    }

    @Override
    public byte[] envCryptKey() {
        return envCryptKey.clone();
    }

    @Override
    public byte[] k256Key() {
        return k256Key.clone();
    }

    @Override
    public byte[] k256Signature() {
        return k256Signature.clone();
    }

    @Override
    public byte[] osImageHash() {
        return osImageHash.clone();
    }

    public static AppKeyResponse fromJson(JsonNode n) throws PrpcException {
        JsonNode m = Wire.message(n, "AppKeyResponse");
        return new AppKeyResponse(PrpcJson.string(m, "ca_cert"),
                PrpcJson.bytes(m, "disk_crypt_key", KEY_BYTES),
                PrpcJson.bytes(m, "env_crypt_key", KEY_BYTES),
                PrpcJson.bytes(m, "k256_key", KEY_BYTES),
                PrpcJson.bytes(m, "k256_signature", SIGNATURE_BYTES),
                PrpcJson.string(m, "tproxy_app_id"),
                PrpcJson.string(m, "gateway_app_id"),
                Wire.bytesEmptyOr(m, "os_image_hash", OS_IMAGE_HASH_BYTES));
    }

    public ObjectNode toJson() {
        ObjectNode o = Wire.object();
        o.put("ca_cert", caCert);
        o.put("disk_crypt_key", Wire.hex(diskCryptKey));
        o.put("env_crypt_key", Wire.hex(envCryptKey));
        o.put("k256_key", Wire.hex(k256Key));
        o.put("k256_signature", Wire.hex(k256Signature));
        o.put("tproxy_app_id", tproxyAppId);
        o.put("gateway_app_id", gatewayAppId);
        o.put("os_image_hash", Wire.hex(osImageHash));
        return o;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof AppKeyResponse r && caCert.equals(r.caCert) && Wire.eq(diskCryptKey, r.diskCryptKey)
                && Wire.eq(envCryptKey, r.envCryptKey) && Wire.eq(k256Key, r.k256Key)
                && Wire.eq(k256Signature, r.k256Signature) && tproxyAppId.equals(r.tproxyAppId)
                && gatewayAppId.equals(r.gatewayAppId) && Wire.eq(osImageHash, r.osImageHash);
    }

    @Override
    public int hashCode() {
        return Objects.hash(caCert, Wire.hash(diskCryptKey), Wire.hash(envCryptKey), Wire.hash(k256Key),
                Wire.hash(k256Signature), tproxyAppId, gatewayAppId, Wire.hash(osImageHash));
    }

    @Override
    public String toString() {
        return "AppKeyResponse[caCert=" + caCert.length() + " chars, diskCryptKey=" + Wire.redacted(diskCryptKey)
                + ", envCryptKey=" + Wire.redacted(envCryptKey) + ", k256Key=" + Wire.redacted(k256Key)
                + ", k256Signature=" + Wire.hex(k256Signature) + ", tproxyAppId=" + tproxyAppId + ", gatewayAppId="
                + gatewayAppId + ", osImageHash=" + Wire.hex(osImageHash) + "]";
    }
}
