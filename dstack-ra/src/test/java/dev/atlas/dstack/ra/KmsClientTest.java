package dev.atlas.dstack.ra;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import dev.atlas.dstack.ra.kms.AppKeyResponse;
import dev.atlas.dstack.ra.kms.GetMetaResponse;
import dev.atlas.dstack.ra.kms.KmsClient;
import dev.atlas.dstack.ra.kms.KmsKeyResponse;
import dev.atlas.dstack.ra.kms.KmsKeys;
import dev.atlas.dstack.ra.kms.PublicKeyResponse;
import dev.atlas.dstack.ra.kms.SignCertRequest;
import dev.atlas.dstack.ra.kms.SignCertResponse;
import dev.atlas.dstack.ra.kms.TempCaCertResponse;
import dev.atlas.dstack.ra.prpc.PrpcDispatcher;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcHttpHandler;
import dev.atlas.dstack.ra.prpc.PrpcJson;
import dev.atlas.dstack.ra.prpc.PrpcRemoteException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.security.KeyPair;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link KmsClient} against a tiny pRPC HTTPS server on loopback (dstack-ra's {@link PrpcHttpHandler} on a JDK
 * {@link HttpsServer}, port 0) playing the KMS with an RA-TLS server certificate built here: the honest path, and
 * each refused server certificate with its reason and no request sent.
 */
class KmsClientTest {
    static RaTlsFixtures fx;
    static KeyPair tempCaKey;
    static X509Certificate tempCa;
    static KeyPair rpcKey;

    final AtomicInteger keyRequests = new AtomicInteger();
    final AtomicReference<List<X509Certificate>> clientChain = new AtomicReference<>();
    final ExecutorService pool = Executors.newFixedThreadPool(2);
    HttpsServer server;

    @BeforeAll
    static void pki() throws Exception {
        fx = new RaTlsFixtures();
        tempCaKey = RaTlsFixtures.p256();
        tempCa = RaTlsCertificate.builder().organization("Dstack").subject("Dstack Client Temp CA").caLevel(0)
                .notBefore(RaTlsFixtures.NOW.minus(Duration.ofDays(1))).clock(RaTlsFixtures.CLOCK)
                .selfSigned(tempCaKey);
        rpcKey = RaTlsFixtures.p256();
    }

    /** The KMS RPC certificate: usage kms:rpc, attested over its own key, issued by the root CA. */
    static RaTlsCertificate.Builder rpc() {
        return RaTlsCertificate.builder().subject("kms.example.com").altNames(List.of("kms.example.com"))
                .usage(RaTlsCertificate.USAGE_KMS_RPC).notBefore(RaTlsFixtures.NOW.minus(Duration.ofDays(1)))
                .clock(RaTlsFixtures.CLOCK).publicKey(rpcKey.getPublic());
    }

    static X509Certificate honestRpc() throws Exception {
        return rpc().attestation(fx.attestationFor(rpcKey.getPublic()).stripped().encode())
                .signedBy(fx.rootCa, fx.rootKey.getPrivate());
    }

    static String pem(X509Certificate c) throws Exception {
        return "-----BEGIN CERTIFICATE-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'})
                .encodeToString(c.getEncoded()) + "\n-----END CERTIFICATE-----\n";
    }

    static String keyPem(PrivateKey k) {
        return "-----BEGIN PRIVATE KEY-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'})
                .encodeToString(k.getEncoded()) + "\n-----END PRIVATE KEY-----\n";
    }

    static byte[] fill(int n, int v) {
        return RaTlsFixtures.bytes(n, v);
    }

    static AppKeyResponse keys() {
        return new AppKeyResponse("root-pem", fill(32, 1), fill(32, 2), fill(32, 3), fill(65, 4), "gw", "gw",
                fill(32, 5));
    }

    PrpcDispatcher kms() {
        return PrpcDispatcher.builder().trimPrefix("KMS")
                .method("GetTempCaCert", (req, ctx) -> {
                    try {
                        return new TempCaCertResponse(pem(tempCa), keyPem(tempCaKey.getPrivate()), pem(fx.rootCa))
                                .toJson();
                    } catch (Exception e) {
                        throw new PrpcException("test server: " + e);
                    }
                })
                .method("GetAppKey", (req, ctx) -> {
                    keyRequests.incrementAndGet();
                    clientChain.set(ctx.peerCertificates().orElse(List.of()));
                    if (PrpcJson.string(req, "vm_config").equals("deny")) {
                        throw new PrpcException("Boot denied: app not allowed");
                    }
                    if (PrpcJson.uint32(req, "api_version") != 1) {
                        throw new PrpcException("wrong api_version");
                    }
                    return keys().toJson();
                })
                .method("GetKmsKey", (req, ctx) -> {
                    keyRequests.incrementAndGet();
                    clientChain.set(ctx.peerCertificates().orElse(List.of()));
                    return new KmsKeyResponse("temp", List.of(new KmsKeys("ca", fill(32, 7)))).toJson();
                })
                .method("GetMeta", (req, ctx) -> new GetMetaResponse("ca", false, fill(33, 2), Optional.empty(),
                        true, Optional.of("gw"), Optional.empty(), OptionalLong.empty(), Optional.empty()).toJson())
                .method("GetAppEnvEncryptPubKey", (req, ctx) -> {
                    if (PrpcJson.bytes(req, "app_id").length != 20) {
                        throw new PrpcException("Invalid app id length");
                    }
                    return new PublicKeyResponse(fill(32, 1), fill(65, 2), 7, fill(65, 3)).toJson();
                })
                .method("SignCert", (req, ctx) -> new SignCertResponse(List.of("leaf", "ca", "root")).toJson())
                .build();
    }

    /** Starts the "KMS" with {@code chain} as its TLS certificate chain; client certificates wanted, not needed. */
    URI start(List<X509Certificate> chain) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("rpc", rpcKey.getPrivate(), new char[0], chain.toArray(new X509Certificate[0]));
        KeyManagerFactory kmf = KeyManagerFactory.getInstance("PKIX");
        kmf.init(ks, new char[0]);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), new TrustManager[] {new AnyClient()}, null);
        server = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setHttpsConfigurator(new HttpsConfigurator(ctx) {
            @Override
            public void configure(HttpsParameters params) {
                SSLParameters p = getSSLContext().getDefaultSSLParameters();
                p.setWantClientAuth(true);
                params.setSSLParameters(p);
            }
        });
        server.setExecutor(pool);
        server.createContext("/prpc", new PrpcHttpHandler(kms()));
        server.start();
        return URI.create("https://127.0.0.1:" + server.getAddress().getPort() + "/");
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.stop(0);
        }
        pool.shutdownNow();
    }

    KmsClient.Builder client(URI url) throws Exception {
        return KmsClient.builder(url).attester(rd -> fx.attestation(rd).encode()).verifier(fx.dstackVerifier())
                .clock(RaTlsFixtures.CLOCK).timeout(Duration.ofSeconds(20));
    }

    @Test
    void getAppKeyOverCheckedMtlsWithAnRaTlsClientCertificateBoundToItsKey() throws Exception {
        URI url = start(List.of(honestRpc(), fx.rootCa));
        KmsClient c = client(url).build();
        assertThat(c.url().toString()).endsWith("/prpc").doesNotContain("//prpc");
        assertThat(c.getAppKey("{\"os_image_hash\":\"05\"}")).isEqualTo(keys());
        assertThat(keyRequests).hasValue(1);
        // the client certificate: CN=RA-TLS TEMP Cert, issued by the temp CA, its attestation bound to its key
        List<X509Certificate> cc = clientChain.get();
        assertThat(cc).hasSize(1);
        assertThat(cc.get(0).getSubjectX500Principal().getName()).isEqualTo("CN=RA-TLS TEMP Cert");
        RaTlsVerifier.Result r = RaTlsVerifier.builder().trustedCa(tempCa).dstackVerifier(fx.dstackVerifier())
                .anyUsage().build().verify(cc, RaTlsFixtures.NOW);
        assertThat(r.report()).isPresent();
        assertThat(r.leaf().versionedAttestation().orElseThrow().reportData())
                .isEqualTo(RaTlsCertificate.reportData(cc.get(0).getPublicKey()));
        // a second call uses a fresh key
        assertThat(c.getKmsKey("{}").keys()).hasSize(1);
        assertThat(clientChain.get().get(0).getPublicKey()).isNotEqualTo(cc.get(0).getPublicKey());
        // the KMS's refusal comes back with its text
        assertThatThrownBy(() -> c.getAppKey("deny")).isInstanceOfSatisfying(PrpcRemoteException.class,
                e -> assertThat(e.remoteError()).isEqualTo("Boot denied: app not allowed"));
    }

    void assertRefused(List<X509Certificate> chain, KmsClient.Builder b, RaException.Reason reason, String text)
            throws Exception {
        URI url = start(chain);
        KmsClient c = (b == null ? client(url) : b).build();
        assertThatThrownBy(() -> c.getAppKey("{}")).isInstanceOfSatisfying(RaException.class, e -> {
            assertThat(e.raReason()).isEqualTo(reason);
            assertThat(e.getMessage()).contains(text).contains("KMS server certificate of https://127.0.0.1:");
        });
        assertThat(keyRequests).as("no GetAppKey request reached the server").hasValue(0);
        assertThat(clientChain.get()).isNull();
    }

    @Test
    void refusesAServerCertificateWithAnotherUsage() throws Exception {
        X509Certificate wrong = rpc().usage(RaTlsCertificate.USAGE_APP_CUSTOM)
                .attestation(fx.attestationFor(rpcKey.getPublic()).stripped().encode())
                .signedBy(fx.rootCa, fx.rootKey.getPrivate());
        assertRefused(List.of(wrong, fx.rootCa), null, RaException.Reason.CERT_USAGE_MISMATCH,
                "expected kms:rpc, got app:custom");
    }

    @Test
    void refusesAServerCertificateNotChainedToTheCaCert() throws Exception {
        KeyPair otherRoot = RaTlsFixtures.p256();
        X509Certificate otherCa = RaTlsCertificate.builder().organization("Dstack").subject("Dstack KMS CA")
                .caLevel(1).notBefore(RaTlsFixtures.NOW.minus(Duration.ofDays(1))).clock(RaTlsFixtures.CLOCK)
                .selfSigned(otherRoot);
        X509Certificate forged = rpc().attestation(fx.attestationFor(rpcKey.getPublic()).stripped().encode())
                .signedBy(otherCa, otherRoot.getPrivate());
        assertRefused(List.of(forged, otherCa), null, RaException.Reason.CERT_UNTRUSTED_ISSUER,
                "trusted CA key");
    }

    @Test
    void refusesAServerCertificateWithoutAttestationUnlessInsecure() throws Exception {
        X509Certificate bare = rpc().signedBy(fx.rootCa, fx.rootKey.getPrivate());
        assertRefused(List.of(bare, fx.rootCa), null, RaException.Reason.CERT_EXTENSION_MISSING,
                "carries no attestation");
        stop();
        // insecure: the attestation is skipped, the chain and usage are not
        KmsClientTest again = new KmsClientTest();
        try {
            URI url = again.start(List.of(bare, fx.rootCa));
            KmsClient c = KmsClient.builder(url).attester(rd -> fx.attestation(rd).encode())
                    .insecureSkipServerAttestation().clock(RaTlsFixtures.CLOCK).build();
            assertThat(c.getAppKey("{}")).isEqualTo(keys());
        } finally {
            again.stop();
        }
        KmsClientTest third = new KmsClientTest();
        try {
            X509Certificate wrong = rpc().usage(RaTlsCertificate.USAGE_APP_CA)
                    .signedBy(fx.rootCa, fx.rootKey.getPrivate());
            URI url = third.start(List.of(wrong, fx.rootCa));
            KmsClient c = KmsClient.builder(url).attester(rd -> fx.attestation(rd).encode())
                    .insecureSkipServerAttestation().clock(RaTlsFixtures.CLOCK).build();
            assertThatThrownBy(() -> c.getAppKey("{}")).isInstanceOfSatisfying(RaException.class,
                    e -> assertThat(e.raReason()).isEqualTo(RaException.Reason.CERT_USAGE_MISMATCH));
            assertThat(third.keyRequests).hasValue(0);
        } finally {
            third.stop();
        }
    }

    @Test
    void refusesAServerAttestationBoundToAnotherKey() throws Exception {
        KeyPair other = RaTlsFixtures.p256();
        X509Certificate relayed = rpc().attestation(fx.attestationFor(other.getPublic()).stripped().encode())
                .signedBy(fx.rootCa, fx.rootKey.getPrivate());
        assertRefused(List.of(relayed, fx.rootCa), null, RaException.Reason.RATLS_BINDING_MISMATCH,
                "belongs to another key");
    }

    @Test
    void refusesAnAttesterThatIgnoresTheReportData() throws Exception {
        URI url = start(List.of(honestRpc(), fx.rootCa));
        KmsClient c = KmsClient.builder(url).attester(rd -> fx.attestation(new byte[64]).encode())
                .verifier(fx.dstackVerifier()).clock(RaTlsFixtures.CLOCK).build();
        assertThatThrownBy(() -> c.getAppKey("{}")).isInstanceOfSatisfying(RaException.class,
                e -> assertThat(e.raReason()).isEqualTo(RaException.Reason.RATLS_BINDING_MISMATCH));
        assertThat(keyRequests).hasValue(0);
    }

    @Test
    void plainCallsAndServerChain() throws Exception {
        URI url = start(List.of(honestRpc(), fx.rootCa));
        KmsClient c = KmsClient.builder(url.resolve("/prpc/")).build();
        TempCaCertResponse t = c.getTempCaCert();
        assertThat(t.caCert()).isEqualTo(pem(fx.rootCa));
        assertThat(c.getMeta().gatewayAppId()).contains("gw");
        assertThat(c.getAppEnvEncryptPubKey(fill(20, 1)).timestamp()).isEqualTo(7);
        assertThatThrownBy(() -> c.getAppEnvEncryptPubKey(fill(19, 1))).isInstanceOfSatisfying(
                PrpcRemoteException.class, e -> assertThat(e.remoteError()).isEqualTo("Invalid app id length"));
        assertThat(c.signCert(new SignCertRequest(2, fill(4, 1), fill(70, 2), "{}")).certificateChain())
                .containsExactly("leaf", "ca", "root");
        List<X509Certificate> chain = KmsClient.fetchServerChain(url, Duration.ofSeconds(10));
        assertThat(chain).hasSize(2);
        assertThat(chain.get(0).getPublicKey()).isEqualTo(rpcKey.getPublic());
        assertThat(keyRequests).hasValue(0);
        // without an attester, attested calls are refused up front
        assertThatThrownBy(() -> c.getAppKey("{}")).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("attester");
    }

    @Test
    void garbageAnswersAreKmsUnavailable() throws Exception {
        URI url = start(List.of(honestRpc(), fx.rootCa));
        // GetMeta served by a handler that answers the wrong shape
        server.removeContext("/prpc");
        server.createContext("/prpc", new PrpcHttpHandler(PrpcDispatcher.builder()
                .method("GetMeta", (req, ctx) -> java.util.Map.of("k256_pubkey", "00")).build()));
        KmsClient c = KmsClient.builder(url).build();
        assertThatThrownBy(c::getMeta).isInstanceOfSatisfying(RaException.class, e -> {
            assertThat(e.raReason()).isEqualTo(RaException.Reason.KMS_UNAVAILABLE);
            assertThat(e.getMessage()).contains("GetMeta").contains("`k256_pubkey`").contains(url.getHost());
        });
    }

    @Test
    void urlNormalisation() {
        assertThat(KmsClient.normalizeUrl(URI.create("https://kms:9201")).toString()).isEqualTo("https://kms:9201/prpc");
        assertThat(KmsClient.normalizeUrl(URI.create("https://kms:9201/")).toString())
                .isEqualTo("https://kms:9201/prpc");
        assertThat(KmsClient.normalizeUrl(URI.create("https://kms:9201/prpc/")).toString())
                .isEqualTo("https://kms:9201/prpc");
        assertThat(KmsClient.normalizeUrl(URI.create("https://kms/api")).toString()).isEqualTo("https://kms/api/prpc");
        assertThatThrownBy(() -> KmsClient.normalizeUrl(URI.create("ftp://kms"))).isInstanceOf(
                IllegalArgumentException.class);
        assertThatThrownBy(() -> KmsClient.builder(URI.create("https://kms")).attester(rd -> new byte[0]).build())
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("insecureSkipServerAttestation");
    }

    /** Server side: any client certificate is accepted here (the test reads what was presented). */
    static final class AnyClient extends X509ExtendedTrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) {}

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) {}

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {}

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {}

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {}

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {}

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
