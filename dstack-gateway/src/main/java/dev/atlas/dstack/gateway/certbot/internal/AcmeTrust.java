package dev.atlas.dstack.gateway.certbot.internal;

import java.net.http.HttpClient;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import org.shredzone.acme4j.connector.HttpConnector;
import org.shredzone.acme4j.connector.NetworkSettings;
import org.shredzone.acme4j.provider.GenericAcmeProvider;

/**
 * The acme4j provider of the certbot: the generic ACME provider whose HTTPS trusts the JDK's roots plus the extra
 * roots given (a private or test ACME CA). Hostname verification stays on; nothing is trust-all.
 */
public final class AcmeTrust extends GenericAcmeProvider {
    private final SSLContext ssl;
    private HttpClient shared;

    private AcmeTrust(SSLContext ssl) {
        this.ssl = ssl;
    }

    /** A provider trusting the JDK's roots and {@code extraRoots}. */
    public static AcmeTrust with(List<X509Certificate> extraRoots) {
        if (extraRoots.isEmpty()) {
            return new AcmeTrust(null);
        }
        try {
            TrustManagerFactory jdk = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            jdk.init((KeyStore) null);
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            int i = 0;
            for (var tm : jdk.getTrustManagers()) {
                if (tm instanceof X509TrustManager x) {
                    for (X509Certificate c : x.getAcceptedIssuers()) {
                        ks.setCertificateEntry("jdk-" + i++, c);
                    }
                }
            }
            for (X509Certificate c : extraRoots) {
                ks.setCertificateEntry("extra-" + i++, c);
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ks);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            return new AcmeTrust(ctx);
        } catch (GeneralSecurityException | java.io.IOException e) {
            throw new IllegalStateException("cannot build the ACME trust store", e);
        }
    }

    @Override
    protected HttpConnector createHttpConnector(NetworkSettings settings) {
        return new HttpConnector(settings) {
            @Override
            public HttpClient.Builder createClientBuilder() {
                HttpClient.Builder real = super.createClientBuilder();
                if (ssl != null) {
                    real.sslContext(ssl);
                }
                return new SharedBuilder(real);
            }
        };
    }

    /**
     * acme4j 3.5.1 builds a new HttpClient for every request (a TLS handshake and a selector thread each time);
     * this builder hands out one client per provider (one per session), so connections are kept alive. acme4j
     * never closes the clients it builds, and the settings of a session do not change.
     */
    private final class SharedBuilder implements HttpClient.Builder {
        private final HttpClient.Builder real;

        SharedBuilder(HttpClient.Builder real) {
            this.real = real;
        }

        @Override
        public HttpClient build() {
            synchronized (AcmeTrust.this) {
                if (shared == null) {
                    shared = real.build();
                }
                return shared;
            }
        }

        @Override
        public HttpClient.Builder cookieHandler(java.net.CookieHandler h) { real.cookieHandler(h); return this; }
        @Override
        public HttpClient.Builder connectTimeout(java.time.Duration d) { real.connectTimeout(d); return this; }
        @Override
        public HttpClient.Builder sslContext(SSLContext c) { real.sslContext(c); return this; }
        @Override
        public HttpClient.Builder sslParameters(javax.net.ssl.SSLParameters p) { real.sslParameters(p); return this; }
        @Override
        public HttpClient.Builder executor(java.util.concurrent.Executor e) { real.executor(e); return this; }
        @Override
        public HttpClient.Builder followRedirects(HttpClient.Redirect r) { real.followRedirects(r); return this; }
        @Override
        public HttpClient.Builder version(HttpClient.Version v) { real.version(v); return this; }
        @Override
        public HttpClient.Builder priority(int p) { real.priority(p); return this; }
        @Override
        public HttpClient.Builder proxy(java.net.ProxySelector p) { real.proxy(p); return this; }
        @Override
        public HttpClient.Builder authenticator(java.net.Authenticator a) { real.authenticator(a); return this; }
        @Override
        public HttpClient.Builder localAddress(java.net.InetAddress a) { real.localAddress(a); return this; }
    }
}
