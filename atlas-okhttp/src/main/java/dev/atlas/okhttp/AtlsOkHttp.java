package dev.atlas.okhttp;

import dev.atlas.client.AtlsConnector;
import dev.atlas.client.AttestedConnection;
import dev.atlas.dstack.AttestationReport;
import dev.atlas.tdx.AttestationException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.security.cert.X509Certificate;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.WeakHashMap;
import java.util.function.Function;
import javax.net.ssl.HostnameVerifier;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.X509TrustManager;
import okhttp3.ConnectionSpec;
import okhttp3.Interceptor;
import okhttp3.OkHttpClient;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.Response;

/**
 * Attested TLS for OkHttp: the {@link SSLSocketFactory} attests inside {@code createSocket}, so OkHttp's pool
 * only ever holds attested sockets and a failed attestation means no request is sent
 * ({@link AttestationFailedException}, not retried). {@link #report(Response)} gives the
 * {@link AttestationReport} of the connection that carried a response.
 *
 * <pre>{@code
 * OkHttpClient client = AtlsOkHttp.configure(new OkHttpClient.Builder(), host -> connector).build();
 * try (Response r = client.newCall(new Request.Builder().url("https://cvm.example/v1/models").build()).execute()) {
 *     AttestationReport report = AtlsOkHttp.report(r).orElseThrow();
 * }
 * }</pre>
 */
public final class AtlsOkHttp {
    private final Function<String, AtlsConnector> connectors;
    private final Map<Socket, AttestedConnection> attested = Collections.synchronizedMap(new WeakHashMap<>());
    private final Map<SSLSession, AttestedConnection> sessions = Collections.synchronizedMap(new WeakHashMap<>());

    private AtlsOkHttp(Function<String, AtlsConnector> connectors) {
        this.connectors = Objects.requireNonNull(connectors);
    }

    /**
     * Configures {@code builder} for attested connections: the socket factory, a hostname verifier, HTTP/1.1
     * only (the attested connection speaks HTTP/1.1, spec §1.1), TLS 1.3 only, and the report interceptor.
     *
     * @param connectorForHost the connector (policy) for a host; returning null refuses the host (no plain HTTPS
     *                         through this client)
     */
    public static OkHttpClient.Builder configure(OkHttpClient.Builder builder, Function<String, AtlsConnector> connectorForHost) {
        AtlsOkHttp a = new AtlsOkHttp(connectorForHost);
        return builder.sslSocketFactory(a.socketFactory(), a.trustManager())
                .hostnameVerifier(a.hostnameVerifier())
                .protocols(List.of(Protocol.HTTP_1_1))
                .connectionSpecs(List.of(new ConnectionSpec.Builder(ConnectionSpec.RESTRICTED_TLS)
                        .tlsVersions(okhttp3.TlsVersion.TLS_1_3).build()))
                .addInterceptor(chain -> chain.proceed(chain.request().newBuilder()
                        .tag(ReportHolder.class, new ReportHolder()).build()))
                .addNetworkInterceptor(a.reportInterceptor());
    }

    /** Filled by the network interceptor; travels on the application-level request, which OkHttp returns. */
    static final class ReportHolder {
        volatile AttestationReport report;
    }

    /**
     * The attestation report of the connection that carried {@code response} (for clients built with
     * {@link #configure}); empty for a response served from OkHttp's cache.
     */
    public static java.util.Optional<AttestationReport> report(Response response) {
        ReportHolder h = response.request().tag(ReportHolder.class);
        if (h != null && h.report != null) {
            return java.util.Optional.of(h.report);
        }
        Response network = response.networkResponse();
        return java.util.Optional.ofNullable(network == null ? null : network.request().tag(AttestationReport.class));
    }

    /** The factory that attests inside {@code createSocket}. */
    private SSLSocketFactory socketFactory() {
        return new Factory();
    }

    /**
     * The trust manager OkHttp asks for. Certificates are judged by the connector during attestation, before
     * OkHttp sees the socket; this one refuses any other use.
     */
    private X509TrustManager trustManager() {
        return new X509TrustManager() {
            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) throws java.security.cert.CertificateException {
                throw new java.security.cert.CertificateException("attested connections are made by AtlsConnector");
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) throws java.security.cert.CertificateException {
                throw new java.security.cert.CertificateException("attested connections are made by AtlsConnector");
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        };
    }

    /**
     * Accepts a session only if it belongs to a socket this adapter attested for that host: the connector already
     * authenticated the server in its trust mode (hostname verification included, except in "trust the attested
     * certificate" mode where the attestation binds the certificate instead).
     */
    private HostnameVerifier hostnameVerifier() {
        return (host, session) -> {
            AttestedConnection c = sessions.get(session);
            return c != null && c.host().equalsIgnoreCase(host);
        };
    }

    /** A network interceptor that tags each request with its connection's report. */
    private Interceptor reportInterceptor() {
        return chain -> {
            Request req = chain.request();
            okhttp3.Connection conn = chain.connection();
            AttestedConnection c = conn == null ? null : attested.get(conn.socket());
            if (c == null) {
                throw new IOException("request on a connection that was not attested");
            }
            ReportHolder holder = req.tag(ReportHolder.class);
            if (holder != null) {
                holder.report = c.report();
            }
            return chain.proceed(req.newBuilder().tag(AttestationReport.class, c.report()).build());
        };
    }

    private AttestedConnection attest(Socket tcp, String host, int port) throws IOException {
        AtlsConnector connector = connectors.apply(host);
        if (connector == null) {
            tcp.close();
            throw new javax.net.ssl.SSLPeerUnverifiedException("no attestation policy for " + host);
        }
        try {
            AttestedConnection c = connector.attest(tcp, host, port);
            attested.put(c.socket(), c);
            sessions.put(c.socket().getSession(), c);
            return c;
        } catch (AttestationException e) {
            throw new AttestationFailedException(host, e);
        }
    }

    private final class Factory extends SSLSocketFactory {
        private final SSLSocketFactory defaults = (SSLSocketFactory) SSLSocketFactory.getDefault();

        @Override
        public String[] getDefaultCipherSuites() {
            return defaults.getDefaultCipherSuites();
        }

        @Override
        public String[] getSupportedCipherSuites() {
            return defaults.getSupportedCipherSuites();
        }

        @Override
        public Socket createSocket(Socket s, String host, int port, boolean autoClose) throws IOException {
            return attest(s, host, port).socket();
        }

        @Override
        public Socket createSocket(String host, int port) throws IOException {
            Socket tcp = new Socket();
            tcp.connect(new InetSocketAddress(host, port));
            return attest(tcp, host, port).socket();
        }

        @Override
        public Socket createSocket(String host, int port, InetAddress local, int localPort) throws IOException {
            Socket tcp = new Socket();
            tcp.bind(new InetSocketAddress(local, localPort));
            tcp.connect(new InetSocketAddress(host, port));
            return attest(tcp, host, port).socket();
        }

        @Override
        public Socket createSocket(InetAddress address, int port) throws IOException {
            return createSocket(address.getHostAddress(), port);
        }

        @Override
        public Socket createSocket(InetAddress address, int port, InetAddress local, int localPort) throws IOException {
            return createSocket(address.getHostAddress(), port, local, localPort);
        }
    }
}
