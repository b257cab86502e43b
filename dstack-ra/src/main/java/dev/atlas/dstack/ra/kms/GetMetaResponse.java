package dev.atlas.dstack.ra.kms;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcJson;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * {@code KMS.GetMeta} response ({@code GetMetaResponse}). {@code k256_pubkey} is the 33-byte compressed root key
 * (checked by the parser); {@code bootstrap_info} is present when the KMS has {@code bootstrap-info.json}; the
 * {@code optional} proto fields are {@link Optional}s ({@code chain_id} an unsigned {@code long}). {@link #toJson()}
 * writes an absent optional as JSON {@code null}, as serde does for {@code Option::None}; the parser reads a missing
 * field and {@code null} alike.
 */
public record GetMetaResponse(String caCert, boolean allowAnyUpgrade, byte[] k256Pubkey,
        Optional<BootstrapResponse> bootstrapInfo, boolean isDev, Optional<String> gatewayAppId,
        Optional<String> kmsContractAddress, OptionalLong chainId, Optional<String> appAuthImplementation) {
    public static final int K256_PUBKEY_BYTES = 33;

    public GetMetaResponse {
        Objects.requireNonNull(caCert, "caCert");
        k256Pubkey = Wire.copy(k256Pubkey, "k256Pubkey");
        Wire.requireLength(k256Pubkey, "k256_pubkey", K256_PUBKEY_BYTES);
        Objects.requireNonNull(bootstrapInfo, "bootstrapInfo");
        Objects.requireNonNull(gatewayAppId, "gatewayAppId");
        Objects.requireNonNull(kmsContractAddress, "kmsContractAddress");
        Objects.requireNonNull(chainId, "chainId");
        Objects.requireNonNull(appAuthImplementation, "appAuthImplementation");
    }

    @Override
    public byte[] k256Pubkey() {
        return k256Pubkey.clone();
    }

    public static GetMetaResponse fromJson(JsonNode n) throws PrpcException {
        JsonNode m = Wire.message(n, "GetMetaResponse");
        Optional<BootstrapResponse> bootstrap = Optional.empty();
        if (PrpcJson.has(m, "bootstrap_info")) {
            try {
                bootstrap = Optional.of(BootstrapResponse.fromJson(PrpcJson.message(m, "bootstrap_info")));
            } catch (PrpcException e) {
                throw new PrpcException("field `bootstrap_info`: " + e.getMessage());
            }
        }
        OptionalLong chain = PrpcJson.has(m, "chain_id") ? OptionalLong.of(PrpcJson.uint64(m, "chain_id"))
                : OptionalLong.empty();
        return new GetMetaResponse(PrpcJson.string(m, "ca_cert"), PrpcJson.bool(m, "allow_any_upgrade"),
                PrpcJson.bytes(m, "k256_pubkey", K256_PUBKEY_BYTES), bootstrap, PrpcJson.bool(m, "is_dev"),
                PrpcJson.optionalString(m, "gateway_app_id"), PrpcJson.optionalString(m, "kms_contract_address"),
                chain, PrpcJson.optionalString(m, "app_auth_implementation"));
    }

    public ObjectNode toJson() {
        ObjectNode o = Wire.object();
        o.put("ca_cert", caCert);
        o.put("allow_any_upgrade", allowAnyUpgrade);
        o.put("k256_pubkey", Wire.hex(k256Pubkey));
        if (bootstrapInfo.isPresent()) {
            o.set("bootstrap_info", bootstrapInfo.get().toJson());
        } else {
            o.putNull("bootstrap_info");
        }
        o.put("is_dev", isDev);
        putOptional(o, "gateway_app_id", gatewayAppId);
        putOptional(o, "kms_contract_address", kmsContractAddress);
        if (chainId.isPresent()) {
            Wire.putU64(o, "chain_id", chainId.getAsLong());
        } else {
            o.putNull("chain_id");
        }
        putOptional(o, "app_auth_implementation", appAuthImplementation);
        return o;
    }

    private static void putOptional(ObjectNode o, String field, Optional<String> v) {
        if (v.isPresent()) {
            o.put(field, v.get());
        } else {
            o.putNull(field);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GetMetaResponse r && caCert.equals(r.caCert) && allowAnyUpgrade == r.allowAnyUpgrade
                && Wire.eq(k256Pubkey, r.k256Pubkey) && bootstrapInfo.equals(r.bootstrapInfo) && isDev == r.isDev
                && gatewayAppId.equals(r.gatewayAppId) && kmsContractAddress.equals(r.kmsContractAddress)
                && chainId.equals(r.chainId) && appAuthImplementation.equals(r.appAuthImplementation);
    }

    @Override
    public int hashCode() {
        return Objects.hash(caCert, allowAnyUpgrade, Wire.hash(k256Pubkey), bootstrapInfo, isDev, gatewayAppId,
                kmsContractAddress, chainId, appAuthImplementation);
    }

    @Override
    public String toString() {
        return "GetMetaResponse[caCert=" + caCert.length() + " chars, allowAnyUpgrade=" + allowAnyUpgrade
                + ", k256Pubkey=" + Wire.hex(k256Pubkey) + ", bootstrapInfo=" + bootstrapInfo + ", isDev=" + isDev
                + ", gatewayAppId=" + gatewayAppId + ", kmsContractAddress=" + kmsContractAddress + ", chainId="
                + chainId + ", appAuthImplementation=" + appAuthImplementation + "]";
    }
}
