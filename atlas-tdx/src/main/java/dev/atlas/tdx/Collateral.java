package dev.atlas.tdx;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.tdx.AttestationException.Reason;
import dev.atlas.tdx.internal.Hex;
import dev.atlas.tdx.internal.Json;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * Quote collateral in dcap-qvl's {@code QuoteCollateralV3} shape: CRLs, issuer chains, and the signed TCB
 * info and QE identity texts with their signatures.
 *
 * <p>{@link #tcbInfo()} and {@link #qeIdentity()} are kept exactly as received: their signatures are
 * checked over these strings' UTF-8 bytes and they are never re-serialized. Immutable and thread-safe;
 * parsed forms of its parts are computed once on first use.
 */
public final class Collateral {
    /** Largest collateral JSON document accepted, in characters. */
    public static final int MAX_JSON_CHARS = 8 << 20;

    private final String pckCrlIssuerChain;
    private final byte[] rootCaCrl;
    private final byte[] pckCrl;
    private final String tcbInfoIssuerChain;
    private final String tcbInfo;
    private final byte[] tcbInfoSignature;
    private final String qeIdentityIssuerChain;
    private final String qeIdentity;
    private final byte[] qeIdentitySignature;
    private final String pckCertificateChain;

    /** Parsed parts, memoized (pure functions of the fields above). */
    final CollateralParts parts;

    private Collateral(Builder b) {
        this.pckCrlIssuerChain = Objects.requireNonNull(b.pckCrlIssuerChain, "pckCrlIssuerChain");
        this.rootCaCrl = Objects.requireNonNull(b.rootCaCrl, "rootCaCrl").clone();
        this.pckCrl = Objects.requireNonNull(b.pckCrl, "pckCrl").clone();
        this.tcbInfoIssuerChain = Objects.requireNonNull(b.tcbInfoIssuerChain, "tcbInfoIssuerChain");
        this.tcbInfo = Objects.requireNonNull(b.tcbInfo, "tcbInfo");
        this.tcbInfoSignature = Objects.requireNonNull(b.tcbInfoSignature, "tcbInfoSignature").clone();
        this.qeIdentityIssuerChain = Objects.requireNonNull(b.qeIdentityIssuerChain, "qeIdentityIssuerChain");
        this.qeIdentity = Objects.requireNonNull(b.qeIdentity, "qeIdentity");
        this.qeIdentitySignature = Objects.requireNonNull(b.qeIdentitySignature, "qeIdentitySignature").clone();
        this.pckCertificateChain = b.pckCertificateChain;
        this.parts = new CollateralParts(this);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder initialised with this collateral's values (for deriving a changed copy). */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.pckCrlIssuerChain = pckCrlIssuerChain;
        b.rootCaCrl = rootCaCrl;
        b.pckCrl = pckCrl;
        b.tcbInfoIssuerChain = tcbInfoIssuerChain;
        b.tcbInfo = tcbInfo;
        b.tcbInfoSignature = tcbInfoSignature;
        b.qeIdentityIssuerChain = qeIdentityIssuerChain;
        b.qeIdentity = qeIdentity;
        b.qeIdentitySignature = qeIdentitySignature;
        b.pckCertificateChain = pckCertificateChain;
        return b;
    }

    /**
     * Reads the {@code QuoteCollateralV3} JSON written by dcap-qvl: byte fields as hex strings (any case)
     * or arrays of numbers; unknown keys ignored; every key but {@code pck_certificate_chain} required.
     *
     * @throws AttestationException {@link Reason#MALFORMED_COLLATERAL}
     */
    public static Collateral fromJson(String json) throws AttestationException {
        try {
            JsonNode root = Json.object(Json.parse(json, MAX_JSON_CHARS), "collateral");
            String p = "collateral";
            Builder b = builder()
                    .pckCrlIssuerChain(Json.string(root, "pck_crl_issuer_chain", p))
                    .rootCaCrl(bytes(root, "root_ca_crl"))
                    .pckCrl(bytes(root, "pck_crl"))
                    .tcbInfoIssuerChain(Json.string(root, "tcb_info_issuer_chain", p))
                    .tcbInfo(Json.string(root, "tcb_info", p))
                    .tcbInfoSignature(bytes(root, "tcb_info_signature"))
                    .qeIdentityIssuerChain(Json.string(root, "qe_identity_issuer_chain", p))
                    .qeIdentity(Json.string(root, "qe_identity", p))
                    .qeIdentitySignature(bytes(root, "qe_identity_signature"));
            JsonNode chain = root.get("pck_certificate_chain");
            if (chain != null && !chain.isNull()) {
                if (!chain.isTextual()) {
                    throw new IllegalArgumentException("collateral.pck_certificate_chain: expected a string or null");
                }
                b.pckCertificateChain(chain.textValue());
            }
            return b.build();
        } catch (IllegalArgumentException e) {
            throw new AttestationException(Reason.MALFORMED_COLLATERAL, "Failed to read collateral JSON: "
                    + e.getMessage(), e);
        }
    }

    /** Reads collateral JSON from UTF-8 bytes. */
    public static Collateral fromJson(byte[] json) throws AttestationException {
        return fromJson(new String(json, StandardCharsets.UTF_8));
    }

    private static byte[] bytes(JsonNode root, String field) {
        JsonNode v = Json.required(root, field, "collateral");
        if (v.isTextual()) {
            try {
                return Hex.decode(v.textValue());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("collateral." + field + ": " + e.getMessage(), e);
            }
        }
        if (v.isArray()) {
            byte[] out = new byte[v.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = (byte) Json.integerValue(v.get(i), 0, 255, "collateral." + field + "[" + i + "]");
            }
            return out;
        }
        throw new IllegalArgumentException("collateral." + field + ": expected a hex string or an array of bytes");
    }

    /** Writes the {@code QuoteCollateralV3} JSON (compact, byte fields as lowercase hex). */
    public String toJson() {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("pck_crl_issuer_chain", pckCrlIssuerChain);
        o.put("root_ca_crl", Hex.encode(rootCaCrl));
        o.put("pck_crl", Hex.encode(pckCrl));
        o.put("tcb_info_issuer_chain", tcbInfoIssuerChain);
        o.put("tcb_info", tcbInfo);
        o.put("tcb_info_signature", Hex.encode(tcbInfoSignature));
        o.put("qe_identity_issuer_chain", qeIdentityIssuerChain);
        o.put("qe_identity", qeIdentity);
        o.put("qe_identity_signature", Hex.encode(qeIdentitySignature));
        if (pckCertificateChain != null) {
            o.put("pck_certificate_chain", pckCertificateChain);
        }
        try {
            return Json.MAPPER.writeValueAsString(o);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    public String pckCrlIssuerChain() {
        return pckCrlIssuerChain;
    }

    /** DER of the Intel SGX Root CA CRL (a copy). */
    public byte[] rootCaCrl() {
        return rootCaCrl.clone();
    }

    /** DER of the PCK (Platform or Processor) CA CRL (a copy). */
    public byte[] pckCrl() {
        return pckCrl.clone();
    }

    public String tcbInfoIssuerChain() {
        return tcbInfoIssuerChain;
    }

    /** The exact signed text of the {@code tcbInfo} object. */
    public String tcbInfo() {
        return tcbInfo;
    }

    public byte[] tcbInfoSignature() {
        return tcbInfoSignature.clone();
    }

    public String qeIdentityIssuerChain() {
        return qeIdentityIssuerChain;
    }

    /** The exact signed text of the {@code enclaveIdentity} object. */
    public String qeIdentity() {
        return qeIdentity;
    }

    public byte[] qeIdentitySignature() {
        return qeIdentitySignature.clone();
    }

    /** The PCK chain that replaces the quote's, or null. */
    public String pckCertificateChain() {
        return pckCertificateChain;
    }

    byte[] rootCaCrlUnsafe() {
        return rootCaCrl;
    }

    byte[] pckCrlUnsafe() {
        return pckCrl;
    }

    byte[] tcbInfoSignatureUnsafe() {
        return tcbInfoSignature;
    }

    byte[] qeIdentitySignatureUnsafe() {
        return qeIdentitySignature;
    }

    @Override
    public String toString() {
        return "Collateral{tcbInfo " + tcbInfo.length() + " chars, qeIdentity " + qeIdentity.length()
                + " chars, pckCrl " + pckCrl.length + " bytes}";
    }

    /** Validating builder; every field but {@code pckCertificateChain} is required. */
    public static final class Builder {
        private String pckCrlIssuerChain;
        private byte[] rootCaCrl;
        private byte[] pckCrl;
        private String tcbInfoIssuerChain;
        private String tcbInfo;
        private byte[] tcbInfoSignature;
        private String qeIdentityIssuerChain;
        private String qeIdentity;
        private byte[] qeIdentitySignature;
        private String pckCertificateChain;

        private Builder() {}

        public Builder pckCrlIssuerChain(String v) {
            this.pckCrlIssuerChain = Objects.requireNonNull(v);
            return this;
        }

        public Builder rootCaCrl(byte[] der) {
            this.rootCaCrl = der.clone();
            return this;
        }

        public Builder pckCrl(byte[] der) {
            this.pckCrl = der.clone();
            return this;
        }

        public Builder tcbInfoIssuerChain(String v) {
            this.tcbInfoIssuerChain = Objects.requireNonNull(v);
            return this;
        }

        public Builder tcbInfo(String v) {
            this.tcbInfo = Objects.requireNonNull(v);
            return this;
        }

        public Builder tcbInfoSignature(byte[] v) {
            this.tcbInfoSignature = v.clone();
            return this;
        }

        public Builder qeIdentityIssuerChain(String v) {
            this.qeIdentityIssuerChain = Objects.requireNonNull(v);
            return this;
        }

        public Builder qeIdentity(String v) {
            this.qeIdentity = Objects.requireNonNull(v);
            return this;
        }

        public Builder qeIdentitySignature(byte[] v) {
            this.qeIdentitySignature = v.clone();
            return this;
        }

        /** Optional; null removes it. */
        public Builder pckCertificateChain(String v) {
            this.pckCertificateChain = v;
            return this;
        }

        /** @throws NullPointerException naming the first required field that is missing */
        public Collateral build() {
            return new Collateral(this);
        }
    }
}
