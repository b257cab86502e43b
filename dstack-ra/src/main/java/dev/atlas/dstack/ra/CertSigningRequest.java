package dev.atlas.dstack.ra;

import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.internal.Bytes;
import dev.atlas.dstack.ra.internal.ScaleReader;
import dev.atlas.dstack.ra.internal.ScaleWriter;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.interfaces.ECPrivateKey;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * A {@code KMS.SignCert} certificate signing request: dstack's {@code CertSigningRequestV2}
 * ({@code ra-tls/src/cert.rs}, {@code cert-client/src/lib.rs}; spec §2.11), not a PKCS#10 CSR.
 *
 * <p>Wire form (SCALE, fields in order): {@code confirm: String} (always {@value #CONFIRM}), {@code pubkey:
 * Vec<u8>} (DER SubjectPublicKeyInfo of a P-256 key), {@code config: CertConfigV2} ({@link CertConfig}), then the
 * attestation: the raw {@link VersionedAttestation} bytes <em>without</em> a length prefix, consuming the rest of
 * the input. {@code api_version = 1} requests ({@code CertSigningRequestV1}: the config without
 * {@code ext_app_info} and validity, then {@code quote: Vec<u8>} and {@code event_log: Vec<u8>} as JSON) are
 * decoded and upgraded to version 2 as dstack's KMS does ({@code Attestation::from_tdx_quote}).
 *
 * <p>The signature is ECDSA P-256/SHA-256, ASN.1 DER, by the CSR key over the exact CSR bytes: for a version 2
 * request {@link #encode()}, for a decoded version 1 request the version 1 bytes it was decoded from.
 * Immutable; the attestation bytes are copied in and out.
 */
public final class CertSigningRequest {
    /** The confirm string every request starts with. */
    public static final String CONFIRM = "please sign cert:";
    /** Largest CSR accepted: the attestation limit plus 1 MiB for the rest. */
    public static final int MAX_BYTES = VersionedAttestation.MAX_BYTES + (1 << 20);
    /** Most subject alternative names accepted (ours). */
    public static final int MAX_ALT_NAMES = 256;
    /** Longest subject, organization or alternative name accepted, in UTF-8 bytes (ours). */
    public static final int MAX_NAME_BYTES = 1024;

    private final byte[] spki;
    private final PublicKey publicKey;
    private final CertConfig config;
    private final byte[] attestation;
    private final int apiVersion;
    private final byte[] signedBytes;

    private CertSigningRequest(byte[] spki, PublicKey publicKey, CertConfig config, byte[] attestation,
            int apiVersion, byte[] signedBytes) {
        this.spki = spki;
        this.publicKey = publicKey;
        this.config = config;
        this.attestation = attestation;
        this.apiVersion = apiVersion;
        this.signedBytes = signedBytes != null ? signedBytes : encodeV2(spki, config, attestation);
    }

    /**
     * A version 2 request for {@code p256} with {@code config} and the raw {@link VersionedAttestation} bytes
     * (V0 SCALE or V1 msgpack, usually over {@link RaTlsCertificate#reportData(PublicKey)} of this key).
     *
     * @throws IllegalArgumentException when the key is not P-256, a name is too long, or {@code attestation}
     *     is not a well-formed {@link VersionedAttestation}
     */
    public static CertSigningRequest create(PublicKey p256, CertConfig config, byte[] attestation) {
        Objects.requireNonNull(p256, "p256");
        Objects.requireNonNull(config, "config");
        byte[] spki = p256.getEncoded();
        PublicKey key;
        try {
            key = P256Keys.publicKeyFromSpki(spki, "pubkey");
            checkNames(config);
            VersionedAttestation.decode(attestation);
        } catch (RaException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
        return new CertSigningRequest(spki, key, config, attestation.clone(), 2, null);
    }

    /** The SCALE {@code CertSigningRequestV2} bytes: what is sent as {@code csr} and what is signed. */
    public byte[] encode() {
        return encodeV2(spki, config, attestation);
    }

    private static byte[] encodeV2(byte[] spki, CertConfig c, byte[] attestation) {
        ScaleWriter w = new ScaleWriter().string(CONFIRM).bytes(spki);
        w.u8(c.orgName().isPresent() ? 1 : 0);
        c.orgName().ifPresent(w::string);
        w.string(c.subject());
        w.compact(c.subjectAltNames().size());
        for (String n : c.subjectAltNames()) {
            w.string(n);
        }
        w.bool(c.usageServerAuth()).bool(c.usageClientAuth()).bool(c.extQuote()).bool(c.extAppInfo());
        optionU64(w, c.notBefore());
        optionU64(w, c.notAfter());
        return Bytes.concat(w.toByteArray(), attestation);
    }

    private static void optionU64(ScaleWriter w, OptionalLong v) {
        if (v.isPresent()) {
            w.u8(1).u64(v.getAsLong());
        } else {
            w.u8(0);
        }
    }

    /** Signs {@link #encode()} with the CSR key: ECDSA P-256/SHA-256, DER. The key must match {@link #publicKey()}. */
    public byte[] sign(PrivateKey p256Key) {
        Objects.requireNonNull(p256Key, "p256Key");
        if (!(p256Key instanceof ECPrivateKey)
                || ((ECPrivateKey) p256Key).getParams().getOrder().compareTo(P256Keys.ORDER) != 0) {
            throw new IllegalArgumentException("the CSR key must be a P-256 private key");
        }
        try {
            Signature s = Signature.getInstance("SHA256withECDSA");
            s.initSign(p256Key);
            s.update(signedBytes);
            byte[] sig = s.sign();
            s.initVerify(publicKey);
            s.update(signedBytes);
            if (!s.verify(sig)) {
                throw new IllegalArgumentException("the private key does not belong to the CSR public key");
            }
            return sig;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("ECDSA P-256 signing failed", e);
        }
    }

    /**
     * Reads a {@code SignCert} {@code csr} of {@code apiVersion} 2 ({@code CertSigningRequestV2}) or 1
     * ({@code CertSigningRequestV1}, upgraded). Strict: at most {@link #MAX_BYTES}, canonical SCALE, bools and
     * option tags 0 or 1, the confirm string, a canonical P-256 SPKI, a well-formed attestation (v2) or TDX quote
     * and JSON event log (v1), no trailing bytes (v1).
     *
     * @throws RaException naming the field: {@code CSR_UNSUPPORTED_VERSION}, {@code TOO_LARGE},
     *     {@code TRUNCATED}, {@code NON_CANONICAL}, {@code WRONG_TYPE}, {@code UNKNOWN_VARIANT},
     *     {@code INVALID_UTF8}, {@code LIMIT_EXCEEDED}, {@code CSR_CONFIRM_MISMATCH}, {@code CSR_PUBLIC_KEY_INVALID},
     *     {@code TRAILING_BYTES}, or the attestation decoder's reasons
     */
    public static CertSigningRequest decode(byte[] csr, int apiVersion) throws RaException {
        Objects.requireNonNull(csr, "csr");
        if (apiVersion != 1 && apiVersion != 2) {
            throw new RaException(Reason.CSR_UNSUPPORTED_VERSION, "api_version",
                    "expected 1 or 2, got " + apiVersion);
        }
        if (csr.length > MAX_BYTES) {
            throw new RaException(Reason.TOO_LARGE, "csr", csr.length + " bytes > " + MAX_BYTES);
        }
        ScaleReader r = new ScaleReader(csr);
        String confirm = r.string("csr.confirm");
        if (!confirm.equals(CONFIRM)) {
            throw new RaException(Reason.CSR_CONFIRM_MISMATCH, "csr.confirm",
                    "expected \"" + CONFIRM + "\", got " + confirm.length() + " other characters");
        }
        byte[] spki = r.bytes("csr.pubkey");
        PublicKey key = P256Keys.publicKeyFromSpki(spki, "csr.pubkey");
        Optional<String> org = r.option("csr.config.org_name")
                ? Optional.of(name(r, "csr.config.org_name")) : Optional.empty();
        String subject = name(r, "csr.config.subject");
        int n = r.count("csr.config.subject_alt_names", MAX_ALT_NAMES, 1);
        List<String> sans = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            sans.add(name(r, "csr.config.subject_alt_names[" + i + "]"));
        }
        CertConfig.Builder cb = CertConfig.builder().subject(subject).subjectAltNames(sans)
                .orgName(org.orElse(null))
                .usageServerAuth(r.bool("csr.config.usage_server_auth"))
                .usageClientAuth(r.bool("csr.config.usage_client_auth"))
                .extQuote(r.bool("csr.config.ext_quote"));
        if (apiVersion == 2) {
            cb.extAppInfo(r.bool("csr.config.ext_app_info"));
            cb.notBefore(r.option("csr.config.not_before")
                    ? OptionalLong.of(r.u64("csr.config.not_before")) : OptionalLong.empty());
            cb.notAfter(r.option("csr.config.not_after")
                    ? OptionalLong.of(r.u64("csr.config.not_after")) : OptionalLong.empty());
            byte[] attestation = r.rest();
            VersionedAttestation.decode(attestation);
            return new CertSigningRequest(spki, key, cb.build(), attestation, 2, csr.clone());
        }
        byte[] quote = r.bytes("csr.quote");
        byte[] eventLog = r.bytes("csr.event_log");
        r.end("csr");
        VersionedAttestation upgraded = LegacyAttestation.fromTdxQuote(quote, eventLog, "csr.quote", "csr.event_log");
        return new CertSigningRequest(spki, key, cb.build(), upgraded.encode(), 1, csr.clone());
    }

    private static String name(ScaleReader r, String field) throws RaException {
        String s = r.string(field);
        if (s.getBytes(StandardCharsets.UTF_8).length > MAX_NAME_BYTES) {
            throw new RaException(Reason.LIMIT_EXCEEDED, field, "longer than " + MAX_NAME_BYTES + " bytes");
        }
        return s;
    }

    private static void checkNames(CertConfig c) throws RaException {
        List<String> all = new ArrayList<>(c.subjectAltNames());
        all.add(c.subject());
        c.orgName().ifPresent(all::add);
        if (c.subjectAltNames().size() > MAX_ALT_NAMES) {
            throw new RaException(Reason.LIMIT_EXCEEDED, "config.subject_alt_names",
                    c.subjectAltNames().size() + " names > " + MAX_ALT_NAMES);
        }
        for (String s : all) {
            if (s.getBytes(StandardCharsets.UTF_8).length > MAX_NAME_BYTES) {
                throw new RaException(Reason.LIMIT_EXCEEDED, "config", "a name is longer than " + MAX_NAME_BYTES
                        + " bytes");
            }
        }
    }

    /**
     * Checks {@code derSignature}: ECDSA P-256/SHA-256, strict DER, by {@link #publicKey()} over the bytes that
     * were signed (for a decoded version 1 request, its version 1 bytes).
     *
     * @throws RaException {@code CSR_SIGNATURE_INVALID}
     */
    public void verifySignature(byte[] derSignature) throws RaException {
        Objects.requireNonNull(derSignature, "derSignature");
        boolean ok;
        try {
            Signature s = Signature.getInstance("SHA256withECDSA");
            s.initVerify(publicKey);
            s.update(signedBytes);
            ok = s.verify(derSignature);
        } catch (java.security.SignatureException e) {
            ok = false;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("ECDSA P-256 verification unavailable", e);
        }
        if (!ok) {
            throw new RaException(Reason.CSR_SIGNATURE_INVALID, "signature", "not a valid DER ECDSA P-256/SHA-256"
                    + " signature by the CSR key over the " + (apiVersion == 1 ? "version 1 " : "") + "CSR bytes ("
                    + derSignature.length + " bytes)");
        }
    }

    /** The CSR key. */
    public PublicKey publicKey() {
        return publicKey;
    }

    /** DER SubjectPublicKeyInfo of the CSR key (91 bytes). */
    public byte[] spki() {
        return spki.clone();
    }

    public CertConfig config() {
        return config;
    }

    /** The raw {@link VersionedAttestation} bytes (for a version 1 request: the upgraded V0 encoding). */
    public byte[] attestation() {
        return attestation.clone();
    }

    /** {@link VersionedAttestation#decode(byte[])} of {@link #attestation()} (validated when this was made). */
    public VersionedAttestation versionedAttestation() {
        try {
            return VersionedAttestation.decode(attestation);
        } catch (RaException e) {
            throw new IllegalStateException("validated at construction", e);
        }
    }

    /** The {@code api_version} this request was decoded from (2 for {@link #create}). */
    public int apiVersion() {
        return apiVersion;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CertSigningRequest && Arrays.equals(encode(), ((CertSigningRequest) o).encode());
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(spki) * 31 + config.hashCode();
    }

    @Override
    public String toString() {
        return "CertSigningRequest[v" + apiVersion + ", subject=" + config.subject() + ", attestation "
                + attestation.length + " bytes]";
    }
}
