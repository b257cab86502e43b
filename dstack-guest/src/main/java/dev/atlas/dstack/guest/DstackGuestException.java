package dev.atlas.dstack.guest;

import java.io.IOException;
import java.util.Objects;

/**
 * A failed call to the dstack guest agent. The message names the endpoint and the method; it never carries
 * key material. {@link #reason()} says what went wrong.
 *
 * <p>An {@link IOException} rather than an {@code AttestationException}: talking to the local agent is
 * transport, not verification. Verification failures (the {@code GetKey} signature chain) are
 * {@code dstack-ra}'s {@link dev.atlas.dstack.ra.RaException}s, kept apart from these.
 */
public final class DstackGuestException extends IOException {
    private static final long serialVersionUID = 1L;

    /** What went wrong. */
    public enum Reason {
        /** No agent at the endpoint (socket missing, connection refused, TLS handshake failed). */
        CONNECT_FAILED,
        /** Connecting or reading took longer than the configured timeout. */
        TIMEOUT,
        /** The response (head and body) exceeded the configured size limit. */
        RESPONSE_TOO_LARGE,
        /** The HTTP framing of the response was malformed. */
        MALFORMED_HTTP,
        /** The agent answered 400 with pRPC's {@code {"error": "..."}}; {@link #agentError()} has the text. */
        AGENT_ERROR,
        /** Any other non-200 status (404: the agent does not know the method, e.g. an older OS). */
        UNEXPECTED_STATUS,
        /** The body was not the JSON object the method returns: syntax, trailing bytes, a wrong type, bad hex, bad PEM. */
        MALFORMED_RESPONSE,
        /** Another I/O failure while writing or reading. */
        IO
    }

    private final Reason reason;
    private final String endpoint;
    private final String method;
    private final String field;
    private final String agentError;
    private final int status;

    DstackGuestException(Reason reason, String endpoint, String method, String field, int status,
            String agentError, String detail, Throwable cause) {
        super("dstack agent " + endpoint + " " + method + ": " + reason
                + (field == null ? "" : " (field " + field + ")") + (detail == null ? "" : ": " + detail), cause);
        this.reason = Objects.requireNonNull(reason);
        this.endpoint = endpoint;
        this.method = method;
        this.field = field;
        this.status = status;
        this.agentError = agentError;
    }

    /** What went wrong. */
    public Reason reason() {
        return reason;
    }

    /** The endpoint called, as resolved ({@code unix:/path} or the URL). */
    public String endpoint() {
        return endpoint;
    }

    /** The pRPC method called, e.g. {@code GetQuote}. */
    public String method() {
        return method;
    }

    /** The response field at fault ({@link Reason#MALFORMED_RESPONSE}), or null. */
    public String field() {
        return field;
    }

    /** The HTTP status, or 0 when no response was read. */
    public int status() {
        return status;
    }

    /** The agent's error text ({@link Reason#AGENT_ERROR}, at most 200 characters), or null. */
    public String agentError() {
        return agentError;
    }
}
