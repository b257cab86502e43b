package dev.atlas.client;

import dev.atlas.dstack.AttestationReport;
import java.lang.System.Logger.Level;
import java.time.Duration;

/**
 * Observability hooks of {@link AtlsConnector}, in the style of OkHttp's {@code EventListener}: every method
 * is a no-op by default, and the events of one attempt share one {@link AtlsCall}. They are called on the
 * connecting thread in this order:
 *
 * <pre>
 * callStart
 *   connectStart  connectEnd | connectFailed        (not for {@link AtlsConnector#attest}: the socket is given)
 *   handshakeStart handshakeEnd | handshakeFailed
 *   quoteStart    quoteEnd | quoteFailed
 *   verifyStart   verifyEnd | verifyFailed   (verifyEnd's report says whether collateral came from cache)
 * callEnd | callFailed
 * </pre>
 *
 * After a {@code xxxFailed} only {@code callFailed} follows. Implementations should be quick; an exception
 * thrown by a listener is logged once per listener class (WARNING) and otherwise ignored: it never fails a
 * connection. Nothing passed here is secret: no nonce, EKM or report data beyond the {@link AttestationReport}.
 */
public interface AtlsListener {
    /** A listener that does nothing. */
    AtlsListener NONE = new AtlsListener() { };

    /** An attempt starts. */
    default void callStart(AtlsCall call) { }

    /** The TCP connect starts. */
    default void connectStart(AtlsCall call) { }

    /** TCP connected. */
    default void connectEnd(AtlsCall call, Duration took) { }

    /** The TCP connect failed (the cause is also passed to {@link #callFailed}). */
    default void connectFailed(AtlsCall call, Exception cause, Duration took) { }

    /** The TLS handshake starts. */
    default void handshakeStart(AtlsCall call) { }

    /** TLS handshake done. */
    default void handshakeEnd(AtlsCall call, String protocol, String cipherSuite, Duration took) { }

    /** The TLS handshake, or the exporter binding right after it, failed. */
    default void handshakeFailed(AtlsCall call, Exception cause, Duration took) { }

    /** {@code POST /tdx_quote} is about to be sent. */
    default void quoteStart(AtlsCall call) { }

    /** The {@code /tdx_quote} response arrived ({@code bytes} of body). */
    default void quoteEnd(AtlsCall call, int bytes, Duration took) { }

    /** The quote request failed (I/O, timeout, malformed response or error status). */
    default void quoteFailed(AtlsCall call, Exception cause, Duration took) { }

    /** Verification (integrity, collateral, policy) starts. */
    default void verifyStart(AtlsCall call) { }

    /**
     * The evidence verified and satisfies the policy. Whether the Intel collateral came from the connector's
     * cache is {@code report.collateralFromCache()}.
     */
    default void verifyEnd(AtlsCall call, AttestationReport report, Duration took) { }

    /** Verification failed (usually an {@code AttestationException} whose reason says which check). */
    default void verifyFailed(AtlsCall call, Exception cause, Duration took) { }

    /** The connection is attested. {@code took} covers everything from the start of the call. */
    default void callEnd(AtlsCall call, AttestationReport report, Duration took) { }

    /** The attempt failed; the socket is closed. {@code cause} is what the connector throws. */
    default void callFailed(AtlsCall call, Exception cause, Duration took) { }

    /** A listener that logs one line per event (DEBUG for steps, INFO for attested, WARNING for failures). */
    static AtlsListener logging(System.Logger logger) {
        return new AtlsListener() {
            @Override
            public void connectEnd(AtlsCall call, Duration took) {
                logger.log(Level.DEBUG, "aTLS {0}:{1}: TCP connected in {2} ms", call.host(), call.port(),
                        took.toMillis());
            }

            @Override
            public void handshakeEnd(AtlsCall call, String protocol, String suite, Duration took) {
                logger.log(Level.DEBUG, "aTLS {0}: {1} {2} in {3} ms", call.host(), protocol, suite, took.toMillis());
            }

            @Override
            public void quoteEnd(AtlsCall call, int bytes, Duration took) {
                logger.log(Level.DEBUG, "aTLS {0}: quote response of {1} bytes in {2} ms", call.host(), bytes,
                        took.toMillis());
            }

            @Override
            public void verifyEnd(AtlsCall call, AttestationReport report, Duration took) {
                logger.log(Level.DEBUG, "aTLS {0}: verified in {1} ms (collateral {2})", call.host(), took.toMillis(),
                        report.collateralFromCache() ? "from cache" : "fetched");
            }

            @Override
            public void callEnd(AtlsCall call, AttestationReport report, Duration took) {
                logger.log(Level.INFO, "aTLS {0}: attested ({1}) in {2} ms", call.host(), report.tcbStatus().jsonName(),
                        took.toMillis());
            }

            @Override
            public void callFailed(AtlsCall call, Exception cause, Duration took) {
                logger.log(Level.WARNING, "aTLS {0}: failed after {1} ms: {2}", call.host(), took.toMillis(),
                        cause.toString());
            }
        };
    }
}
