package dev.atlas.dstack.ra.kms;

import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.ra.prpc.PrpcRemoteException;
import dev.atlas.tdx.AttestationException;
import java.io.IOException;
import java.net.URI;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * A client of dstack's KMS, following dstack-util's request path (§2.8). Skeleton.
 */
public final class KmsClient {
    private final URI url;

    private KmsClient(Builder b) {
        this.url = b.url;
    }

    public static Builder builder(URI kmsUrl) {
        return new Builder(kmsUrl);
    }

    /** §2.10 URL normalisation: trailing {@code /} removed, {@code /prpc} appended when missing. */
    public static URI normalizeUrl(URI kmsUrl) {
        Objects.requireNonNull(kmsUrl, "kmsUrl");
        String s = kmsUrl.toString();
        while (s.endsWith("/")) {
            s = s.substring(0, s.length() - 1);
        }
        if (!s.endsWith("/prpc")) {
            s = s + "/prpc";
        }
        return URI.create(s);
    }

    public URI url() {
        return url;
    }

    public TempCaCertResponse getTempCaCert() throws IOException, PrpcRemoteException, AttestationException {
        throw new UnsupportedOperationException("skeleton");
    }

    public AppKeyResponse getAppKey(String vmConfig) throws IOException, PrpcRemoteException, AttestationException {
        throw new UnsupportedOperationException("skeleton");
    }

    public KmsKeyResponse getKmsKey(String vmConfig) throws IOException, PrpcRemoteException, AttestationException {
        throw new UnsupportedOperationException("skeleton");
    }

    public SignCertResponse signCert(SignCertRequest request)
            throws IOException, PrpcRemoteException, AttestationException {
        throw new UnsupportedOperationException("skeleton");
    }

    public PublicKeyResponse getAppEnvEncryptPubKey(byte[] appId20)
            throws IOException, PrpcRemoteException, AttestationException {
        throw new UnsupportedOperationException("skeleton");
    }

    public GetMetaResponse getMeta() throws IOException, PrpcRemoteException, AttestationException {
        throw new UnsupportedOperationException("skeleton");
    }

    public static List<X509Certificate> fetchServerChain(URI kmsUrl, Duration timeout) throws IOException {
        throw new UnsupportedOperationException("skeleton");
    }

    public static final class Builder {
        private final URI url;

        private Builder(URI kmsUrl) {
            this.url = normalizeUrl(kmsUrl);
        }

        public Builder attester(Attester a) {
            return this;
        }

        public Builder verifier(DstackTdxVerifier v) {
            return this;
        }

        public Builder insecureSkipServerAttestation() {
            return this;
        }

        public Builder clock(Clock c) {
            return this;
        }

        public Builder timeout(Duration d) {
            return this;
        }

        public KmsClient build() {
            return new KmsClient(this);
        }
    }
}
