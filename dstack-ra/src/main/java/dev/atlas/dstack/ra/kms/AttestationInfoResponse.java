package dev.atlas.dstack.ra.kms;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcJson;
import java.util.Objects;

/**
 * {@code Onboard.GetAttestationInfo} response ({@code AttestationInfoResponse}): what an operator allowlists for a
 * KMS. {@code device_id} (SHA-256 of the PPID), {@code mr_aggregated} and {@code os_image_hash} are empty or
 * 32 bytes (checked by the parser); {@code ppid} at most {@link #MAX_PPID_BYTES}.
 */
public record AttestationInfoResponse(byte[] deviceId, byte[] mrAggregated, byte[] osImageHash, String teeVariant,
        String siteName, String ethRpcUrl, String kmsContractAddress, byte[] ppid) {
    public static final int HASH_BYTES = 32;
    public static final int MAX_PPID_BYTES = 256;

    public AttestationInfoResponse {
        deviceId = Wire.copy(deviceId, "deviceId");
        mrAggregated = Wire.copy(mrAggregated, "mrAggregated");
        osImageHash = Wire.copy(osImageHash, "osImageHash");
        Objects.requireNonNull(teeVariant, "teeVariant");
        Objects.requireNonNull(siteName, "siteName");
        Objects.requireNonNull(ethRpcUrl, "ethRpcUrl");
        Objects.requireNonNull(kmsContractAddress, "kmsContractAddress");
        ppid = Wire.copy(ppid, "ppid");
        Wire.requireEmptyOr(deviceId, "device_id", HASH_BYTES);
        Wire.requireEmptyOr(mrAggregated, "mr_aggregated", HASH_BYTES);
        Wire.requireEmptyOr(osImageHash, "os_image_hash", HASH_BYTES);
        if (ppid.length > MAX_PPID_BYTES) {
            throw new IllegalArgumentException("ppid: at most " + MAX_PPID_BYTES + " bytes, got " + ppid.length);
        }
    }

    @Override
    public byte[] deviceId() {
        return deviceId.clone();
    }

    @Override
    public byte[] mrAggregated() {
        return mrAggregated.clone();
    }

    @Override
    public byte[] osImageHash() {
        return osImageHash.clone();
    }

    @Override
    public byte[] ppid() {
        return ppid.clone();
    }

    public static AttestationInfoResponse fromJson(JsonNode n) throws PrpcException {
        JsonNode m = Wire.message(n, "AttestationInfoResponse");
        byte[] ppid = PrpcJson.bytes(m, "ppid");
        if (ppid.length > MAX_PPID_BYTES) {
            throw new PrpcException("field `ppid`: at most " + MAX_PPID_BYTES + " bytes, got " + ppid.length);
        }
        return new AttestationInfoResponse(Wire.bytesEmptyOr(m, "device_id", HASH_BYTES),
                Wire.bytesEmptyOr(m, "mr_aggregated", HASH_BYTES), Wire.bytesEmptyOr(m, "os_image_hash", HASH_BYTES),
                PrpcJson.string(m, "tee_variant"), PrpcJson.string(m, "site_name"), PrpcJson.string(m, "eth_rpc_url"),
                PrpcJson.string(m, "kms_contract_address"), ppid);
    }

    public ObjectNode toJson() {
        ObjectNode o = Wire.object();
        o.put("device_id", Wire.hex(deviceId));
        o.put("mr_aggregated", Wire.hex(mrAggregated));
        o.put("os_image_hash", Wire.hex(osImageHash));
        o.put("tee_variant", teeVariant);
        o.put("site_name", siteName);
        o.put("eth_rpc_url", ethRpcUrl);
        o.put("kms_contract_address", kmsContractAddress);
        o.put("ppid", Wire.hex(ppid));
        return o;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof AttestationInfoResponse r && Wire.eq(deviceId, r.deviceId)
                && Wire.eq(mrAggregated, r.mrAggregated) && Wire.eq(osImageHash, r.osImageHash)
                && teeVariant.equals(r.teeVariant) && siteName.equals(r.siteName) && ethRpcUrl.equals(r.ethRpcUrl)
                && kmsContractAddress.equals(r.kmsContractAddress) && Wire.eq(ppid, r.ppid);
    }

    @Override
    public int hashCode() {
        return Objects.hash(Wire.hash(deviceId), Wire.hash(mrAggregated), Wire.hash(osImageHash), teeVariant, siteName,
                ethRpcUrl, kmsContractAddress, Wire.hash(ppid));
    }

    @Override
    public String toString() {
        return "AttestationInfoResponse[deviceId=" + Wire.hex(deviceId) + ", mrAggregated=" + Wire.hex(mrAggregated)
                + ", osImageHash=" + Wire.hex(osImageHash) + ", teeVariant=" + teeVariant + ", siteName=" + siteName
                + ", ethRpcUrl=" + ethRpcUrl + ", kmsContractAddress=" + kmsContractAddress + ", ppid="
                + Wire.hex(ppid) + "]";
    }
}
