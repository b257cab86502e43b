package dev.atlas.dstack.ra;

import java.security.GeneralSecurityException;
import java.util.Objects;

/**
 * The one checked exception of {@code dstack-ra}: a {@link Reason} names the check that failed and, for
 * decoders, {@link #field()} names the field (for example {@code quote.event_log[3].digest}). Messages
 * never contain key material or plaintext.
 */
public final class RaException extends GeneralSecurityException {
    private static final long serialVersionUID = 1L;

    /** Which check failed. */
    public enum Reason {
        /** An argument of the wrong size or shape (for example a 19-byte app id). */
        INVALID_ARGUMENT,
        /** A derived or given scalar is 0 or not below the curve order. */
        KEY_OUT_OF_RANGE,
        /** A signature is not 65 bytes, has r or s out of range, or an unknown recovery id. */
        SIGNATURE_MALFORMED,
        /** No public key can be recovered from the signature (r is not an x coordinate). */
        SIGNATURE_RECOVERY_FAILED,
        /** The signature recovers to a key other than the expected one. */
        SIGNER_MISMATCH,
        /** A timestamped signature is older than the allowed age. */
        TIMESTAMP_TOO_OLD,
        /** A timestamped signature is further in the future than the allowed skew. */
        TIMESTAMP_IN_FUTURE,
        /** A signature chain has the wrong number of links. */
        CHAIN_LENGTH,
        /** The app link of a {@code GetKey} chain does not sign the derived key with the given purpose. */
        CHAIN_APP_LINK,
        /** The KMS link of a chain recovers to a key other than the expected KMS root key. */
        CHAIN_KMS_LINK,
        /** Input larger than the format's limit. */
        TOO_LARGE,
        /** Input ends inside a field. */
        TRUNCATED,
        /** Bytes left after a complete value. */
        TRAILING_BYTES,
        /** A field has the wrong wire type (for example a string where a map is required). */
        WRONG_TYPE,
        /** A fixed-size field has the wrong length (for example {@code report_data} not 64 bytes). */
        BAD_LENGTH,
        /** A length or integer that is not in its shortest form (SCALE compact). */
        NON_CANONICAL,
        /** The first byte selects no known attestation format, or {@code version} is not 1. */
        UNKNOWN_VERSION,
        /** A known but unsupported platform (only TDX is implemented). */
        UNSUPPORTED_PLATFORM,
        /** An enum index or {@code kind} that names no variant. */
        UNKNOWN_VARIANT,
        /** A string that is not valid UTF-8. */
        INVALID_UTF8,
        /** A required field is missing. */
        MISSING_FIELD,
        /** A key that a strict document ({@code deny_unknown_fields}) does not define. */
        UNKNOWN_FIELD,
        /** A map key appears twice. */
        DUPLICATE_FIELD,
        /** A collection with more elements, or nesting deeper, than allowed. */
        LIMIT_EXCEEDED,
        /** A TDX quote that is too short or of an unknown version or body type. */
        BAD_QUOTE,
        /** The vm_config / sys-config JSON cannot be read. */
        BAD_CONFIG,
        /** An encrypted env shorter than public key, IV and tag. */
        ENV_TRUNCATED,
        /** The AES-GCM tag does not verify: wrong key, or a changed byte. */
        ENV_TAMPERED,
        /** The sender's X25519 key is a low-order point (all-zero shared secret). */
        ENV_BAD_PUBLIC_KEY,
        /** The decrypted env is not {@code {"env":[{"key":..,"value":..}]}}. */
        ENV_PLAINTEXT_INVALID
    }

    private final Reason reason;
    private final String field;

    public RaException(Reason reason, String message) {
        this(reason, null, message, null);
    }

    public RaException(Reason reason, String field, String message) {
        this(reason, field, message, null);
    }

    public RaException(Reason reason, String field, String message, Throwable cause) {
        super((field == null ? "" : field + ": ") + message, cause);
        this.reason = Objects.requireNonNull(reason, "reason");
        this.field = field;
    }

    public Reason reason() {
        return reason;
    }

    /** The field that failed to decode, or null when the failure is not about one field. */
    public String field() {
        return field;
    }
}
