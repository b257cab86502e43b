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
        if (ssl == null) {
            return super.createHttpConnector(settings);
        }
        return new HttpConnector(settings) {
            @Override
            public HttpClient.Builder createClientBuilder() {
                return super.createClientBuilder().sslContext(ssl);
            }
        };
    }
}
