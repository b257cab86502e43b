package dev.atlas.dstack.ra.prpc;

/**
 * A pRPC server answered HTTP 400 with {@code {"error": "..."}}: {@link #remoteError()} is its text. It is a
 * {@link PrpcException}, so a handler that forwards a call may let it propagate to its own caller unchanged.
 */
public final class PrpcRemoteException extends PrpcException {
    private static final long serialVersionUID = 1L;
    private final String method;
    private final String remoteError;

    public PrpcRemoteException(String method, String remoteError) {
        super(remoteError);
        this.method = method;
        this.remoteError = remoteError;
    }

    /** The method that was called. */
    public String method() {
        return method;
    }

    /** The server's error text, exactly as sent. */
    public String remoteError() {
        return remoteError;
    }
}
