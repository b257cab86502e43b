package dev.atlas.dstack.ra;

import dev.atlas.tdx.AttestationException;
import java.util.Objects;

/**
 * The checked exception of {@code dstack-ra}, a member of the one {@link AttestationException} family.
 *
 * <p>Two reasons, one per layer:
 * <ul>
 *   <li>{@link #reason()} (inherited) is the coarse {@link AttestationException.Reason}, for example
 *       {@code MALFORMED_ATTESTATION} or {@code SIGNATURE_INVALID}; with {@link #kind()} it is what callers switch
 *       on, and it is API of {@code atlas-tdx};</li>
 *   <li>{@link #raReason()} is the fine {@link RaException.Reason}, for example {@code NON_CANONICAL} or
 *       {@code CHAIN_KMS_LINK}: which check of this module failed. It is API of {@code dstack-ra}, and each value
 *       maps to exactly one coarse reason ({@link Reason#coarse()}).</li>
 * </ul>
 * This keeps dstack's decoder and signature vocabulary out of the lowest enum (issue 16) while callers that
 * {@code catch (AttestationException e)} keep deciding by {@code e.kind()}.
 *
 * <p>For decoders, {@link #field()} (also {@link #subject()}) names the field, for example
 * {@code quote.event_log[3].digest}. Messages never contain key material or plaintext.
 */
public final class RaException extends AttestationException {
    private static final long serialVersionUID = 2L;

    /**
     * Which check of {@code dstack-ra} failed. This enum hides the inherited {@link AttestationException.Reason}
     * inside this class only; outside it is always spelled {@code RaException.Reason}.
     */
    public enum Reason {
        /** An argument of the wrong size or shape (for example a 19-byte app id, a negative timestamp, bad hex). */
        INVALID_ARGUMENT(AttestationException.Reason.INVALID_ARGUMENT),
        /** A derived or given scalar is 0 or not below the curve order. */
        KEY_OUT_OF_RANGE(AttestationException.Reason.INVALID_ARGUMENT),
        /** A signature is missing, not 65 bytes, has r or s out of range, or an unknown recovery id. */
        SIGNATURE_MALFORMED(AttestationException.Reason.SIGNATURE_INVALID),
        /** No public key can be recovered from the signature (r is not an x coordinate). */
        SIGNATURE_RECOVERY_FAILED(AttestationException.Reason.SIGNATURE_INVALID),
        /** The signature recovers to a key other than the expected one. */
        SIGNER_MISMATCH(AttestationException.Reason.SIGNATURE_INVALID),
        /** A timestamped signature is older than the allowed age. */
        TIMESTAMP_TOO_OLD(AttestationException.Reason.SIGNATURE_TIMESTAMP_INVALID),
        /** A timestamped signature is further in the future than the allowed skew. */
        TIMESTAMP_IN_FUTURE(AttestationException.Reason.SIGNATURE_TIMESTAMP_INVALID),
        /** A signature chain has the wrong number of links. */
        CHAIN_LENGTH(AttestationException.Reason.SIGNATURE_INVALID),
        /** The app link of a {@code GetKey} chain does not sign the derived key with the given purpose. */
        CHAIN_APP_LINK(AttestationException.Reason.SIGNATURE_INVALID),
        /** The KMS link of a chain recovers to a key other than the expected KMS root key. */
        CHAIN_KMS_LINK(AttestationException.Reason.SIGNATURE_INVALID),
        /** Attestation, {@code AppInfo} or MrConfig input larger than the format's limit. */
        TOO_LARGE(AttestationException.Reason.MALFORMED_ATTESTATION),
        /** Input ends inside a field. */
        TRUNCATED(AttestationException.Reason.MALFORMED_ATTESTATION),
        /** Bytes left after a complete value. */
        TRAILING_BYTES(AttestationException.Reason.MALFORMED_ATTESTATION),
        /** A field has the wrong wire type (for example a string where a map is required). */
        WRONG_TYPE(AttestationException.Reason.MALFORMED_ATTESTATION),
        /** A fixed-size field has the wrong length (for example {@code report_data} not 64 bytes). */
        BAD_LENGTH(AttestationException.Reason.MALFORMED_ATTESTATION),
        /** A length or integer that is not in its shortest form (SCALE compact). */
        NON_CANONICAL(AttestationException.Reason.MALFORMED_ATTESTATION),
        /** The first byte selects no known attestation format, or {@code version} is not 1 (3 for MrConfig). */
        UNKNOWN_VERSION(AttestationException.Reason.MALFORMED_ATTESTATION),
        /** A known but unsupported platform (only TDX is implemented). */
        UNSUPPORTED_PLATFORM(AttestationException.Reason.UNSUPPORTED_PLATFORM),
        /** An enum index or {@code kind} that names no variant. */
        UNKNOWN_VARIANT(AttestationException.Reason.MALFORMED_ATTESTATION),
        /** A string that is not valid UTF-8. */
        INVALID_UTF8(AttestationException.Reason.MALFORMED_ATTESTATION),
        /** A required field is missing. */
        MISSING_FIELD(AttestationException.Reason.MALFORMED_ATTESTATION),
        /** A key that a strict document ({@code deny_unknown_fields}) does not define. */
        UNKNOWN_FIELD(AttestationException.Reason.MALFORMED_ATTESTATION),
        /** A map key appears twice. */
        DUPLICATE_FIELD(AttestationException.Reason.MALFORMED_ATTESTATION),
        /** A collection with more elements, or nesting deeper, than allowed. */
        LIMIT_EXCEEDED(AttestationException.Reason.MALFORMED_ATTESTATION),
        /** A TDX quote that is too short or of an unknown version or body type. */
        BAD_QUOTE(AttestationException.Reason.MALFORMED_QUOTE),
        /** The vm_config / sys-config JSON cannot be read. */
        BAD_CONFIG(AttestationException.Reason.MALFORMED_ATTESTATION),
        /** An encrypted env shorter than public key, IV and tag. */
        ENV_TRUNCATED(AttestationException.Reason.ENV_DECRYPTION_FAILED),
        /** An encrypted env larger than {@link EnvCrypt#MAX_CIPHERTEXT} (our limit). */
        ENV_TOO_LARGE(AttestationException.Reason.ENV_DECRYPTION_FAILED),
        /** The AES-GCM tag does not verify: wrong key, or a changed byte. */
        ENV_TAMPERED(AttestationException.Reason.ENV_DECRYPTION_FAILED),
        /** The sender's (or, when encrypting, the recipient's) X25519 key is a low-order point (all-zero shared
         *  secret). */
        ENV_BAD_PUBLIC_KEY(AttestationException.Reason.ENV_DECRYPTION_FAILED),
        /** The decrypted env is not {@code {"env":[{"key":..,"value":..}]}}. */
        ENV_PLAINTEXT_INVALID(AttestationException.Reason.ENV_DECRYPTION_FAILED),
        /** An X.509 certificate cannot be built (bad subject, key or issuer) or is not well-formed DER. */
        CERT_MALFORMED(AttestationException.Reason.CERT_CHAIN_INVALID),
        /** A certificate chain is empty, out of order, or a signature in it does not verify. */
        CERT_CHAIN_INVALID(AttestationException.Reason.CERT_CHAIN_INVALID),
        /** The chain does not end at the trusted CA (another key, or another subject DN). */
        CERT_UNTRUSTED_ISSUER(AttestationException.Reason.ROOT_CA_UNTRUSTED),
        /** A certificate of the chain is past its {@code notAfter}. */
        CERT_EXPIRED(AttestationException.Reason.CERT_EXPIRED),
        /** A certificate of the chain is before its {@code notBefore}. */
        CERT_NOT_YET_VALID(AttestationException.Reason.CERT_NOT_YET_VALID),
        /** An issuer is not a CA (basicConstraints, keyCertSign, path length). */
        CERT_NOT_A_CA(AttestationException.Reason.CERT_CHAIN_INVALID),
        /** The special-usage extension ({@code .4}) is not the one asked for. */
        CERT_USAGE_MISMATCH(AttestationException.Reason.CERT_CHAIN_INVALID),
        /** A required RA-TLS extension (attestation, usage, app id, legacy event log) is absent. */
        CERT_EXTENSION_MISSING(AttestationException.Reason.MALFORMED_ATTESTATION),
        /** An RA-TLS extension is not a DER OCTET STRING, has trailing bytes, the wrong size or bad content. */
        CERT_EXTENSION_MALFORMED(AttestationException.Reason.MALFORMED_ATTESTATION),
        /** The attestation's report data is not {@code SHA-512("ratls-cert:" || SPKI)} of the certificate key. */
        RATLS_BINDING_MISMATCH(AttestationException.Reason.REPORT_DATA_MISMATCH),
        /** A CSR's public key is not a P-256 SubjectPublicKeyInfo in its canonical (uncompressed) form. */
        CSR_PUBLIC_KEY_INVALID(AttestationException.Reason.SIGNATURE_INVALID),
        /** A CSR signature is not valid DER ECDSA P-256/SHA-256 by the CSR key over the CSR bytes. */
        CSR_SIGNATURE_INVALID(AttestationException.Reason.SIGNATURE_INVALID),
        /** A CSR's confirm string is not {@code "please sign cert:"}. */
        CSR_CONFIRM_MISMATCH(AttestationException.Reason.SIGNATURE_INVALID),
        /** A {@code SignCert} {@code api_version} other than 1 or 2. */
        CSR_UNSUPPORTED_VERSION(AttestationException.Reason.UNSUPPORTED_VERSION),

        // --- dstack control plane (issue 17: dstack-kms). Owners add their own lines in their own block. ---
        /** A configuration key has a wrong type or value, or a required one is missing (the message names it). */
        CONFIG_INVALID(AttestationException.Reason.INVALID_CONFIGURATION),
        /** A configuration key this implementation does not support and that would weaken a check if ignored. */
        CONFIG_UNSUPPORTED(AttestationException.Reason.INVALID_CONFIGURATION),
        /** A file named by the configuration is missing or unreadable (the message names the file and the key). */
        CONFIG_FILE_UNREADABLE(AttestationException.Reason.INVALID_CONFIGURATION),
        /** The auth webhook denied a boot ({@code Boot denied: <reason>}). */
        BOOT_DENIED(AttestationException.Reason.AUTHORIZATION_DENIED),
        /** The auth webhook denied a KMS ({@code KMS is not allowed: <reason>}, or onboarding's source KMS). */
        KMS_NOT_ALLOWED(AttestationException.Reason.AUTHORIZATION_DENIED),
        /** The auth webhook is down, slow (timeout), answered a non-2xx status or a body that is not a decision. */
        AUTH_UNAVAILABLE(AttestationException.Reason.PEER_UNAVAILABLE),
        /** The local guest agent could not be reached or answered garbage. */
        AGENT_UNAVAILABLE(AttestationException.Reason.PEER_UNAVAILABLE),
        /** A remote KMS could not be reached or answered garbage (an error reply is reported with its text). */
        KMS_UNAVAILABLE(AttestationException.Reason.PEER_UNAVAILABLE),
        /** The caller presented no attestation ({@code No attestation provided}). */
        ATTESTATION_MISSING(AttestationException.Reason.MALFORMED_ATTESTATION),
        /** The KMS already has keys (bootstrap or onboard refused) or has none yet. */
        KEY_STATE(AttestationException.Reason.STATE_CONFLICT),
        /** The OS image a caller claims does not match its quote (MRTD, RTMR0-2), or cannot be verified. */
        OS_IMAGE_MISMATCH(AttestationException.Reason.OS_IMAGE_HASH_MISMATCH),
        /** Evidence of a platform whose key release is an opt-in gate that is off (SEV-SNP, AWS NitroTPM). */
        KEY_RELEASE_GATE(AttestationException.Reason.UNSUPPORTED_PLATFORM),
        // --- issue20-qemu ---
        /** The VMM's {@code [key_provider]} could not be reached, timed out or closed the connection early. */
        KEY_PROVIDER_UNAVAILABLE(AttestationException.Reason.PEER_UNAVAILABLE),
        /** A CVM process ({@code qemu_path}) could not be started, signalled or adopted. */
        VM_PROCESS_FAILED(AttestationException.Reason.PEER_UNAVAILABLE),

        // --- issue18-core ---
        /** A gateway registration conflicts with the state: the WireGuard key or the instance belongs to another
         *  instance or app, or the client address range is exhausted. */
        REGISTRATION_CONFLICT(AttestationException.Reason.STATE_CONFLICT),
        /** A gateway registration is refused: no client certificate, the node is marked down, or the
         *  {@code [core.auth]} hook did not allow the app. */
        REGISTRATION_DENIED(AttestationException.Reason.AUTHORIZATION_DENIED),

        // --- issue18-route ---
        /** The gateway knows no instance and no app with the id of the address (never a default backend). */
        ROUTE_UNKNOWN_APP(AttestationException.Reason.PEER_UNAVAILABLE),
        /** The app is registered but none of its instances had a WireGuard handshake within handshake_stale. */
        ROUTE_NO_HEALTHY_INSTANCE(AttestationException.Reason.PEER_UNAVAILABLE),
        /** The port policy (restrict_mode, or a policy still unknown: fail closed) refuses the port. */
        ROUTE_PORT_NOT_ALLOWED(AttestationException.Reason.AUTHORIZATION_DENIED),
        /** The app's instances already carry max_connections_per_app live connections. */
        ROUTE_TOO_MANY_CONNECTIONS(AttestationException.Reason.PEER_UNAVAILABLE),
        /** A custom domain has no usable _dstack-app-address TXT record (none, timeout, or not "app_id:port"). */
        ROUTE_DNS_FAILED(AttestationException.Reason.PEER_UNAVAILABLE),

        // --- issue18-wg ---
        /** A WireGuard tool ({@code ip}, {@code wg}, {@code wireguard-go}) failed or is missing; names the command. */
        WG_TOOL_FAILED(AttestationException.Reason.PEER_UNAVAILABLE),
        /** A WireGuard key, peer or tool output is malformed (not 32 bytes of base64, a bad handshake line). */
        WG_INVALID(AttestationException.Reason.INVALID_ARGUMENT),
        /** No gateway of {@code gateway_urls} accepted {@code RegisterCvm} (unreachable or refused). */
        GATEWAY_UNAVAILABLE(AttestationException.Reason.PEER_UNAVAILABLE),
        /** The gateway's server certificate app id is not within the KMS's {@code gateway_app_id}. */
        GATEWAY_APP_ID_MISMATCH(AttestationException.Reason.AUTHORIZATION_DENIED),
        // --- issue 19: certbot and CT monitor (issue19-certbot, issue19-zt, issue19-ct add their own below) ---
        /** The ACME server answered with an error (its problem type and detail named), or could not be reached. */
        ACME_FAILED(AttestationException.Reason.PEER_UNAVAILABLE),
        /** The ACME server refused the request for a rate limit ({@code urn:ietf:params:acme:error:rateLimited}). */
        ACME_RATE_LIMITED(AttestationException.Reason.PEER_UNAVAILABLE),
        /** The ACME server found a challenge invalid or refused the order / account (names the domain). */
        ACME_REJECTED(AttestationException.Reason.AUTHORIZATION_DENIED),
        /** The DNS provider API (Cloudflare) failed, timed out or answered something malformed. */
        DNS_API_FAILED(AttestationException.Reason.PEER_UNAVAILABLE),
        /** No DNS zone of the provider covers the domain. */
        DNS_ZONE_NOT_FOUND(AttestationException.Reason.INVALID_CONFIGURATION),
        /** The certbot's files (credentials, live/, the gateway's ZT-domain state) are unreadable or inconsistent. */
        CERTBOT_STATE_INVALID(AttestationException.Reason.STATE_CONFLICT),
        /** A CT log source (crt.sh) or the gateway's {@code /acme-info} could not be fetched. */
        CT_SOURCE_UNAVAILABLE(AttestationException.Reason.PEER_UNAVAILABLE),
        /** A CT log answer, a certificate PEM or an {@code /acme-info} document is malformed or too large. */
        CT_SOURCE_MALFORMED(AttestationException.Reason.MALFORMED_ATTESTATION),
        /** A logged certificate's key is not one of the gateway's attested keys. */
        CT_UNKNOWN_KEY(AttestationException.Reason.AUTHORIZATION_DENIED),
        /** An attested key comes from an app (app id, compose hash, OS image) other than the expected gateway. */
        CT_UNEXPECTED_IDENTITY(AttestationException.Reason.AUTHORIZATION_DENIED);

        private final AttestationException.Reason coarse;

        Reason(AttestationException.Reason coarse) {
            this.coarse = Objects.requireNonNull(coarse);
        }

        /** The coarse reason of the {@link AttestationException} family this check belongs to. Never null. */
        public AttestationException.Reason coarse() {
            return coarse;
        }

        /** {@code coarse().kind()}. Never null. */
        public AttestationException.Kind kind() {
            return coarse.kind();
        }
    }

    private final Reason raReason;
    private final String field;

    public RaException(Reason reason, String message) {
        this(reason, null, message, null);
    }

    public RaException(Reason reason, String field, String message) {
        this(reason, field, message, null);
    }

    public RaException(Reason reason, String field, String message, Throwable cause) {
        super(Objects.requireNonNull(reason, "reason").coarse(), field, null, null,
                (field == null ? "" : field + ": ") + message);
        this.raReason = reason;
        this.field = field;
        if (cause != null) {
            initCause(cause);
        }
    }

    /** The fine, {@code dstack-ra} reason; {@link #reason()} is its {@link Reason#coarse() coarse} one. */
    public Reason raReason() {
        return raReason;
    }

    /** The field that failed to decode, or null when the failure is not about one field; see {@link #subject()}. */
    public String field() {
        return field;
    }

    /** {@code COARSE (FINE): field: message}, for example {@code MALFORMED_ATTESTATION (TRUNCATED): quote: ...}. */
    @Override
    public String getMessage() {
        return reason() + " (" + raReason + "): " + detail();
    }
}
