package dev.atlas.dstack.ra.kms;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcJson;
import java.util.Objects;

/**
 * {@code KMS.SignCert} request ({@code SignCertRequest{uint32 api_version; bytes csr; bytes signature;
 * string vm_config}}). {@code csr} is the SCALE-encoded CSR (V2 for {@code api_version = 2}, §2.11) and
 * {@code signature} the DER ECDSA signature over it; decoding and checking them is the KMS's job
 * ({@code CertSigningRequest}). The parser only bounds sizes: {@code csr} at most {@link #MAX_CSR_BYTES} (a CSR
 * holds an attestation of up to 10 MiB), {@code signature} at most {@link #MAX_SIGNATURE_BYTES}.
 */
public record SignCertRequest(int apiVersion, byte[] csr, byte[] signature, String vmConfig) {
    public static final int MAX_CSR_BYTES = (10 << 20) + (64 << 10);
    public static final int MAX_SIGNATURE_BYTES = 128;

    public SignCertRequest {
        if (apiVersion < 0) {
            throw new IllegalArgumentException("api_version must not be negative, got " + apiVersion);
        }
        csr = Wire.copy(csr, "csr");
        signature = Wire.copy(signature, "signature");
        Objects.requireNonNull(vmConfig, "vmConfig");
        if (csr.length > MAX_CSR_BYTES) {
            throw new IllegalArgumentException("csr: at most " + MAX_CSR_BYTES + " bytes, got " + csr.length);
        }
        if (signature.length > MAX_SIGNATURE_BYTES) {
            throw new IllegalArgumentException("signature: at most " + MAX_SIGNATURE_BYTES + " bytes, got "
                    + signature.length);
        }
    }

    @Override
    public byte[] csr() {
        return csr.clone();
    }

    @Override
    public byte[] signature() {
        return signature.clone();
    }

    public static SignCertRequest fromJson(JsonNode n) throws PrpcException {
        JsonNode m = Wire.message(n, "SignCertRequest");
        int v = Wire.uint32AsInt(m, "api_version");
        byte[] csr = PrpcJson.bytes(m, "csr");
        if (csr.length > MAX_CSR_BYTES) {
            throw new PrpcException("field `csr`: at most " + MAX_CSR_BYTES + " bytes, got " + csr.length);
        }
        byte[] sig = PrpcJson.bytes(m, "signature");
        if (sig.length > MAX_SIGNATURE_BYTES) {
            throw new PrpcException("field `signature`: at most " + MAX_SIGNATURE_BYTES + " bytes, got "
                    + sig.length);
        }
        return new SignCertRequest(v, csr, sig, PrpcJson.string(m, "vm_config"));
    }

    public ObjectNode toJson() {
        ObjectNode o = Wire.object();
        o.put("api_version", apiVersion);
        o.put("csr", Wire.hex(csr));
        o.put("signature", Wire.hex(signature));
        o.put("vm_config", vmConfig);
        return o;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SignCertRequest r && apiVersion == r.apiVersion && Wire.eq(csr, r.csr)
                && Wire.eq(signature, r.signature) && vmConfig.equals(r.vmConfig);
    }

    @Override
    public int hashCode() {
        return Objects.hash(apiVersion, Wire.hash(csr), Wire.hash(signature), vmConfig);
    }

    @Override
    public String toString() {
        return "SignCertRequest[apiVersion=" + apiVersion + ", csr=" + csr.length + " bytes, signature="
                + signature.length + " bytes, vmConfig=" + vmConfig.length() + " chars]";
    }
}
