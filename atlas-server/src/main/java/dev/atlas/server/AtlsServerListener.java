package dev.atlas.server;

import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * Observability hooks of {@link AtlsServer}. Called on the request's thread; implementations must be quick and
 * must not throw. Nothing passed here is secret: no nonce, EKM, report data or key material.
 */
public interface AtlsServerListener {
    /** A listener that does nothing. */
    AtlsServerListener NONE = new AtlsServerListener() { };

    /** The server measured its certificate and listens. */
    default void started(InetSocketAddress address, String certificateSha256Hex, String provider) { }

    /** A {@code /tdx_quote} request was answered with a quote. */
    default void quoteServed(InetSocketAddress client, Duration took) { }

    /** A {@code /tdx_quote} request could not be answered because the quote provider failed (HTTP 500). */
    default void quoteFailed(InetSocketAddress client, String reason, Throwable cause) { }

    /** A request was refused before it reached the application or the provider (4xx). */
    default void requestRejected(InetSocketAddress client, String path, int status, String reason) { }

    /** The upstream application failed (502/504), or the application handler threw. */
    default void applicationFailed(String path, Throwable cause) { }

    /** The server stopped. */
    default void stopped() { }

    /** A listener that writes one line per event to {@code logger} (INFO for normal events, WARNING for failures). */
    static AtlsServerListener logging(System.Logger logger) {
        return new AtlsServerListener() {
            @Override
            public void started(InetSocketAddress address, String sha, String provider) {
                logger.log(Level.INFO, "aTLS server listening on {0}; certificate sha256 {1} measured via {2}",
                        address, sha, provider);
            }

            @Override
            public void quoteServed(InetSocketAddress client, Duration took) {
                logger.log(Level.INFO, "quote served to {0} in {1} ms", client, took.toMillis());
            }

            @Override
            public void quoteFailed(InetSocketAddress client, String reason, Throwable cause) {
                logger.log(Level.WARNING, "quote for {0} failed: {1}", client, reason);
            }

            @Override
            public void requestRejected(InetSocketAddress client, String path, int status, String reason) {
                logger.log(Level.INFO, "rejected {0} {1} from {2}: {3}", status, path, client, reason);
            }

            @Override
            public void applicationFailed(String path, Throwable cause) {
                logger.log(Level.WARNING, "application failed on {0}: {1}", path, String.valueOf(cause));
            }

            @Override
            public void stopped() {
                logger.log(Level.INFO, "aTLS server stopped");
            }
        };
    }
}
