package dev.atlas.bench;

import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/** Shared pieces of the scripted load runs (ServerLoad, ConnectLoad). */
final class LoadSupport {
    private LoadSupport() {}

    /** The {@code p}-th percentile of nanosecond samples, in microseconds. */
    static long percentileMicros(List<Long> ns, int p) {
        List<Long> s = new ArrayList<>(ns);
        Collections.sort(s);
        return s.get(Math.min(s.size() - 1, s.size() * p / 100)) / 1000;
    }

    /** A TLS 1.3 client context that trusts exactly {@code cert} (the load runs' self-signed server). */
    static SSLContext trusting(X509Certificate cert) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setCertificateEntry("s", cert);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(ks);
        SSLContext ctx = SSLContext.getInstance("TLSv1.3");
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
    }
}
