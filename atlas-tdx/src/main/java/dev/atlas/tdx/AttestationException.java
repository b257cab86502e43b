package dev.atlas.tdx;

import java.security.GeneralSecurityException;
import java.util.Objects;

/**
 * The one checked exception of atlas-java verification. {@link #reason()} says, machine-readably, which
 * check failed; the message names the check and the values compared (never secrets).
 */
public class AttestationException extends GeneralSecurityException {
    private static final long serialVersionUID = 1L;

    /**
     * What kind of failure this is, for callers that must act differently on each (exit codes, retries, alerts):
     * fix the configuration, retry later, or do not trust the peer.
     */
    public enum Kind {
        /** A bad policy, configuration or argument file: retrying cannot help; fix the input. */
        CONFIGURATION,
        /** The network, the peer or the collateral service could not be reached in time: a retry may succeed. */
        IO,
        /** The evidence is not trustworthy or does not match what was asked for: do not trust the peer. */
        REJECTED
    }

    /**
     * Why verification (or evidence handling) failed; each reason has one {@link #kind()}.
     *
     * <p>One enum for all layers, kept on purpose: its values are public API (switches, {@code EnumSet}s and JSON
     * error codes of callers use them), and a reason interface per layer would make every {@code reason()}
     * switch non-exhaustive. Upper layers decide by {@link #kind()}, not by knowing every value, so a new reason
     * needs only its constant and its kind here; see {@code docs/dcap-semantics.md}. A layer with a finer
     * vocabulary of its own subclasses this exception instead of adding a value per check, and maps each of its
     * reasons to one value here (dstack-ra's {@code RaException}; see {@code docs/dstack-ra.md}).
     */
    public enum Reason {
        // --- input decoding ---
        /** The quote bytes do not decode (truncation, bad length, unknown body type, size limit). */
        MALFORMED_QUOTE(Kind.REJECTED),
        /** Quote version not 3, 4 or 5, or SGX/TDX version combination not accepted. */
        UNSUPPORTED_VERSION(Kind.REJECTED),
        /** TEE type not SGX (0) or TDX (0x81). */
        UNSUPPORTED_TEE_TYPE(Kind.REJECTED),
        /** Attestation key type other than ECDSA-256-with-P-256 (2). */
        UNSUPPORTED_ATTESTATION_KEY_TYPE(Kind.REJECTED),
        /** QE vendor ID is not Intel's. */
        UNKNOWN_QE_VENDOR(Kind.REJECTED),
        /** PCK certification data type other than 5 and no PCK chain in the collateral. */
        UNSUPPORTED_CERTIFICATION_DATA(Kind.REJECTED),
        /** Collateral JSON, TCB info, QE identity, CRL or certificate bytes do not parse. */
        MALFORMED_COLLATERAL(Kind.REJECTED),

        // --- PKI ---
        /** No certificate with the pinned root fingerprint, or a chain that does not lead to it. */
        ROOT_CA_UNTRUSTED(Kind.REJECTED),
        /** A certificate chain breaks a path rule (CA as end entity, unknown critical extension, ...). */
        CERT_CHAIN_INVALID(Kind.REJECTED),
        /** A certificate is outside its validity period (notAfter passed). */
        CERT_EXPIRED(Kind.REJECTED),
        /** A certificate is not valid yet (notBefore in the future). */
        CERT_NOT_YET_VALID(Kind.REJECTED),
        /** A certificate's serial is listed in its issuer's CRL. */
        CERT_REVOKED(Kind.REJECTED),
        /** No CRL from a certificate's issuer was supplied (unknown revocation status). */
        CRL_MISSING(Kind.REJECTED),
        /** A CRL's signature, issuer or profile is invalid. */
        CRL_INVALID(Kind.REJECTED),
        /** {@code now >= nextUpdate} for a CRL that was needed. */
        CRL_EXPIRED(Kind.REJECTED),

        // --- collateral ---
        /** TCB info or QE identity {@code issueDate} lies after the verification time. */
        COLLATERAL_NOT_YET_VALID(Kind.REJECTED),
        /** TCB info or QE identity {@code nextUpdate} lies before the verification time. */
        COLLATERAL_EXPIRED(Kind.REJECTED),
        /** The TCB info signature does not verify with the TCB signing key. */
        TCB_INFO_SIGNATURE_INVALID(Kind.REJECTED),
        /** The QE identity signature does not verify with the TCB signing key. */
        QE_IDENTITY_SIGNATURE_INVALID(Kind.REJECTED),
        /** TCB info kind (SGX/TDX) or version does not fit the quote. */
        TCB_INFO_MISMATCH(Kind.REJECTED),
        /** QE identity id/version does not fit the quote's TEE type. */
        QE_IDENTITY_UNSUPPORTED(Kind.REJECTED),

        // --- quote ---
        /** Intel's SGX extension in the PCK certificate is missing or malformed. */
        PCK_EXTENSION_INVALID(Kind.REJECTED),
        /** The QE report signature does not verify with the PCK key. */
        QE_REPORT_SIGNATURE_INVALID(Kind.REJECTED),
        /** QE auth data is not 32 bytes. */
        QE_AUTH_DATA_INVALID(Kind.REJECTED),
        /** The QE report's report data does not bind the attestation key. */
        QE_REPORT_DATA_MISMATCH(Kind.REJECTED),
        /** The QE report does not satisfy the QE identity (MRSIGNER, ISVPRODID, MISCSELECT, attributes, debug). */
        QE_IDENTITY_MISMATCH(Kind.REJECTED),
        /** The QE's ISVSVN is below every QE identity TCB level. */
        QE_TCB_TOO_LOW(Kind.REJECTED),
        /** The quote signature does not verify with the attestation key. */
        QUOTE_SIGNATURE_INVALID(Kind.REJECTED),
        /** The PCK certificate's FMSPC differs from the TCB info's. */
        FMSPC_MISMATCH(Kind.REJECTED),
        /** A TCB level has a component count other than 16. */
        TCB_COMPONENT_COUNT_MISMATCH(Kind.REJECTED),
        /** No TCB level of the TCB info matches the platform. */
        NO_MATCHING_TCB_LEVEL(Kind.REJECTED),
        /** The TDX module (MRSIGNER_SEAM, SEAM attributes, module identity, module ISVSVN) does not match. */
        TDX_MODULE_MISMATCH(Kind.REJECTED),
        /** The merged TCB status is Revoked. */
        TCB_REVOKED(Kind.REJECTED),
        /** The workload (TD or enclave) is a debug one and debug was not allowed. */
        DEBUG_ENABLED(Kind.REJECTED),
        /** Reserved TD attribute bits set, or SEPT_VE_DISABLE clear. */
        TD_ATTRIBUTES_INVALID(Kind.REJECTED),
        /** A TD 1.5 quote has a non-zero MR_SERVICE_TD and service TDs were not allowed. */
        SERVICE_TD_NOT_ALLOWED(Kind.REJECTED),

        // --- collateral retrieval ---
        /** Fetching collateral failed (network, HTTP status, size limit, timeout, bad body). */
        COLLATERAL_FETCH_FAILED(Kind.IO),

        // --- dstack layer (atlas-dstack) ---
        /** The quote response (GetQuote or {@code /tdx_quote} JSON) does not have the expected shape. */
        MALFORMED_RESPONSE(Kind.REJECTED),
        /** The quote is not a TDX quote with a TD report. */
        TEE_TYPE_MISMATCH(Kind.REJECTED),
        /** The event log is not a JSON array of well-typed entries, or breaks a size limit. */
        MALFORMED_EVENT_LOG(Kind.REJECTED),
        /** The event log uses a format version this library does not implement (dstack V2 runtime events). */
        UNSUPPORTED_EVENT_LOG_VERSION(Kind.REJECTED),
        /** An entry sits on a register it cannot belong to (a runtime event off RTMR3, a boot event on it). */
        EVENT_IMR_MISMATCH(Kind.REJECTED),
        /** A runtime event's provided digest differs from the one recomputed from its name and payload. */
        EVENT_DIGEST_MISMATCH(Kind.REJECTED),
        /** A dstack event that must occur at most once occurs more often. */
        DUPLICATE_EVENT(Kind.REJECTED),
        /** A dstack system event (e.g. {@code compose-hash}) appears after {@code system-ready}, where only
         *  application events can be. */
        EVENT_ORDER_INVALID(Kind.REJECTED),
        /** An RTMR replayed from the event log differs from the quote's. */
        RTMR_MISMATCH(Kind.REJECTED),
        /** No {@code New TLS Certificate} event, or its hash differs from the peer certificate's. */
        CERTIFICATE_NOT_IN_EVENT_LOG(Kind.REJECTED),
        /** The quote's report data does not bind this session (nonce and EKM) or the expected value. */
        REPORT_DATA_MISMATCH(Kind.REJECTED),
        /** The policy is invalid (unknown field, wrong type, bad hex, inconsistent settings). */
        INVALID_POLICY(Kind.CONFIGURATION),
        /** MRTD or RTMR0-2 differs from the policy's expected bootchain. */
        BOOTCHAIN_MISMATCH(Kind.REJECTED),
        /** The {@code compose-hash} event is missing or differs from the policy's app compose. */
        APP_COMPOSE_MISMATCH(Kind.REJECTED),
        /** The {@code os-image-hash} event is missing or differs from the policy's. */
        OS_IMAGE_HASH_MISMATCH(Kind.REJECTED),
        /** The verified TCB status is not in the policy's allowed list. */
        TCB_STATUS_NOT_ALLOWED(Kind.REJECTED),
        /** The status is OutOfDate and the grace period after the matched TCB level's date has passed. */
        GRACE_PERIOD_EXPIRED(Kind.REJECTED),
        /** A grace period was configured but the matched platform TCB level is not itself OutOfDate. */
        GRACE_PERIOD_NOT_APPLICABLE(Kind.REJECTED),

        // --- aTLS client (atlas-client) ---
        /** The server answered {@code POST /tdx_quote} with a non-2xx status (the message quotes the body). */
        QUOTE_REQUEST_FAILED(Kind.REJECTED),
        /** The TLS session cannot be bound: not TLS 1.3, no exporter, or no peer certificate. */
        CHANNEL_BINDING_UNAVAILABLE(Kind.REJECTED),

        // --- dstack shared vocabulary (dstack-ra; its RaException.Reason says which check) ---
        /** A dstack-ra call got an argument of the wrong size or shape (a 19-byte app id, a 31-byte env key, bad
         *  hex, a PKCS#8 key that is not P-256) or a key scalar that is 0 or not below the curve order. */
        INVALID_ARGUMENT(Kind.CONFIGURATION),
        /** A dstack attestation or a part of it ({@code VersionedAttestation} V0 SCALE or V1 msgpack, the msgpack
         *  {@code AppInfo}, the MrConfigV3 document, the vm_config) does not decode: truncated, wrong type or
         *  length, non-canonical, unknown version or variant, missing, unknown or duplicate field, a limit. */
        MALFORMED_ATTESTATION(Kind.REJECTED),
        /** A dstack attestation for a platform this library does not verify (GCP-TDX, Nitro Enclave, SEV-SNP,
         *  AWS NitroTPM). */
        UNSUPPORTED_PLATFORM(Kind.REJECTED),
        /** A recoverable secp256k1 (Keccak-256) signature or a KMS signature chain is missing or malformed, does
         *  not recover, or recovers to a key other than the expected one. */
        SIGNATURE_INVALID(Kind.REJECTED),
        /** A timestamped signature (the env public key's {@code signature_v1}) is older than the allowed age or
         *  further in the future than the allowed skew. */
        SIGNATURE_TIMESTAMP_INVALID(Kind.REJECTED),
        /** An encrypted env (X25519 + AES-256-GCM) cannot be decrypted: truncated, too large, tampered, a
         *  low-order X25519 key (also refused when encrypting, since the guest would refuse it), or a plaintext
         *  that is not the env JSON. */
        ENV_DECRYPTION_FAILED(Kind.REJECTED),

        // --- dstack control plane (dstack-kms, later the gateway and the VMM) ---
        /** A component's configuration ({@code kms.toml} and the like) is invalid, names an unsupported key that
         *  would weaken a check, or points at a missing or unreadable file. */
        INVALID_CONFIGURATION(Kind.CONFIGURATION),
        /** The authorization service (the dstack auth webhook, or this KMS's own self-authorization) denied the
         *  request: {@code Boot denied: …}, {@code KMS is not allowed: …}. */
        AUTHORIZATION_DENIED(Kind.REJECTED),
        /** A peer that a decision depends on (the auth webhook, the local guest agent, a source KMS) could not be
         *  reached, timed out or answered something that is not an answer; the request is refused (fail closed). */
        PEER_UNAVAILABLE(Kind.IO),
        /** The request conflicts with the component's state (a KMS that already has keys asked to bootstrap or
         *  onboard, a KMS without keys asked for them). */
        STATE_CONFLICT(Kind.REJECTED);

        private final Kind kind;

        Reason(Kind kind) {
            this.kind = kind;
        }

        /** What kind of failure this reason is. Never null. */
        public Kind kind() {
            return kind;
        }
    }

    private final Reason reason;
    private final String detail;
    private final String subject;
    private final String expected;
    private final String actual;

    public AttestationException(Reason reason, String detail) {
        this(reason, detail, (Throwable) null);
    }

    public AttestationException(Reason reason, String detail, Throwable cause) {
        super(Objects.requireNonNull(reason, "reason") + ": " + detail, cause);
        this.reason = reason;
        this.detail = detail;
        this.subject = null;
        this.expected = null;
        this.actual = null;
    }

    /**
     * A mismatch: {@code subject} names what was compared (a register such as {@code rtmr3}, a bootchain
     * field, an event name), {@code expected} and {@code actual} the two values (public measurements only).
     */
    public AttestationException(Reason reason, String subject, String expected, String actual, String detail) {
        super(Objects.requireNonNull(reason, "reason") + ": " + detail);
        this.reason = reason;
        this.detail = detail;
        this.subject = subject;
        this.expected = expected;
        this.actual = actual;
    }

    /** What a mismatch concerns (e.g. {@code rtmr2}, {@code mrtd}, {@code compose-hash}); empty if none. */
    public java.util.Optional<String> subject() {
        return java.util.Optional.ofNullable(subject);
    }

    /** The expected value of a mismatch; empty if none. */
    public java.util.Optional<String> expected() {
        return java.util.Optional.ofNullable(expected);
    }

    /** The actual value of a mismatch; empty if none. */
    public java.util.Optional<String> actual() {
        return java.util.Optional.ofNullable(actual);
    }

    /** The message without the reason prefix: which check failed and the values compared. */
    public String detail() {
        return detail;
    }

    /** What kind of failure this is ({@code reason().kind()}). Never null. */
    public Kind kind() {
        return reason.kind();
    }

    /** The machine-readable reason. Never null. */
    public Reason reason() {
        return reason;
    }
}
