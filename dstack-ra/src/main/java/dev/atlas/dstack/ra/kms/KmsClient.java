package dev.atlas.dstack.ra.kms;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.ra.ClientIdentity;
import dev.atlas.dstack.ra.P256PrivateKey;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaTlsCertificate;
import dev.atlas.dstack.ra.RaTlsVerifier;
import dev.atlas.dstack.ra.VersionedAttestation;
import dev.atlas.dstack.ra.prpc.PrpcClient;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcRemoteException;
import dev.atlas.tdx.AttestationException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * A client of dstack's KMS ({@code kms_rpc.proto}, service {@code KMS}) that follows dstack-util's request path
 * for a booting CVM (§2.8, upstream {@code dstack-util/src/system_setup.rs} {@code request_app_keys_from_kms_url}
 * and {@code ra-rpc/src/client.rs}):
 *
 * <ol>
 *   <li>{@link #getTempCaCert()} over TLS <b>without</b> server verification (the answer is not trusted for
 *       anything but step 3's anchor, exactly as upstream);</li>
 *   <li>a fresh P-256 key, an RA-TLS client certificate {@code CN=RA-TLS TEMP Cert} carrying the caller's
 *       attestation (from the {@link Attester}, {@code report_data = SHA-512("ratls-cert:" ‖ SPKI)}, stripped as
 *       certificates carry it), signed by the temp CA key;</li>
 *   <li>mTLS with that certificate. The server certificate is checked <b>during the handshake, before any request
 *       byte is sent</b>: its chain leads to {@code ca_cert} of step 1 (by key and DN, {@link RaTlsVerifier}), it is
 *       valid at the clock's instant, its usage is {@code kms:rpc}, and its embedded attestation verifies with the
 *       {@link DstackTdxVerifier} and binds the server key;</li>
 *   <li>{@link #getAppKey(String)} ({@code api_version 1}) or {@link #getKmsKey(String)}.</li>
 * </ol>
 * {@link #signCert}, {@link #getAppEnvEncryptPubKey} and {@link #getMeta} are plain pRPC calls (TLS without server
 * verification, as dstack's cert-client and SDKs make them: their answers are signed or are checked by the caller).
 *
 * <p>Differences from upstream, on purpose (fail closed): upstream validates the server certificate after the
 * response has arrived and accepts a server certificate without attestation; we check before the request is
 * written and require the attestation unless {@link Builder#insecureSkipServerAttestation()}. The host name is
 * not checked (upstream's reqwest does): the KMS is identified by its CA key and its attestation, and a KMS
 * reached at {@code 127.0.0.1} has a certificate for its domain.
 *
 * <p>URLs: a trailing {@code /} is removed and {@code /prpc} appended when missing ({@link #normalizeUrl}, §2.10).
 *
 * <p>Errors: {@link IOException} for transport failures (naming the URL); {@link PrpcRemoteException} when the
 * KMS answers HTTP 400 with dstack's error text (for example {@code Boot denied: ...}); {@link RaException} for a
 * failed check ({@code CERT_*}, {@code RATLS_BINDING_MISMATCH}, ...; the message names the URL and the check) or a
 * KMS answer that does not parse ({@code KMS_UNAVAILABLE}); other {@link AttestationException}s from the
 * {@link DstackTdxVerifier}. Thread-safe: every attested call makes its own key and connection.
 *
 * <p>Example (a simulated CVM's guest side; {@code agent} is its guest agent client):
 * <pre>{@code
 * KmsClient kms = KmsClient.builder(URI.create("https://127.0.0.1:" + port))
 *         .attester(rd -> agent.attest(rd))
 *         .verifier(dstackTdxVerifier)          // mock Intel root + PCCS in tests
 *         .build();
 * AppKeyResponse keys = kms.getAppKey(vmConfig);
 * }</pre>
 */
public final class KmsClient implements AutoCloseable {
    /** Subject CN of the RA-TLS client certificate (upstream {@code generate_ra_cert}). */
    public static final String CLIENT_CERT_SUBJECT = "RA-TLS TEMP Cert";
    /** Default connect and request timeout. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);
    private static final System.Logger LOG = System.getLogger(KmsClient.class.getName());

    private final URI url;
    private final Attester attester;
    private final DstackTdxVerifier verifier;
    private final boolean skipServerAttestation;
    private final Clock clock;
    private final Duration timeout;
    private final PrpcClient plain;

    private KmsClient(Builder b) {
        this.url = b.url;
        this.attester = b.attester;
        this.verifier = b.verifier;
        this.skipServerAttestation = b.skipServerAttestation;
        this.clock = b.clock;
        this.timeout = b.timeout;
        this.plain = url.getScheme().equalsIgnoreCase("https") ? client(sslContext(null, new AcceptAny(null)))
                : PrpcClient.builder(url).connectTimeout(timeout).requestTimeout(timeout).build();
    }

    /** A builder for the KMS at {@code kmsUrl} ({@code https://host:port[/prpc]}). */
    public static Builder builder(URI kmsUrl) {
        return new Builder(kmsUrl);
    }

    /**
     * §2.10 URL normalisation ({@code onboard_service.rs}): trailing {@code /} removed, {@code /prpc} appended when
     * the path does not already end with it.
     *
     * @throws IllegalArgumentException for a URL that is not {@code http(s)://host...} or has a query or fragment
     */
    public static URI normalizeUrl(URI kmsUrl) {
        Objects.requireNonNull(kmsUrl, "kmsUrl");
        String scheme = kmsUrl.getScheme() == null ? "" : kmsUrl.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("https") && !scheme.equals("http")) {
            throw new IllegalArgumentException("KMS URL must be https (or http), got " + kmsUrl);
        }
        if (kmsUrl.getHost() == null || kmsUrl.getRawQuery() != null || kmsUrl.getRawFragment() != null) {
            throw new IllegalArgumentException("KMS URL needs a host and no query or fragment: " + kmsUrl);
        }
        String s = kmsUrl.toString();
        while (s.endsWith("/")) {
            s = s.substring(0, s.length() - 1);
        }
        if (!s.endsWith("/prpc")) {
            s = s + "/prpc";
        }
        return URI.create(s);
    }

    /**
     * Releases the connection pool of the plain calls (JDK 21+; each attested call already releases its own).
     * Optional: an unclosed client is reclaimed by the garbage collector.
     */
    @Override
    public void close() {
        plain.close();
    }

    /** The normalised base URL ({@code .../prpc}). */
    public URI url() {
        return url;
    }

    // ---- plain calls ----------------------------------------------------------------------------------------

    /** {@code GetTempCaCert} over TLS without server verification (as dstack-util). */
    public TempCaCertResponse getTempCaCert() throws IOException, PrpcRemoteException, AttestationException {
        JsonNode n = plain().call("GetTempCaCert", Wire.object());
        return parse("GetTempCaCert", n, TempCaCertResponse::fromJson);
    }

    /** {@code SignCert} (the attestation is inside the CSR; no client certificate). */
    public SignCertResponse signCert(SignCertRequest request)
            throws IOException, PrpcRemoteException, AttestationException {
        Objects.requireNonNull(request, "request");
        JsonNode n = plain().call("SignCert", request.toJson());
        return parse("SignCert", n, SignCertResponse::fromJson);
    }

    /**
     * {@code GetAppEnvEncryptPubKey}. The 20-byte length is the KMS's check (its error text comes back as a
     * {@link PrpcRemoteException}); the answer's signatures are the caller's to verify ({@code KmsSignatures}).
     */
    public PublicKeyResponse getAppEnvEncryptPubKey(byte[] appId20)
            throws IOException, PrpcRemoteException, AttestationException {
        JsonNode n = plain().call("GetAppEnvEncryptPubKey", new AppIdRequest(appId20).toJson());
        return parse("GetAppEnvEncryptPubKey", n, PublicKeyResponse::fromJson);
    }

    /** {@code GetMeta}. */
    public GetMetaResponse getMeta() throws IOException, PrpcRemoteException, AttestationException {
        JsonNode n = plain().call("GetMeta", Wire.object());
        return parse("GetMeta", n, GetMetaResponse::fromJson);
    }

    // ---- attested calls -------------------------------------------------------------------------------------

    /** dstack-util's path: temp CA, RA-TLS client certificate, checked mTLS, {@code GetAppKey{1, vm_config}}. */
    public AppKeyResponse getAppKey(String vmConfig) throws IOException, PrpcRemoteException, AttestationException {
        return getAppKeyWithTempCa(vmConfig).keys();
    }

    /**
     * {@link #getAppKey}, also returning step 1's {@code GetTempCaCert} answer: dstack-util keeps the temp CA and
     * takes the {@code key-provider} id from its {@code ca_cert} (the anchor the server certificate was checked
     * against).
     */
    public AppKeyRelease getAppKeyWithTempCa(String vmConfig)
            throws IOException, PrpcRemoteException, AttestationException {
        Attested a = attestedCall("GetAppKey", GetAppKeyRequest.of(Objects.requireNonNull(vmConfig, "vmConfig"))
                .toJson());
        return new AppKeyRelease(a.tempCa, parse("GetAppKey", a.response, AppKeyResponse::fromJson));
    }

    /** What {@link #getAppKeyWithTempCa} returns; both parts redact their keys in {@code toString}. */
    public record AppKeyRelease(TempCaCertResponse tempCa, AppKeyResponse keys) {
        public AppKeyRelease {
            Objects.requireNonNull(tempCa, "tempCa");
            Objects.requireNonNull(keys, "keys");
        }
    }

    private record Attested(TempCaCertResponse tempCa, JsonNode response) {}

    /** The same path with {@code GetKmsKey{vm_config}} (an onboarding destination asking its source). */
    public KmsKeyResponse getKmsKey(String vmConfig) throws IOException, PrpcRemoteException, AttestationException {
        Attested a = attestedCall("GetKmsKey", new GetKmsKeyRequest(Objects.requireNonNull(vmConfig, "vmConfig"))
                .toJson());
        return parse("GetKmsKey", a.response, KmsKeyResponse::fromJson);
    }

    private Attested attestedCall(String method, ObjectNode body)
            throws IOException, PrpcRemoteException, AttestationException {
        if (attester == null) {
            throw new IllegalStateException("KmsClient." + method + " needs an attester (Builder.attester)");
        }
        if (!url.getScheme().equalsIgnoreCase("https")) {
            throw new RaException(RaException.Reason.INVALID_ARGUMENT, "kms_url",
                    method + " needs mutual TLS: " + url + " is not https");
        }
        TempCaCertResponse tmp = getTempCaCert();
        X509Certificate caCert = certificate(tmp.caCert(), "ca_cert");
        X509Certificate tempCa = certificate(tmp.tempCaCert(), "temp_ca_cert");
        PrivateKey tempKey = privateKey(tmp.tempCaKey(), "temp_ca_key");
        ClientIdentity id = clientIdentity(tempCa, tempKey);
        RaTlsVerifier.Builder vb = RaTlsVerifier.builder().trustedCa(caCert).usage(RaTlsCertificate.USAGE_KMS_RPC);
        if (skipServerAttestation) {
            LOG.log(System.Logger.Level.WARNING, "KmsClient: insecureSkipServerAttestation: the attestation of the"
                    + " KMS server certificate of " + url + " is NOT verified (chain to ca_cert and usage kms:rpc"
                    + " are)");
            vb.insecureSkipAttestation();
        } else {
            vb.dstackVerifier(verifier);
        }
        ServerCheck check = new ServerCheck(vb.build(), clock, url);
        SSLContext ctx = sslContext(new KeyManager[] {id}, check);
        try (PrpcClient c = client(ctx)) {
            return new Attested(tmp, c.call(method, body));
        } catch (IOException e) {
            AttestationException failed = check.failure.get();
            if (failed != null) {
                throw failed;
            }
            throw e;
        }
    }

    /** The fresh key and its RA-TLS certificate (step 2). */
    private ClientIdentity clientIdentity(X509Certificate tempCa, PrivateKey tempKey)
            throws IOException, AttestationException {
        KeyPair kp;
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            kp = g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("P-256 key generation is not available", e);
        }
        byte[] reportData = RaTlsCertificate.reportData(kp.getPublic());
        byte[] raw = attester.attest(reportData.clone());
        if (raw == null) {
            throw new RaException(RaException.Reason.ATTESTATION_MISSING, "attester", "returned no attestation");
        }
        VersionedAttestation att = VersionedAttestation.decode(raw);
        if (!MessageDigest.isEqual(att.reportData(), reportData)) {
            throw new RaException(RaException.Reason.RATLS_BINDING_MISMATCH, "attester",
                    "returned an attestation whose report_data is not SHA-512(\"ratls-cert:\" || SPKI) of the client"
                    + " key");
        }
        X509Certificate cert = RaTlsCertificate.builder().subject(CLIENT_CERT_SUBJECT)
                .attestation(att.stripped().encode()).publicKey(kp.getPublic()).clock(clock)
                .signedBy(tempCa, tempKey);
        return ClientIdentity.of(kp.getPrivate(), cert);
    }

    // ---- fetchServerChain -----------------------------------------------------------------------------------

    /**
     * Connects with TLS, accepts any server certificate, and returns the peer's chain (leaf first) without
     * validating it: an onboarding destination captures the source KMS's RPC certificate this way (§2.10 step 2)
     * and verifies its attestation itself. No request is sent.
     */
    public static List<X509Certificate> fetchServerChain(URI kmsUrl, Duration timeout) throws IOException {
        URI u = normalizeUrl(kmsUrl);
        if (!u.getScheme().equalsIgnoreCase("https")) {
            throw new IOException("fetchServerChain: " + u + " is not https");
        }
        int port = u.getPort() == -1 ? 443 : u.getPort();
        String host = u.getHost();
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        AtomicReference<X509Certificate[]> seen = new AtomicReference<>();
        SSLContext ctx = sslContext(null, new AcceptAny(seen));
        int ms = (int) Math.min(Integer.MAX_VALUE, Math.max(1, timeout.toMillis()));
        try (Socket raw = new Socket()) {
            raw.connect(new InetSocketAddress(host, port), ms);
            raw.setSoTimeout(ms);
            try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(raw, host, port, false)) {
                if (!host.isEmpty() && !Character.isDigit(host.charAt(0)) && !host.contains(":")) {
                    SSLParameters p = s.getSSLParameters();
                    p.setServerNames(List.of(new SNIHostName(host)));
                    s.setSSLParameters(p);
                }
                s.startHandshake();
                List<X509Certificate> out = new ArrayList<>();
                for (Certificate c : s.getSession().getPeerCertificates()) {
                    out.add((X509Certificate) c);
                }
                return List.copyOf(out);
            }
        } catch (IOException e) {
            throw new IOException("fetchServerChain: TLS handshake with " + u + " failed: " + e, e);
        }
    }

    // ---- plumbing -------------------------------------------------------------------------------------------

    private PrpcClient plain() {
        return plain;
    }

    private PrpcClient client(SSLContext ctx) {
        return PrpcClient.builder(url).sslContext(ctx).connectTimeout(timeout).requestTimeout(timeout).build();
    }

    private static SSLContext sslContext(KeyManager[] km, TrustManager tm) {
        try {
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(km, new TrustManager[] {tm}, null);
            return ctx;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("TLS is not available", e);
        }
    }

    @FunctionalInterface
    private interface Parser<T> {
        T parse(JsonNode n) throws PrpcException;
    }

    private <T> T parse(String method, JsonNode n, Parser<T> p) throws RaException {
        try {
            return p.parse(n);
        } catch (PrpcException | IllegalArgumentException e) {
            throw new RaException(RaException.Reason.KMS_UNAVAILABLE, method + " response",
                    "the KMS at " + url + " answered a message that does not parse: " + e.getMessage());
        }
    }

    private static X509Certificate certificate(String pem, String field) throws RaException {
        try {
            Collection<? extends Certificate> cs = CertificateFactory.getInstance("X.509")
                    .generateCertificates(new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)));
            if (cs.size() != 1) {
                throw new RaException(RaException.Reason.KMS_UNAVAILABLE, "GetTempCaCert." + field,
                        "expected one PEM certificate, got " + cs.size());
            }
            return (X509Certificate) cs.iterator().next();
        } catch (CertificateException | ClassCastException e) {
            throw new RaException(RaException.Reason.KMS_UNAVAILABLE, "GetTempCaCert." + field,
                    "not a PEM X.509 certificate");
        }
    }

    private static PrivateKey privateKey(String pem, String field) throws RaException {
        try {
            return P256PrivateKey.fromPem(pem).toPrivateKey();
        } catch (RaException e) {
            throw new RaException(RaException.Reason.KMS_UNAVAILABLE, "GetTempCaCert." + field,
                    "not a P-256 PKCS#8 PEM key");
        }
    }

    /** A trust manager of this client: it only ever judges servers. */
    private abstract static class ClientSideTrustManager extends X509ExtendedTrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            throw new CertificateException("client side only");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            throw new CertificateException("client side only");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("client side only");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }

    /**
     * The server-certificate check of step 3, run by the TLS handshake itself (an {@link X509ExtendedTrustManager}:
     * the JDK adds no checks of its own, in particular no host name check), so a refused server never sees a request
     * byte. The precise failure is kept for the caller.
     */
    private static final class ServerCheck extends ClientSideTrustManager {
        final AtomicReference<AttestationException> failure = new AtomicReference<>();
        private final RaTlsVerifier verifier;
        private final Clock clock;
        private final URI url;

        ServerCheck(RaTlsVerifier verifier, Clock clock, URI url) {
            this.verifier = verifier;
            this.clock = clock;
            this.url = url;
        }

        private void check(X509Certificate[] chain) throws CertificateException {
            try {
                if (chain == null || chain.length == 0) {
                    throw new RaException(RaException.Reason.CERT_CHAIN_INVALID, "server certificate",
                            "the KMS at " + url + " presented no certificate");
                }
                verifier.verify(Arrays.asList(chain), clock.instant());
            } catch (AttestationException e) {
                AttestationException named = named(e);
                failure.compareAndSet(null, named);
                CertificateException ce = new CertificateException(named.getMessage());
                ce.initCause(named);
                throw ce;
            }
        }

        private AttestationException named(AttestationException e) {
            String where = " [KMS server certificate of " + url + "]";
            if (e instanceof RaException r) {
                String detail = r.detail();
                String prefix = r.field() == null ? "" : r.field() + ": ";
                String msg = detail.startsWith(prefix) ? detail.substring(prefix.length()) : detail;
                return new RaException(r.raReason(), r.field(), msg + where, e);
            }
            AttestationException a = new AttestationException(e.reason(), e.subject().orElse(null),
                    e.expected().orElse(null), e.actual().orElse(null), "attestation: " + e.detail() + where);
            a.initCause(e);
            return a;
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            check(chain);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            check(chain);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            check(chain);
        }

    }

    /** Accepts any server certificate (steps that dstack-util makes without verification); records the chain. */
    private static final class AcceptAny extends ClientSideTrustManager {
        private final AtomicReference<X509Certificate[]> seen;

        AcceptAny(AtomicReference<X509Certificate[]> seen) {
            this.seen = seen;
        }

        private void accept(X509Certificate[] chain) {
            if (seen != null) {
                seen.set(chain);
            }
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) {
            accept(chain);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
            accept(chain);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
            accept(chain);
        }

    }

    /** Builder. {@link #verifier} or {@link #insecureSkipServerAttestation()} is required for attested calls. */
    public static final class Builder {
        private final URI url;
        private Attester attester;
        private DstackTdxVerifier verifier;
        private boolean skipServerAttestation;
        private Clock clock = Clock.systemUTC();
        private Duration timeout = DEFAULT_TIMEOUT;

        private Builder(URI kmsUrl) {
            this.url = normalizeUrl(kmsUrl);
        }

        /** The caller's own attestation, for the RA-TLS client certificate of {@code GetAppKey}/{@code GetKmsKey}. */
        public Builder attester(Attester a) {
            this.attester = Objects.requireNonNull(a, "attester");
            return this;
        }

        /**
         * Verifies the attestation in the KMS server certificate (DCAP, collateral, RTMR3 replay, binding to the
         * server key); with {@code sys-config}'s PCCS in dstack, the mock Intel root + mock PCCS in tests.
         */
        public Builder verifier(DstackTdxVerifier v) {
            this.verifier = Objects.requireNonNull(v, "verifier");
            return this;
        }

        /**
         * <b>Insecure</b>: do not require or verify the attestation in the KMS server certificate (a KMS with
         * {@code attest_rpc_cert = false}). The chain to {@code ca_cert}, the validity and usage {@code kms:rpc} are
         * still checked. Every attested call logs a warning naming this setting.
         */
        public Builder insecureSkipServerAttestation() {
            this.skipServerAttestation = true;
            return this;
        }

        /** Clock for certificate validity checks and the client certificate (default system UTC). */
        public Builder clock(Clock c) {
            this.clock = Objects.requireNonNull(c, "clock");
            return this;
        }

        /** Connect and request timeout (default 60 s, as upstream's client). */
        public Builder timeout(Duration d) {
            Objects.requireNonNull(d, "timeout");
            if (d.isZero() || d.isNegative()) {
                throw new IllegalArgumentException("timeout must be positive, got " + d);
            }
            this.timeout = d;
            return this;
        }

        /**
         * @throws IllegalStateException with an attester but neither a verifier nor
         *                               {@link #insecureSkipServerAttestation()}
         */
        public KmsClient build() {
            if (attester != null && verifier == null && !skipServerAttestation) {
                throw new IllegalStateException("choose verifier(DstackTdxVerifier) or insecureSkipServerAttestation()"
                        + " to check the KMS server certificate");
            }
            return new KmsClient(this);
        }
    }
}
