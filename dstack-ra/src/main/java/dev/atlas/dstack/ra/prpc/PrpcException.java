package dev.atlas.dstack.ra.prpc;

/**
 * An error a handler reports to its caller. The dispatcher answers HTTP 400 with dstack's pretty-printed
 * {@code {"error": "<message>"}}, so the message is sent to the client: it must not contain secrets.
 */
public class PrpcException extends Exception {
    private static final long serialVersionUID = 1L;

    public PrpcException(String message) {
        super(message);
    }

    public PrpcException(String message, Throwable cause) {
        super(message, cause);
    }
}
