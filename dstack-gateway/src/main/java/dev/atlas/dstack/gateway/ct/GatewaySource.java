package dev.atlas.dstack.gateway.ct;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.protocol.Http1ResponseReader;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;

/**
 * {@code GET https://gateway.<base>[:port]/.dstack/acme-info} (spec §4 step 1), over a socket this class opens so
 * that the TCP address can differ from the name: {@code connect} reaches a gateway whose name does not resolve
 * (tests, a split-horizon DNS) while SNI, {@code Host} and the certificate's host-name check stay
 * {@code gateway.<base>}. TLS is verified against the JDK's roots or the given CA certificates, never skipped.
 */
final class GatewaySource {
    private static final int MAX_HEAD = 64 * 1024;

    private final String host;
    private final int port;
    private final Optional<InetSocketAddress> connect;
    private final SSLSocketFactory tls;
    private final Duration timeout;
    private final int maxBytes;

    GatewaySource(String baseDomain, int port, Optional<InetSocketAddress> connect, List<X509Certificate> cas,
            Duration timeout, int maxBytes) throws RaException {
        this.host = "gateway." + baseDomain;
        this.port = port;
        this.connect = connect;
        this.timeout = timeout;
        this.maxBytes = maxBytes;
        try {
            SSLContext ctx = SSLContext.getInstance("TLS");
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            if (cas.isEmpty()) {
                tmf.init((KeyStore) null);
            } else {
                KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
                ks.load(null, null);
                for (int i = 0; i < cas.size(); i++) {
                    ks.setCertificateEntry("ca" + i, cas.get(i));
                }
                tmf.init(ks);
            }
            ctx.init(null, tmf.getTrustManagers(), null);
            this.tls = ctx.getSocketFactory();
        } catch (GeneralSecurityException | IOException e) {
            throw new RaException(Reason.CONFIG_INVALID, "gateway_ca", "cannot build the gateway TLS trust ("
                    + e.getClass().getSimpleName() + ")");
        }
    }

    /** The URL the monitor reads. */
    String url() {
        return "https://" + host + (port == 443 ? "" : ":" + port) + "/.dstack/acme-info";
    }

    private String where() {
        return url() + connect.map(a -> " (connected to " + a.getHostString() + ":" + a.getPort() + ")").orElse("");
    }

    /** The response body of a 2xx answer. */
    byte[] fetch() throws RaException {
        InetSocketAddress addr = connect.orElseGet(() -> new InetSocketAddress(host, port));
        if (addr.isUnresolved()) {
            throw new RaException(Reason.CT_SOURCE_UNAVAILABLE, "gateway", where() + ": " + addr.getHostString()
                    + " does not resolve (use --connect HOST:PORT to reach it by address)");
        }
        int ms = (int) Math.min(Integer.MAX_VALUE, timeout.toMillis());
        try (Socket raw = new Socket()) {
            raw.connect(addr, ms);
            raw.setSoTimeout(ms);
            try (SSLSocket s = (SSLSocket) tls.createSocket(raw, host, port, false)) {
                SSLParameters p = s.getSSLParameters();
                p.setServerNames(List.of(new SNIHostName(host)));
                p.setEndpointIdentificationAlgorithm("HTTPS");
                p.setApplicationProtocols(new String[] {"http/1.1"});
                s.setSSLParameters(p);
                s.startHandshake();
                OutputStream out = s.getOutputStream();
                out.write(("GET /.dstack/acme-info HTTP/1.1\r\nHost: " + host + (port == 443 ? "" : ":" + port)
                        + "\r\nAccept: application/json\r\nUser-Agent: atlas-ct-monitor\r\nConnection: close\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                out.flush();
                Http1ResponseReader.Response r = Http1ResponseReader.read(s, s.getInputStream(), ms, MAX_HEAD,
                        maxBytes);
                if (r.status() / 100 != 2) {
                    throw new RaException(Reason.CT_SOURCE_UNAVAILABLE, "gateway", where() + " answered HTTP "
                            + r.status());
                }
                return r.body();
            }
        } catch (Http1ResponseReader.HttpProtocolException e) {
            throw new RaException(Reason.CT_SOURCE_MALFORMED, "gateway", where() + ": " + e.getMessage());
        } catch (javax.net.ssl.SSLException e) {
            throw new RaException(Reason.CT_SOURCE_UNAVAILABLE, "gateway", where() + ": TLS failed ("
                    + e.getMessage() + "; is --gateway-ca the CA of the gateway's certificate?)");
        } catch (IOException e) {
            throw new RaException(Reason.CT_SOURCE_UNAVAILABLE, "gateway", where() + ": "
                    + e.getClass().getSimpleName() + (e.getMessage() == null ? "" : " " + e.getMessage()));
        }
    }
}
