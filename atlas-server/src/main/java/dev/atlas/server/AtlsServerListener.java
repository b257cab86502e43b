package dev.atlas.server;

import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * Observability hooks of {@link AtlsServer}, in the style of OkHttp's {@code EventListener}: every method is
 * a no-op by default, and the events of one request share one {@link AtlsServerCall}. Per request, on the
 * request's thread:
 *
 * <pre>
 * callStart
 *   [requestRejected]                              (4xx before the application or the provider)
 *   [quoteStart  quoteEnd | quoteFailed]           (POST /tdx_quote)
 *   [applicationFailed]                            (the application or the upstream failed)
 * callEnd | callFailed
 * </pre>
 *
 * plus {@link #started} and {@link #stopped} for the server itself. Implementations should be quick; an
 * exception thrown by a listener is logged once per listener class (WARNING) and otherwise ignored: it never
 * fails a request. Nothing passed here is secret: no nonce, EKM, report data or key material.
 */
public interface AtlsServerListener {
    /** A listener that does nothing. */
    AtlsServerListener NONE = new AtlsServerListener() { };

    /** The server measured its certificate and listens. */
    default void started(InetSocketAddress address, String certificateSha256Hex, String provider) { }

    /** A request arrived. */
    default void callStart(AtlsServerCall call) { }

    /** A valid {@code /tdx_quote} request goes to the quote provider. */
    default void quoteStart(AtlsServerCall call) { }

    /** A {@code /tdx_quote} request was answered with a quote. {@code took} covers the whole request. */
    default void quoteEnd(AtlsServerCall call, Duration took) { }

    /**
     * A {@code /tdx_quote} request could not be answered because the quote provider failed (HTTP 500).
     * {@code cause}'s message is the reason for logs (never sent to the client).
     */
    default void quoteFailed(AtlsServerCall call, Exception cause, Duration took) { }

    /** The request was refused before it reached the application or the provider (4xx). */
    default void requestRejected(AtlsServerCall call, int status, String reason) { }

    /** The upstream application failed (502/504), or the application handler threw. */
    default void applicationFailed(AtlsServerCall call, Exception cause, Duration took) { }

    /** The request was answered with {@code status}. */
    default void callEnd(AtlsServerCall call, int status, Duration took) { }

    /** The request ended with an exception (after {@link #applicationFailed}, or while answering). */
    default void callFailed(AtlsServerCall call, Exception cause, Duration took) { }

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
            public void quoteEnd(AtlsServerCall call, Duration took) {
                logger.log(Level.INFO, "quote served to {0} in {1} ms", call.peer(), took.toMillis());
            }

            @Override
            public void quoteFailed(AtlsServerCall call, Exception cause, Duration took) {
                logger.log(Level.WARNING, "quote for {0} failed: {1}", call.peer(), cause.getMessage());
            }

            @Override
            public void requestRejected(AtlsServerCall call, int status, String reason) {
                logger.log(Level.INFO, "rejected {0} {1} from {2}: {3}", status, call.path(), call.peer(), reason);
            }

            @Override
            public void applicationFailed(AtlsServerCall call, Exception cause, Duration took) {
                logger.log(Level.WARNING, "application failed on {0}: {1}", call.path(), String.valueOf(cause));
            }

            @Override
            public void stopped() {
                logger.log(Level.INFO, "aTLS server stopped");
            }
        };
    }
}
