package dev.atlas.cli.devnet;

import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * The TLS context of the devnet's readiness probes ("does this component complete a handshake yet?"). It
 * accepts any server certificate because no trust decision rests on a probe connection: nothing is sent on it,
 * and the apps are attested by {@code atlas get} / the demo's verifier, the KMS by its clients' own checks.
 * Never use it for a connection that carries data.
 */
public final class ReadinessProbe {
    private static final SSLContext CONTEXT = create();

    private ReadinessProbe() {
    }

    /** The shared probe context (client side only; it refuses to act as a client-certificate verifier). */
    public static SSLContext tlsContext() {
        return CONTEXT;
    }

    private static SSLContext create() {
        try {
            SSLContext c = SSLContext.getInstance("TLS");
            c.init(null, new TrustManager[] {new X509TrustManager() {
                @Override
                public void checkClientTrusted(X509Certificate[] chain, String authType) {
                    throw new UnsupportedOperationException("readiness probe: client side only");
                }

                @Override
                public void checkServerTrusted(X509Certificate[] chain, String authType) {
                    // a readiness probe: no trust decision is made on this connection (see the class comment)
                }

                @Override
                public X509Certificate[] getAcceptedIssuers() {
                    return new X509Certificate[0];
                }
            }}, null);
            return c;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("no TLS context for the readiness probe", e);
        }
    }
}
