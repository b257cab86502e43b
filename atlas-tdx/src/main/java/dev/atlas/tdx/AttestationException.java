package dev.atlas.tdx;

import java.security.GeneralSecurityException;
import java.util.Objects;

/**
 * The one checked exception of atlas-java verification. {@link #reason()} says, machine-readably, which
 * check failed; the message names the check and the values compared (never secrets).
 */
public class AttestationException extends GeneralSecurityException {
    private static final long serialVersionUID = 1L;

    /** Why verification (or evidence handling) failed. Later layers add their reasons here. */
    public enum Reason {
        // --- input decoding ---
        /** The quote bytes do not decode (truncation, bad length, unknown body type, size limit). */
        MALFORMED_QUOTE,
        /** Quote version not 3, 4 or 5, or SGX/TDX version combination not accepted. */
        UNSUPPORTED_VERSION,
        /** TEE type not SGX (0) or TDX (0x81). */
        UNSUPPORTED_TEE_TYPE,
        /** Attestation key type other than ECDSA-256-with-P-256 (2). */
        UNSUPPORTED_ATTESTATION_KEY_TYPE,
        /** QE vendor ID is not Intel's. */
        UNKNOWN_QE_VENDOR,
        /** PCK certification data type other than 5 and no PCK chain in the collateral. */
        UNSUPPORTED_CERTIFICATION_DATA,
        /** Collateral JSON, TCB info, QE identity, CRL or certificate bytes do not parse. */
        MALFORMED_COLLATERAL,

        // --- PKI ---
        /** No certificate with the pinned root fingerprint, or a chain that does not lead to it. */
        ROOT_CA_UNTRUSTED,
        /** A certificate chain breaks a path rule (CA as end entity, unknown critical extension, ...). */
        CERT_CHAIN_INVALID,
        /** A certificate is outside its validity period (notAfter passed). */
        CERT_EXPIRED,
        /** A certificate is not valid yet (notBefore in the future). */
        CERT_NOT_YET_VALID,
        /** A certificate's serial is listed in its issuer's CRL. */
        CERT_REVOKED,
        /** No CRL from a certificate's issuer was supplied (unknown revocation status). */
        CRL_MISSING,
        /** A CRL's signature, issuer or profile is invalid. */
        CRL_INVALID,
        /** {@code now >= nextUpdate} for a CRL that was needed. */
        CRL_EXPIRED,

        // --- collateral ---
        /** TCB info or QE identity {@code issueDate} lies after the verification time. */
        COLLATERAL_NOT_YET_VALID,
        /** TCB info or QE identity {@code nextUpdate} lies before the verification time. */
        COLLATERAL_EXPIRED,
        /** The TCB info signature does not verify with the TCB signing key. */
        TCB_INFO_SIGNATURE_INVALID,
        /** The QE identity signature does not verify with the TCB signing key. */
        QE_IDENTITY_SIGNATURE_INVALID,
        /** TCB info kind (SGX/TDX) or version does not fit the quote. */
        TCB_INFO_MISMATCH,
        /** QE identity id/version does not fit the quote's TEE type. */
        QE_IDENTITY_UNSUPPORTED,

        // --- quote ---
        /** Intel's SGX extension in the PCK certificate is missing or malformed. */
        PCK_EXTENSION_INVALID,
        /** The QE report signature does not verify with the PCK key. */
        QE_REPORT_SIGNATURE_INVALID,
        /** QE auth data is not 32 bytes. */
        QE_AUTH_DATA_INVALID,
        /** The QE report's report data does not bind the attestation key. */
        QE_REPORT_DATA_MISMATCH,
        /** The QE report does not satisfy the QE identity (MRSIGNER, ISVPRODID, MISCSELECT, attributes, debug). */
        QE_IDENTITY_MISMATCH,
        /** The QE's ISVSVN is below every QE identity TCB level. */
        QE_TCB_TOO_LOW,
        /** The quote signature does not verify with the attestation key. */
        QUOTE_SIGNATURE_INVALID,
        /** The PCK certificate's FMSPC differs from the TCB info's. */
        FMSPC_MISMATCH,
        /** A TCB level has a component count other than 16. */
        TCB_COMPONENT_COUNT_MISMATCH,
        /** No TCB level of the TCB info matches the platform. */
        NO_MATCHING_TCB_LEVEL,
        /** The TDX module (MRSIGNER_SEAM, SEAM attributes, module identity, module ISVSVN) does not match. */
        TDX_MODULE_MISMATCH,
        /** The merged TCB status is Revoked. */
        TCB_REVOKED,
        /** The workload (TD or enclave) is a debug one and debug was not allowed. */
        DEBUG_ENABLED,
        /** Reserved TD attribute bits set, or SEPT_VE_DISABLE clear. */
        TD_ATTRIBUTES_INVALID,
        /** A TD 1.5 quote has a non-zero MR_SERVICE_TD and service TDs were not allowed. */
        SERVICE_TD_NOT_ALLOWED,

        // --- collateral retrieval ---
        /** Fetching collateral failed (network, HTTP status, size limit, timeout, bad body). */
        COLLATERAL_FETCH_FAILED,

        // --- dstack layer (atlas-dstack) ---
        /** The quote response (GetQuote or {@code /tdx_quote} JSON) does not have the expected shape. */
        MALFORMED_RESPONSE,
        /** The quote is not a TDX quote with a TD report. */
        TEE_TYPE_MISMATCH,
        /** The event log is not a JSON array of well-typed entries, or breaks a size limit. */
        MALFORMED_EVENT_LOG,
        /** The event log uses a format version this library does not implement (dstack V2 runtime events). */
        UNSUPPORTED_EVENT_LOG_VERSION,
        /** An entry sits on a register it cannot belong to (a runtime event off RTMR3, a boot event on it). */
        EVENT_IMR_MISMATCH,
        /** A runtime event's provided digest differs from the one recomputed from its name and payload. */
        EVENT_DIGEST_MISMATCH,
        /** A dstack event that must occur at most once occurs more often. */
        DUPLICATE_EVENT,
        /** A dstack system event (e.g. {@code compose-hash}) appears after {@code system-ready}, where only
         *  application events can be. */
        EVENT_ORDER_INVALID,
        /** An RTMR replayed from the event log differs from the quote's. */
        RTMR_MISMATCH,
        /** No {@code New TLS Certificate} event, or its hash differs from the peer certificate's. */
        CERTIFICATE_NOT_IN_EVENT_LOG,
        /** The quote's report data does not bind this session (nonce and EKM) or the expected value. */
        REPORT_DATA_MISMATCH,
        /** The policy is invalid (unknown field, wrong type, bad hex, inconsistent settings). */
        INVALID_POLICY,
        /** MRTD or RTMR0-2 differs from the policy's expected bootchain. */
        BOOTCHAIN_MISMATCH,
        /** The {@code compose-hash} event is missing or differs from the policy's app compose. */
        APP_COMPOSE_MISMATCH,
        /** The {@code os-image-hash} event is missing or differs from the policy's. */
        OS_IMAGE_HASH_MISMATCH,
        /** The verified TCB status is not in the policy's allowed list. */
        TCB_STATUS_NOT_ALLOWED,
        /** The status is OutOfDate and the grace period after the matched TCB level's date has passed. */
        GRACE_PERIOD_EXPIRED,
        /** A grace period was configured but the matched platform TCB level is not itself OutOfDate. */
        GRACE_PERIOD_NOT_APPLICABLE,

        // --- aTLS client (atlas-client) ---
        /** The server answered {@code POST /tdx_quote} with a non-2xx status (the message quotes the body). */
        QUOTE_REQUEST_FAILED,
        /** The TLS session cannot be bound: not TLS 1.3, no exporter, or no peer certificate. */
        CHANNEL_BINDING_UNAVAILABLE,
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

    /** The machine-readable reason. Never null. */
    public Reason reason() {
        return reason;
    }
}
