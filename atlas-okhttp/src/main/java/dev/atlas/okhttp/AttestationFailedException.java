package dev.atlas.okhttp;

import dev.atlas.tdx.AttestationException;
import javax.net.ssl.SSLPeerUnverifiedException;

/**
 * Thrown from OkHttp calls when the server's attestation failed. An {@link SSLPeerUnverifiedException}, which
 * OkHttp does not retry, so no request is ever sent to an unattested server. {@link #attestationException()}
 * carries the reason.
 */
public final class AttestationFailedException extends SSLPeerUnverifiedException {
    private static final long serialVersionUID = 1L;
    private final transient AttestationException cause;

    AttestationFailedException(String host, AttestationException cause) {
        super("attestation of " + host + " failed: " + cause.getMessage());
        this.cause = cause;
        initCause(cause);
    }

    /** The verification failure, with its {@link AttestationException#reason()}. */
    public AttestationException attestationException() {
        return cause;
    }

    /** Shortcut for {@code attestationException().reason()}. */
    public AttestationException.Reason reason() {
        return cause.reason();
    }
}
