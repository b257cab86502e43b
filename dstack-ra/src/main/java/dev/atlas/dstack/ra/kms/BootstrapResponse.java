package dev.atlas.dstack.ra.kms;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcJson;
import java.util.Objects;

/**
 * {@code Onboard.Bootstrap} response and {@code bootstrap-info.json} ({@code BootstrapResponse{bytes ca_pubkey;
 * bytes k256_pubkey; bytes attestation}}): the root CA key's DER SPKI, the 33-byte compressed k256 root public key
 * (length checked by the parser) and the VersionedAttestation over them (§2.9 step 5; decoded by the reader, at
 * most {@link #MAX_ATTESTATION_BYTES}).
 */
public record BootstrapResponse(byte[] caPubkey, byte[] k256Pubkey, byte[] attestation) {
    public static final int K256_PUBKEY_BYTES = 33;
    /** dstack's VersionedAttestation limit (10 MiB). */
    public static final int MAX_ATTESTATION_BYTES = 10 << 20;
    /** Parser limit on the CA SPKI. */
    public static final int MAX_SPKI_BYTES = 1024;

    public BootstrapResponse {
        caPubkey = Wire.copy(caPubkey, "caPubkey");
        k256Pubkey = Wire.copy(k256Pubkey, "k256Pubkey");
        attestation = Wire.copy(attestation, "attestation");
        Wire.requireLength(k256Pubkey, "k256_pubkey", K256_PUBKEY_BYTES);
        if (caPubkey.length > MAX_SPKI_BYTES) {
            throw new IllegalArgumentException("ca_pubkey: at most " + MAX_SPKI_BYTES + " bytes, got "
                    + caPubkey.length);
        }
        if (attestation.length > MAX_ATTESTATION_BYTES) {
            throw new IllegalArgumentException("attestation: at most " + MAX_ATTESTATION_BYTES + " bytes");
        }
    }

    @Override
    public byte[] caPubkey() {
        return caPubkey.clone();
    }

    @Override
    public byte[] k256Pubkey() {
        return k256Pubkey.clone();
    }

    @Override
    public byte[] attestation() {
        return attestation.clone();
    }

    public static BootstrapResponse fromJson(JsonNode n) throws PrpcException {
        JsonNode m = Wire.message(n, "BootstrapResponse");
        byte[] ca = PrpcJson.bytes(m, "ca_pubkey");
        if (ca.length > MAX_SPKI_BYTES) {
            throw new PrpcException("field `ca_pubkey`: at most " + MAX_SPKI_BYTES + " bytes, got " + ca.length);
        }
        byte[] att = PrpcJson.bytes(m, "attestation");
        if (att.length > MAX_ATTESTATION_BYTES) {
            throw new PrpcException("field `attestation`: at most " + MAX_ATTESTATION_BYTES + " bytes, got "
                    + att.length);
        }
        return new BootstrapResponse(ca, PrpcJson.bytes(m, "k256_pubkey", K256_PUBKEY_BYTES), att);
    }

    public ObjectNode toJson() {
        ObjectNode o = Wire.object();
        o.put("ca_pubkey", Wire.hex(caPubkey));
        o.put("k256_pubkey", Wire.hex(k256Pubkey));
        o.put("attestation", Wire.hex(attestation));
        return o;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BootstrapResponse r && Wire.eq(caPubkey, r.caPubkey) && Wire.eq(k256Pubkey, r.k256Pubkey)
                && Wire.eq(attestation, r.attestation);
    }

    @Override
    public int hashCode() {
        return Objects.hash(Wire.hash(caPubkey), Wire.hash(k256Pubkey), Wire.hash(attestation));
    }

    @Override
    public String toString() {
        return "BootstrapResponse[caPubkey=" + Wire.hex(caPubkey) + ", k256Pubkey=" + Wire.hex(k256Pubkey)
                + ", attestation=" + attestation.length + " bytes]";
    }
}
