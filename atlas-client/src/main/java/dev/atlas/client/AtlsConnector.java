package dev.atlas.client;

import dev.atlas.client.internal.SafeAtlsListener;
import dev.atlas.protocol.AtlsProtocol;
import dev.atlas.protocol.Checks;
import dev.atlas.protocol.Http1ResponseReader;
import dev.atlas.dstack.AttestationReport;
import dev.atlas.dstack.DstackTdxPolicy;
import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.QuoteResponse;
import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.AttestationException.Reason;
import dev.atlas.tdx.CollateralSource;
import dev.atlas.tdx.QuoteVerifier;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * Opens attested TLS connections to a dstack CVM under one {@link DstackTdxPolicy}. Immutable, thread-safe,
 * meant to be shared (it holds the collateral cache and the verifier's signature cache).
 *
 * <p>{@link #connect} does, in this order (aTLS spec §1.9):
 * <ol>
 *   <li>TCP connect (connect timeout), {@code TCP_NODELAY};</li>
 *   <li>TLS 1.3 only, ALPN {@code http/1.1}, SNI for host names; server authentication per the trust mode:
 *       the platform trust store with hostname verification (default), a CA file, or "trust the attested
 *       certificate" (any chain is accepted in the handshake, and the attestation then requires the leaf's
 *       SHA-256 to be the last {@code New TLS Certificate} event);</li>
 *   <li>EKM = exporter({@code EXPORTER-Channel-Binding}, no context, 32), nonce = 32 CSPRNG bytes;</li>
 *   <li>{@code POST /tdx_quote} with the reference's exact bytes, the response read by a strict HTTP/1.1
 *       reader (Content-Length or chunked, size limit, one deadline for the whole response, never a byte
 *       past it); non-2xx is {@link Reason#QUOTE_REQUEST_FAILED} quoting the body;</li>
 *   <li>{@link DstackTdxVerifier} with both bindings always on: report data = SHA-512(nonce ‖ EKM) and the
 *       peer certificate.</li>
 * </ol>
 * Any failure aborts the socket (no graceful TLS close, so closing never waits on the server). The handshake
 * and the quote response share one deadline ({@link Builder#attestTimeout}). Collateral comes from the policy's {@code pccs_url}; with
 * {@code cache_collateral} it is cached per connector for {@link CollateralSource#CACHE_TTL} (or
 * less: never past the collateral's own {@code nextUpdate}), concurrent connects sharing one fetch.
 */
public final class AtlsConnector {
    /** The reference request's path. */
    public static final String QUOTE_PATH = AtlsProtocol.QUOTE_PATH;

    /** How the server's TLS certificate is authenticated in the handshake. */
    public enum TrustMode {
        /** The platform trust store, with hostname verification. */
        SYSTEM,
        /** Certificates from a CA file, with hostname verification. */
        CA_FILE,
        /** Any certificate; its hash must be the attested {@code New TLS Certificate} (no hostname check). */
        ATTESTED_CERTIFICATE
    }

    private final DstackTdxPolicy policy;
    private final DstackTdxVerifier verifier;
    private final SSLContext sslContext;
    private final TrustMode trustMode;
    private final Duration connectTimeout;
    private final Duration attestTimeout;
    private final int maxResponseBytes;
    private final AtlsListener listener;
    private final AtomicLong calls = new AtomicLong();
    private final Clock clock;
    private final SecureRandom random;

    private AtlsConnector(Builder b) throws GeneralSecurityException, IOException {
        this.policy = b.policy;
        this.trustMode = b.trustMode;
        this.connectTimeout = b.connectTimeout;
        this.attestTimeout = b.attestTimeout;
        this.maxResponseBytes = b.maxResponseBytes;
        this.listener = SafeAtlsListener.wrap(b.listener);
        this.clock = b.clock;
        this.random = new SecureRandom();
        this.sslContext = sslContext(b);
        QuoteVerifier.Builder qv = QuoteVerifier.builder().clock(b.clock);
        if (b.intelRootForTesting != null) {
            qv.insecureTrustAnchorForTesting(b.intelRootForTesting);
        }
        CollateralSource source = b.collateralSource != null ? b.collateralSource
                : CollateralSource.forUrl(policy.collateralUrl(), policy.cacheCollateral(), b.clock);
        this.verifier = DstackTdxVerifier.builder().quoteVerifier(qv.build())
                .collateralSource(source).clock(b.clock).build();
    }

    /** A builder for connections under {@code policy}. */
    public static Builder builder(DstackTdxPolicy policy) {
        return new Builder(policy);
    }

    /** The policy. */
    public DstackTdxPolicy policy() {
        return policy;
    }

    /** The trust mode. */
    public TrustMode trustMode() {
        return trustMode;
    }

    /**
     * Connects to {@code host:port} and attests the server.
     *
     * @throws AttestationException when the server's evidence does not satisfy the policy (the reason says
     *                              which check), or the quote request was answered with an error status
     * @throws IOException          on network failure, TLS failure or timeout
     */
    public AttestedConnection connect(String host, int port) throws IOException, AttestationException {
        long t0 = System.nanoTime();
        AtlsCall call = newCall(host, port);
        listener.callStart(call);
        listener.connectStart(call);
        Socket tcp = new Socket();
        try {
            tcp.setTcpNoDelay(true);
            tcp.connect(new InetSocketAddress(host, port), (int) connectTimeout.toMillis());
        } catch (IOException e) {
            closeQuietly(tcp);
            IOException explained = ConnectFailures.connect(e, ConnectFailures.address(host, port),
                    connectTimeout.toMillis());
            listener.connectFailed(call, explained, since(t0));
            listener.callFailed(call, explained, since(t0));
            throw explained;
        }
        listener.connectEnd(call, since(t0));
        return attest(call, tcp, host, port, t0);
    }

    /**
     * Runs TLS and attestation over an already connected TCP socket (for HTTP clients that connect sockets
     * themselves). The socket is closed on failure.
     */
    public AttestedConnection attest(Socket connectedTcp, String host, int port)
            throws IOException, AttestationException {
        long t0 = System.nanoTime();
        AtlsCall call = newCall(host, port);
        listener.callStart(call);
        return attest(call, connectedTcp, host, port, t0);
    }

    private AtlsCall newCall(String host, int port) {
        return new AtlsCall(calls.incrementAndGet(), host, port, clock.instant());
    }

    /** The step of an attempt that is under way, for its {@code xxxFailed} event. */
    private enum Step { HANDSHAKE, QUOTE, VERIFY }

    /** {@code xxxFailed} of the step under way, then {@code callFailed}. */
    private void failed(AtlsCall call, Step step, long stepStart, Exception cause, long t0) {
        switch (step) {
            case HANDSHAKE -> listener.handshakeFailed(call, cause, since(stepStart));
            case QUOTE -> listener.quoteFailed(call, cause, since(stepStart));
            case VERIFY -> listener.verifyFailed(call, cause, since(stepStart));
        }
        listener.callFailed(call, cause, since(t0));
    }

    private AttestedConnection attest(AtlsCall call, Socket tcp, String host, int port, long t0)
            throws IOException, AttestationException {
        AttestedConnection conn = new AttestedConnection(host, port);
        String where = ConnectFailures.address(host, port);
        long timeoutMillis = attestTimeout.toMillis();
        // One deadline for the TLS handshake and the whole quote response. Socket timeouts bound each read; the
        // watchdog bounds the sum (a server dripping handshake bytes would otherwise restart SO_TIMEOUT on every
        // read) by aborting the TCP socket shortly after the deadline. Verification runs after it (its collateral
        // fetch has the collateral client's own timeouts).
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
        Watchdog watchdog = Watchdog.arm(tcp, timeoutMillis + Watchdog.GRACE_MILLIS);
        boolean handshaking = true;
        Step step = Step.HANDSHAKE;
        long stepStart = System.nanoTime();
        listener.handshakeStart(call);
        try {
            tcp.setTcpNoDelay(true);
            SSLSocket s = (SSLSocket) sslContext.getSocketFactory().createSocket(tcp, host, port, true);
            configure(s, host, true, trustMode != TrustMode.ATTESTED_CERTIFICATE);
            long th = System.nanoTime();
            s.setSoTimeout((int) timeoutMillis);
            s.startHandshake();
            handshaking = false;
            SSLSession session = s.getSession();
            listener.handshakeEnd(call, session.getProtocol(), session.getCipherSuite(), since(th));
            conn.attesting(s, tcp);

            if (!"TLSv1.3".equals(session.getProtocol()) || !(session instanceof ExtendedSSLSession es)) {
                throw new AttestationException(Reason.CHANNEL_BINDING_UNAVAILABLE,
                        "the session is " + session.getProtocol() + ", not TLS 1.3: no sound exporter binding");
            }
            Certificate[] peer = session.getPeerCertificates();
            if (peer.length == 0) {
                throw new AttestationException(Reason.CHANNEL_BINDING_UNAVAILABLE, "the server sent no certificate");
            }
            byte[] leaf = peer[0].getEncoded();
            byte[] ekm = es.exportKeyingMaterialData(AtlsProtocol.EXPORTER_LABEL, null,
                    AtlsProtocol.EXPORTER_LENGTH);
            if (ekm == null || ekm.length != AtlsProtocol.EXPORTER_LENGTH) {
                throw new AttestationException(Reason.CHANNEL_BINDING_UNAVAILABLE, "the TLS exporter gave no 32-byte value");
            }
            byte[] nonce = new byte[AtlsProtocol.NONCE_LENGTH];
            random.nextBytes(nonce);

            long tq = System.nanoTime();
            step = Step.QUOTE;
            stepStart = tq;
            listener.quoteStart(call);
            long left = (deadline - System.nanoTime()) / 1_000_000L;
            if (left <= 0) {
                throw new java.net.SocketTimeoutException("deadline passed before the quote request");
            }
            Http1ResponseReader.Response r = requestQuote(s, host, nonce, left);
            if (!watchdog.disarm()) {
                throw new java.net.SocketTimeoutException("aborted at the deadline");
            }
            if (r.status() < 200 || r.status() > 299) {
                throw new AttestationException(Reason.QUOTE_REQUEST_FAILED, "POST " + QUOTE_PATH + " answered "
                        + r.status() + ": " + Http1ResponseReader.abbreviate(r.bodyText()));
            }
            listener.quoteEnd(call, r.bodyLength(), since(tq));
            step = Step.VERIFY;
            stepStart = System.nanoTime();
            listener.verifyStart(call);
            QuoteResponse qr = QuoteResponse.parse(r.bodyText());
            AttestationReport report = verifier.verify(DstackTdxVerifier.Evidence.builder(qr)
                    .sessionBinding(nonce, ekm).peerCertificate(leaf).build(), policy);
            java.util.Arrays.fill(ekm, (byte) 0);
            s.setSoTimeout(0);
            conn.attested(report, clock.instant());
            listener.verifyEnd(call, report, since(stepStart));
            listener.callEnd(call, report, since(t0));
            return conn;
        } catch (Http1ResponseReader.HttpProtocolException e) {
            boolean fired = !watchdog.disarm();
            fail(conn, tcp);
            if (fired) {
                IOException t = ConnectFailures.attempt(e, true, false, where, timeoutMillis);
                failed(call, step, stepStart, t, t0);
                throw t;
            }
            AttestationException ae = new AttestationException(Reason.MALFORMED_RESPONSE,
                    "malformed " + QUOTE_PATH + " response: " + e.getMessage(), e);
            failed(call, step, stepStart, ae, t0);
            throw ae;
        } catch (IOException e) {
            boolean fired = !watchdog.disarm();
            fail(conn, tcp);
            IOException t = ConnectFailures.attempt(e, fired, handshaking, where, timeoutMillis);
            failed(call, step, stepStart, t, t0);
            throw t;
        } catch (AttestationException | RuntimeException e) {
            watchdog.disarm();
            fail(conn, tcp);
            failed(call, step, stepStart, e, t0);
            throw e;
        } catch (CertificateException e) {
            watchdog.disarm();
            fail(conn, tcp);
            IOException t = new IOException("cannot encode the peer certificate of " + where + ": " + e.getMessage(), e);
            failed(call, step, stepStart, t, t0);
            throw t;
        }
    }

    private Http1ResponseReader.Response requestQuote(SSLSocket s, String host, byte[] nonce, long timeoutMillis)
            throws IOException {
        OutputStream out = s.getOutputStream();
        out.write(AtlsProtocol.quoteRequest(host, nonce));
        out.flush();
        InputStream in = s.getInputStream();
        return Http1ResponseReader.read(s, in, timeoutMillis, AtlsProtocol.MAX_RESPONSE_HEAD, maxResponseBytes);
    }


    /**
     * Ends a failed attempt at once: the TCP socket is aborted (SO_LINGER 0, so the kernel sends RST and keeps
     * nothing) before the TLS socket is closed. Closing the TLS socket first would send close_notify and then,
     * in the JDK, wait to read the peer's with the last SO_TIMEOUT, which a server that went silent turns into
     * up to a second full deadline. A failed, untrusted connection gets no graceful TLS close.
     */
    private static void fail(AttestedConnection conn, Socket tcp) {
        abort(tcp);
        conn.failed();
    }

    /** Closes {@code tcp} with SO_LINGER 0; never blocks. */
    static void abort(Socket tcp) {
        try {
            tcp.setSoLinger(true, 0);
        } catch (IOException ignored) {
            // already closed, or not connected: close anyway
        }
        closeQuietly(tcp);
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    private static Duration since(long t0) {
        return Duration.ofNanos(System.nanoTime() - t0);
    }

    /**
     * Client TLS parameters for {@code host}: ALPN {@code http/1.1} only, SNI for host names (none for IP
     * literals), TLS 1.3 only if asked, HTTPS hostname verification if asked.
     */
    static void configure(SSLSocket s, String host, boolean tls13Only, boolean verifyHostname) {
        SSLParameters p = s.getSSLParameters();
        if (tls13Only) {
            p.setProtocols(new String[] {"TLSv1.3"});
        }
        p.setApplicationProtocols(new String[] {"http/1.1"});
        if (!isIpLiteral(host)) {
            p.setServerNames(List.of(new SNIHostName(host)));
        }
        if (verifyHostname) {
            p.setEndpointIdentificationAlgorithm("HTTPS");
        }
        s.setSSLParameters(p);
    }

    static boolean isIpLiteral(String host) {
        return host.indexOf(':') >= 0 || host.chars().allMatch(c -> (c >= '0' && c <= '9') || c == '.');
    }

    private static SSLContext sslContext(Builder b) throws GeneralSecurityException, IOException {
        SSLContext ctx = SSLContext.getInstance("TLSv1.3");
        TrustManager[] tms;
        switch (b.trustMode) {
            case SYSTEM -> {
                TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                tmf.init((KeyStore) null);
                tms = tmf.getTrustManagers();
            }
            case CA_FILE -> {
                KeyStore ks = KeyStore.getInstance("PKCS12");
                ks.load(null, null);
                int i = 0;
                for (X509Certificate c : b.caCertificates) {
                    ks.setCertificateEntry("ca" + i++, c);
                }
                TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                tmf.init(ks);
                tms = tmf.getTrustManagers();
            }
            default -> tms = new TrustManager[] {new AttestedCertificateTrustManager()};
        }
        ctx.init(null, tms, null);
        return ctx;
    }

    /**
     * Accepts any server chain in the handshake (JSSE still verifies the handshake signature with the leaf's
     * key). Sound only because the connector then requires the leaf's hash in the attested event log.
     */
    private static final class AttestedCertificateTrustManager implements X509TrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("not a server");
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            if (chain == null || chain.length == 0) {
                throw new CertificateException("no server certificate");
            }
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }

    /** Builder. */
    public static final class Builder {
        private final DstackTdxPolicy policy;
        private TrustMode trustMode = TrustMode.SYSTEM;
        private List<X509Certificate> caCertificates = List.of();
        private X509Certificate intelRootForTesting;
        private CollateralSource collateralSource;
        private Duration connectTimeout = Duration.ofSeconds(10);
        private Duration attestTimeout = Duration.ofSeconds(30);
        private int maxResponseBytes = QuoteResponse.MAX_CHARS;
        private AtlsListener listener = AtlsListener.NONE;
        private Clock clock = Clock.systemUTC();

        private Builder(DstackTdxPolicy policy) {
            this.policy = Objects.requireNonNull(policy, "policy");
        }

        /** Authenticate the server's certificate with these CAs (and its hostname) instead of the platform's. */
        public Builder trustCertificates(List<X509Certificate> cas) {
            if (cas.isEmpty()) {
                throw new IllegalArgumentException("no CA certificate");
            }
            this.caCertificates = List.copyOf(cas);
            this.trustMode = TrustMode.CA_FILE;
            return this;
        }

        /** {@link #trustCertificates} from a PEM (or DER) file. */
        public Builder trustCaFile(Path file) throws IOException {
            List<X509Certificate> cas = new ArrayList<>();
            try (InputStream in = Files.newInputStream(file)) {
                for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                    cas.add((X509Certificate) c);
                }
            } catch (CertificateException e) {
                throw new IOException("cannot read CA certificates from " + file + ": " + e.getMessage(), e);
            }
            return trustCertificates(cas);
        }

        /**
         * Accept the server's certificate without a CA or hostname check because its SHA-256 must equal the
         * attested {@code New TLS Certificate} event (Atlas's {@code accept_self_signed_certs}). Needed for
         * self-signed servers such as the simulator; the binding check itself is never skipped.
         */
        public Builder trustAttestedCertificate() {
            this.trustMode = TrustMode.ATTESTED_CERTIFICATE;
            this.caCertificates = List.of();
            return this;
        }

        /** Replace the pinned Intel SGX root, for simulated CVMs only. */
        public Builder insecureIntelRootForTesting(X509Certificate root) {
            this.intelRootForTesting = Objects.requireNonNull(root);
            return this;
        }

        /** Where collateral comes from (default: the policy's {@code pccs_url}, cached if it says so). */
        public Builder collateralSource(CollateralSource s) {
            this.collateralSource = Objects.requireNonNull(s);
            return this;
        }

        /** TCP connect timeout (default 10 s). */
        public Builder connectTimeout(Duration d) {
            this.connectTimeout = positive(d);
            return this;
        }

        /**
         * One deadline for the TLS handshake and the whole quote response together (default 30 s); a failed
         * attempt, socket close included, ends within it plus a fixed 200 ms (the watchdog aborts the socket then).
         */
        public Builder attestTimeout(Duration d) {
            this.attestTimeout = positive(d);
            return this;
        }

        /** Largest {@code /tdx_quote} response body (default 8 MiB). */
        public Builder maxResponseBytes(int n) {
            this.maxResponseBytes = Checks.atLeast(n, 1024, "maxResponseBytes");
            return this;
        }

        public Builder listener(AtlsListener l) {
            this.listener = Objects.requireNonNull(l);
            return this;
        }

        /** Clock for DCAP validity and the collateral cache (default system UTC). */
        public Builder clock(Clock c) {
            this.clock = Objects.requireNonNull(c);
            return this;
        }

        /** Checks a timeout or TTL: positive and at most {@code Integer.MAX_VALUE} ms (a socket timeout). */
        static Duration positive(Duration d) {
            return Checks.socketTimeout(d);
        }

        /**
         * Builds the connector.
         *
         * @throws IOException when the TLS context cannot be set up
         */
        public AtlsConnector build() throws IOException {
            try {
                return new AtlsConnector(this);
            } catch (GeneralSecurityException e) {
                throw new IOException("cannot set up TLS: " + e.getMessage(), e);
            }
        }
    }
}
