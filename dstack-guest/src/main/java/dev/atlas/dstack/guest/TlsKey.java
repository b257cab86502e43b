package dev.atlas.dstack.guest;

import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;

/**
 * {@code GetTlsKey}: the PKCS#8 PEM key and the PEM chain [leaf, app CA(, KMS root)] as the agent sent them,
 * parsed ({@link #privateKey}, {@link #certificates}), with a ready {@link #keyStore} and {@link #sslContext}.
 * {@link #toString} hides the key.
 */
public record TlsKey(String keyPem, List<String> certificateChainPem, PrivateKey privateKey,
        List<X509Certificate> certificates) {
    /** The alias of the entry in {@link #keyStore}. */
    public static final String ALIAS = "dstack";

    public TlsKey {
        certificateChainPem = List.copyOf(certificateChainPem);
        certificates = List.copyOf(certificates);
        if (certificates.isEmpty()) {
            throw new IllegalArgumentException("empty certificate chain");
        }
    }

    /** A fresh in-memory PKCS#12 key store with the key and chain under {@value #ALIAS}, protected by {@code password}. */
    public KeyStore keyStore(char[] password) throws GeneralSecurityException {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try {
            ks.load(null, null);
        } catch (java.io.IOException e) {
            throw new GeneralSecurityException("cannot initialise an empty PKCS12 key store", e);
        }
        ks.setKeyEntry(ALIAS, privateKey, password, certificates.toArray(new X509Certificate[0]));
        return ks;
    }

    /**
     * A TLS context presenting this key and chain; {@code trustManagers} null for the JDK's default trust.
     */
    public SSLContext sslContext(TrustManager[] trustManagers) throws GeneralSecurityException {
        char[] pw = new char[0];
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(keyStore(pw), pw);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), trustManagers, null);
        return ctx;
    }

    @Override
    public String toString() {
        return "TlsKey[key=(" + privateKey.getAlgorithm() + ", hidden), leaf="
                + certificates.get(0).getSubjectX500Principal() + ", chain=" + certificates.size() + "]";
    }
}
