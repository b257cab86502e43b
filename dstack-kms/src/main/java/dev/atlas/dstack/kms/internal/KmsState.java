package dev.atlas.dstack.kms.internal;

import dev.atlas.dstack.ra.P256PrivateKey;
import dev.atlas.dstack.ra.kms.BootstrapResponse;

import java.security.cert.X509Certificate;
import java.util.Objects;
import java.util.Optional;

/** What {@code core.cert_dir} holds once the KMS has keys (§2.1). {@code toString} shows no private key. */
public final class KmsState {
    private final RootKeys keys;
    private final X509Certificate rootCaCert;
    private final X509Certificate tempCaCert;
    private final X509Certificate rpcCert;
    private final P256PrivateKey rpcKey;
    private final String domain;
    private final Optional<BootstrapResponse> bootstrapInfo;

    public KmsState(RootKeys keys, X509Certificate rootCaCert, X509Certificate tempCaCert, X509Certificate rpcCert,
            P256PrivateKey rpcKey, String domain, Optional<BootstrapResponse> bootstrapInfo) {
        this.keys = Objects.requireNonNull(keys, "keys");
        this.rootCaCert = Objects.requireNonNull(rootCaCert, "rootCaCert");
        this.tempCaCert = Objects.requireNonNull(tempCaCert, "tempCaCert");
        this.rpcCert = Objects.requireNonNull(rpcCert, "rpcCert");
        this.rpcKey = Objects.requireNonNull(rpcKey, "rpcKey");
        this.domain = Objects.requireNonNull(domain, "domain");
        this.bootstrapInfo = Objects.requireNonNull(bootstrapInfo, "bootstrapInfo");
    }

    public RootKeys keys() {
        return keys;
    }

    public X509Certificate rootCaCert() {
        return rootCaCert;
    }

    public X509Certificate tempCaCert() {
        return tempCaCert;
    }

    public X509Certificate rpcCert() {
        return rpcCert;
    }

    public P256PrivateKey rpcKey() {
        return rpcKey;
    }

    public String domain() {
        return domain;
    }

    public Optional<BootstrapResponse> bootstrapInfo() {
        return bootstrapInfo;
    }

    @Override
    public String toString() {
        return "KmsState[domain=" + domain + ", keys=" + keys + ", rootCa=" + rootCaCert.getSubjectX500Principal()
                + ", bootstrapped=" + bootstrapInfo.isPresent() + "]";
    }
}
