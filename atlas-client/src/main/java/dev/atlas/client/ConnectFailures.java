package dev.atlas.client;

import java.io.IOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.util.Locale;
import javax.net.ssl.SSLException;

/**
 * Turns the JDK's network exceptions into messages that name the address and the problem in words (a bare
 * {@code java.net.ConnectException: Connection refused} names neither). The exception type is kept, so callers
 * that test for {@link SocketTimeoutException} or {@link ConnectException} still can; the JDK's exception is the
 * cause.
 */
final class ConnectFailures {
    private ConnectFailures() {}

    /** {@code host:port}, IPv6 literals in brackets. */
    static String address(String host, int port) {
        return (host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host) + ":" + port;
    }

    /** A failed TCP connect to {@code where}. */
    static IOException connect(IOException e, String where, long connectTimeoutMillis) {
        String m = e.getMessage() == null ? "" : e.getMessage().toLowerCase(Locale.ROOT);
        IOException out;
        if (e instanceof UnknownHostException) {
            out = new UnknownHostException("cannot connect to " + where + ": unknown host (the name does not resolve)");
        } else if (e instanceof SocketTimeoutException) {
            out = new SocketTimeoutException("cannot connect to " + where + ": timed out after "
                    + connectTimeoutMillis + " ms (no answer; a firewall may drop the packets)");
        } else if (e instanceof NoRouteToHostException) {
            out = new NoRouteToHostException("cannot connect to " + where + ": no route to host");
        } else if (e instanceof ConnectException && m.contains("refused")) {
            out = new ConnectException("cannot connect to " + where + ": connection refused (nothing listens there;"
                    + " check the host and port)");
        } else if (e instanceof ConnectException) {
            out = new ConnectException("cannot connect to " + where + ": " + words(e));
        } else {
            out = new IOException("cannot connect to " + where + ": " + words(e));
        }
        out.initCause(e);
        return out;
    }

    /**
     * A failed TLS handshake or quote exchange with {@code where}: the deadline (the socket's own timeout, or the
     * watchdog that aborted it), or a peer that does not speak TLS; anything else unchanged.
     */
    static IOException attempt(IOException e, boolean watchdogFired, boolean handshaking, String where,
            long deadlineMillis) {
        IOException out;
        if (watchdogFired || e instanceof SocketTimeoutException) {
            out = new SocketTimeoutException(handshaking
                    ? "the server at " + where + " did not complete the TLS handshake within " + deadlineMillis
                            + " ms (it sent nothing, or stalled part-way)"
                    : "the server at " + where + " sent no complete " + AtlsConnector.QUOTE_PATH + " response within "
                            + deadlineMillis + " ms");
        } else if (handshaking && e instanceof SSLException && notTls(e)) {
            out = ssl(e, "the server at " + where + " did not answer TLS (is it a plain-HTTP port?)");
        } else if (handshaking && (e instanceof java.io.EOFException || e.getMessage() != null
                && e.getMessage().contains("terminated the handshake"))) {
            out = ssl(e, "the server at " + where + " closed the connection during the TLS handshake"
                    + " (not a TLS server, or it refused this client's TLS 1.3 hello)");
        } else {
            return e;
        }
        out.initCause(e);
        return out;
    }

    /** An SSL exception with {@code msg}, keeping the handshake subtype. */
    private static SSLException ssl(IOException e, String msg) {
        return e instanceof javax.net.ssl.SSLHandshakeException ? new javax.net.ssl.SSLHandshakeException(msg)
                : new SSLException(msg);
    }

    private static boolean notTls(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String m = t.getMessage();
            if (m != null && (m.contains("Unsupported or unrecognized SSL message")
                    || m.contains("plaintext connection"))) {
                return true;
            }
        }
        return false;
    }

    /** The JDK's message (it has words, never only a class name). */
    private static String words(IOException e) {
        return e.getMessage() != null ? e.getMessage() : "an I/O error without detail";
    }
}
