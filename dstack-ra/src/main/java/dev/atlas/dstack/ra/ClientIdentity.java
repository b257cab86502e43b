package dev.atlas.dstack.ra;

import java.net.Socket;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.Objects;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * A TLS client identity that is always offered: one private key and its certificate chain, whatever acceptable
 * issuers the server lists. dstack's servers list the issuer they expect (the KMS its temp CA, a gateway the KMS
 * root CA); the JDK's default key manager would silently send no certificate when the lists do not match, and the
 * server's refusal would then name a missing certificate instead of the real mismatch. It never serves as a server
 * identity. Used by {@code KmsClient} (the RA-TLS temp-CA certificate) and the simulated guest's gateway
 * registration (the KMS-issued client certificate).
 */
public final class ClientIdentity extends X509ExtendedKeyManager {
    private static final String ALIAS = "client";
    private final PrivateKey key;
    private final X509Certificate[] chain;

    private ClientIdentity(PrivateKey key, X509Certificate[] chain) {
        this.key = key;
        this.chain = chain;
    }

    /**
     * @param key the private key of {@code chain[0]}
     * @param chain the leaf first, then its issuers (at least the leaf)
     */
    public static ClientIdentity of(PrivateKey key, X509Certificate... chain) {
        Objects.requireNonNull(key, "key");
        if (chain.length == 0) {
            throw new IllegalArgumentException("a client identity needs at least its certificate");
        }
        for (X509Certificate c : chain) {
            Objects.requireNonNull(c, "chain element");
        }
        return new ClientIdentity(key, chain.clone());
    }

    @Override
    public String[] getClientAliases(String keyType, Principal[] issuers) {
        return new String[] {ALIAS};
    }

    @Override
    public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
        return ALIAS;
    }

    @Override
    public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
        return ALIAS;
    }

    @Override
    public String[] getServerAliases(String keyType, Principal[] issuers) {
        return null;
    }

    @Override
    public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
        return null;
    }

    @Override
    public X509Certificate[] getCertificateChain(String alias) {
        return ALIAS.equals(alias) ? chain.clone() : null;
    }

    @Override
    public PrivateKey getPrivateKey(String alias) {
        return ALIAS.equals(alias) ? key : null;
    }

    /** Names the leaf's subject only; never the key. */
    @Override
    public String toString() {
        return "ClientIdentity[" + chain[0].getSubjectX500Principal().getName() + "]";
    }
}
