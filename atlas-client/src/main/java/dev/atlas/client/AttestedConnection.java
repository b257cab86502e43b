package dev.atlas.client;

import dev.atlas.dstack.AttestationReport;
import java.io.Closeable;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Instant;
import java.util.Objects;
import javax.net.ssl.SSLSocket;

/**
 * A TLS 1.3 connection whose server was attested on this very connection: the TLS exporter of this session is
 * bound into the quote, and the peer certificate is the one measured in RTMR3.
 *
 * <p>State machine: {@code HANDSHAKING → ATTESTING → ATTESTED → CLOSED}, or {@code → FAILED} (socket closed)
 * from the first two. Application streams are available only in {@code ATTESTED}; the output stream checks the
 * state on every write, so no application byte can leave before attestation or after close. The connector
 * returns a connection only once it is {@code ATTESTED}.
 */
public final class AttestedConnection implements Closeable {
    /** Where the connection is in its life. */
    public enum State { HANDSHAKING, ATTESTING, ATTESTED, FAILED, CLOSED }

    private final String host;
    private final int port;
    private volatile State state = State.HANDSHAKING;
    private volatile SSLSocket socket;
    private volatile java.net.Socket tcp;
    private volatile AttestationReport report;
    private volatile Instant attestedAt;

    AttestedConnection(String host, int port) {
        this.host = Objects.requireNonNull(host);
        this.port = port;
    }

    synchronized void attesting(SSLSocket s, java.net.Socket underlying) {
        require(State.HANDSHAKING);
        this.socket = s;
        this.tcp = underlying;
        this.state = State.ATTESTING;
    }

    synchronized void attested(AttestationReport r, Instant at) {
        require(State.ATTESTING);
        this.report = r;
        this.attestedAt = at;
        this.state = State.ATTESTED;
    }

    synchronized void failed() {
        if (state == State.HANDSHAKING || state == State.ATTESTING) {
            state = State.FAILED;
        }
        closeQuietly();
    }

    private void require(State s) {
        if (state != s) {
            throw new IllegalStateException("connection is " + state + ", expected " + s);
        }
    }

    /** The current state. */
    public State state() {
        return state;
    }

    public String host() {
        return host;
    }

    public int port() {
        return port;
    }

    /** The attestation report (only once attested). */
    public AttestationReport report() {
        requireAttested();
        return report;
    }

    /** When the attestation was verified, on the connector's clock. */
    public Instant attestedAt() {
        requireAttested();
        return attestedAt;
    }

    /**
     * The attested TLS socket, for handing to an HTTP client that manages its own I/O (the OkHttp adapter). Its
     * raw streams bypass this object's state check, so only take it to pass it on.
     */
    public SSLSocket socket() {
        requireAttested();
        return socket;
    }

    /** The application input stream (bytes after the attestation response). */
    public InputStream inputStream() throws IOException {
        requireAttested();
        return socket.getInputStream();
    }

    /** The application output stream; every write checks that the connection is still attested. */
    public OutputStream outputStream() throws IOException {
        requireAttested();
        return new FilterOutputStream(socket.getOutputStream()) {
            @Override
            public void write(int b) throws IOException {
                check();
                out.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                check();
                out.write(b, off, len);
            }

            private void check() throws IOException {
                if (state != State.ATTESTED) {
                    throw new IOException("connection is " + state + ": no application data may be written");
                }
            }
        };
    }

    private void requireAttested() {
        if (state != State.ATTESTED) {
            throw new IllegalStateException("connection is " + state + ", not ATTESTED");
        }
    }

    /**
     * Closes the socket; the state becomes CLOSED (FAILED stays FAILED). Sends close_notify but never waits for
     * the peer's (see {@link #closeWithoutWaiting}).
     */
    @Override
    public synchronized void close() {
        if (state != State.FAILED) {
            state = State.CLOSED;
        }
        closeQuietly();
    }

    /** Closes at once without a TLS close (SO_LINGER 0): for a connection whose last exchange failed. */
    synchronized void abort() {
        if (state != State.FAILED) {
            state = State.CLOSED;
        }
        java.net.Socket t = tcp;
        if (t != null) {
            AtlsConnector.abort(t);
        }
        closeQuietly();
    }

    private void closeQuietly() {
        SSLSocket s = socket;
        if (s != null) {
            closeWithoutWaiting(s);
        }
    }

    /**
     * Closes a TLS socket without waiting on the peer. The JDK's close sends close_notify and then, when the
     * socket has a read timeout, blocks in one read of up to that timeout hoping for the peer's close_notify (a
     * silent server turns that into a whole deadline); with no read timeout (0) it only discards what has already
     * arrived. So the timeout is cleared first; nothing reads this socket after close.
     */
    static void closeWithoutWaiting(SSLSocket s) {
        try {
            if (!s.isClosed()) {
                s.setSoTimeout(0);
            }
        } catch (IOException ignored) {
            // the underlying socket is closed already: nothing to wait for
        }
        try {
            s.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    @Override
    public String toString() {
        return "AttestedConnection[" + host + ":" + port + ", " + state + "]";
    }
}
