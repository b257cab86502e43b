package dev.atlas.client;

import dev.atlas.dstack.AttestationReport;
import java.lang.System.Logger.Level;
import java.time.Duration;

/**
 * Observability hooks of {@link AtlsConnector}, called on the connecting thread in this order: connect,
 * handshake, quote fetched, collateral, then verified or failed. Implementations must be quick and must not
 * throw. Nothing passed here is secret: no nonce, EKM or report data.
 */
public interface AtlsListener {
    /** A listener that does nothing. */
    AtlsListener NONE = new AtlsListener() { };

    /** TCP connected. */
    default void connected(String host, int port, Duration took) { }

    /** TLS handshake done. */
    default void handshakeDone(String host, String protocol, String cipherSuite, Duration took) { }

    /** The {@code /tdx_quote} response arrived. */
    default void quoteFetched(String host, int bytes, Duration took) { }

    /** Collateral came from the connector's cache ({@code fromCache}) or was fetched. */
    default void collateral(boolean fromCache, Duration took) { }

    /** The connection is attested. {@code took} covers everything from the TCP connect. */
    default void verified(String host, AttestationReport report, Duration took) { }

    /** Attestation or I/O failed; the socket is closed. */
    default void failed(String host, Throwable cause, Duration took) { }

    /** A listener that logs one line per event (DEBUG for steps, INFO for verified, WARNING for failures). */
    static AtlsListener logging(System.Logger logger) {
        return new AtlsListener() {
            @Override
            public void connected(String host, int port, Duration took) {
                logger.log(Level.DEBUG, "aTLS {0}:{1}: TCP connected in {2} ms", host, port, took.toMillis());
            }

            @Override
            public void handshakeDone(String host, String protocol, String suite, Duration took) {
                logger.log(Level.DEBUG, "aTLS {0}: {1} {2} in {3} ms", host, protocol, suite, took.toMillis());
            }

            @Override
            public void quoteFetched(String host, int bytes, Duration took) {
                logger.log(Level.DEBUG, "aTLS {0}: quote response of {1} bytes in {2} ms", host, bytes, took.toMillis());
            }

            @Override
            public void collateral(boolean fromCache, Duration took) {
                logger.log(Level.DEBUG, "aTLS: collateral {0} in {1} ms", fromCache ? "from cache" : "fetched",
                        took.toMillis());
            }

            @Override
            public void verified(String host, AttestationReport report, Duration took) {
                logger.log(Level.INFO, "aTLS {0}: attested ({1}) in {2} ms", host, report.tcbStatus().jsonName(),
                        took.toMillis());
            }

            @Override
            public void failed(String host, Throwable cause, Duration took) {
                logger.log(Level.WARNING, "aTLS {0}: failed after {1} ms: {2}", host, took.toMillis(), cause.toString());
            }
        };
    }
}
