package dev.atlas.proxy;

/** A target or allowlist entry that is not a clean {@code host:port}; the message says what is wrong. */
public final class InvalidTargetException extends Exception {
    private static final long serialVersionUID = 1L;

    public InvalidTargetException(String message) {
        super(message);
    }
}
