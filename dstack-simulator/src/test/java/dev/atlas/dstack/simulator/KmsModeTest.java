package dev.atlas.dstack.simulator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.guest.AppInfo;
import dev.atlas.dstack.guest.DstackClient;
import dev.atlas.dstack.guest.TlsKey;
import dev.atlas.dstack.guest.TlsKeyRequest;
import dev.atlas.dstack.ra.CertSigningRequest;
import dev.atlas.dstack.ra.K256PrivateKey;
import dev.atlas.dstack.ra.KmsSignatures;
import dev.atlas.dstack.ra.RaTlsCertificate;
import dev.atlas.dstack.ra.RaTlsVerifier;
import dev.atlas.dstack.ra.RuntimeEvent;
import dev.atlas.dstack.ra.VersionedAttestation;
import dev.atlas.dstack.ra.kms.AppKeyResponse;
import dev.atlas.dstack.ra.kms.SignCertResponse;
import dev.atlas.dstack.ra.kms.TempCaCertResponse;
import dev.atlas.dstack.ra.prpc.PrpcDispatcher;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcHttpHandler;
import dev.atlas.dstack.ra.prpc.PrpcJson;
import dev.atlas.tdx.CollateralClient;
import dev.atlas.tdx.CollateralSource;
import dev.atlas.tdx.QuoteVerifier;
import dev.atlas.testing.MockPccs;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509ExtendedTrustManager;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * KMS mode against a stand-in KMS on loopback (a pRPC HTTPS server built here, not dstack-kms: the end-to-end test
 * with the real KMS belongs to the e2e suite): the KMS "CVM" and the app CVM share one mock Intel PKI
 * ({@code pkiSeed}), the app asks for its keys exactly as dstack-util, records the events after
 * {@code boot-mr-done}, and serves {@code GetKey} and {@code GetTlsKey} (via {@code SignCert}) from the released keys.
 */
class KmsModeTest {
    static final long PKI_SEED = 4242;
    static final HexFormat HEX = HexFormat.of();
    static final ObjectMapper JSON = new ObjectMapper();

    static Path dir;
    static GuestAgentSimulator kmsCvm;
    static MockPccs pccs;
    static KeyPair rootKey;
    static X509Certificate rootCa;
    static KeyPair tempKey;
    static X509Certificate tempCa;
    static KeyPair rpcKey;
    static K256PrivateKey rootK256;
    static KeyPair appCaKey;
    static final AtomicReference<X509Certificate[]> serverChain = new AtomicReference<>();
    static final AtomicReference<List<String>> callerEvents = new AtomicReference<>();
    static final ExecutorService pool = Executors.newFixedThreadPool(2);
    static HttpsServer server;
    static URI url;

    static KeyPair p256() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        return g.generateKeyPair();
    }

    static String pem(X509Certificate c) throws Exception {
        return "-----BEGIN CERTIFICATE-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'})
                .encodeToString(c.getEncoded()) + "\n-----END CERTIFICATE-----\n";
    }

    static String keyPem(PrivateKey k) {
        return "-----BEGIN PRIVATE KEY-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'})
                .encodeToString(k.getEncoded()) + "\n-----END PRIVATE KEY-----\n";
    }

    /** The KMS RPC certificate, its attestation from the KMS CVM over {@code boundTo}. */
    static X509Certificate rpcCert(KeyPair boundTo) throws Exception {
        DstackClient agent = DstackClient.builder().environment(Map.of())
                .endpoint(kmsCvm.internalSocket().orElseThrow().toString()).build();
        byte[] att = agent.attest(RaTlsCertificate.reportData(boundTo.getPublic()));
        return RaTlsCertificate.builder().subject("kms.example.com").altNames(List.of("kms.example.com"))
                .usage(RaTlsCertificate.USAGE_KMS_RPC)
                .attestation(VersionedAttestation.decode(att).stripped().encode())
                .publicKey(rpcKey.getPublic()).signedBy(rootCa, rootKey.getPrivate());
    }

    @BeforeAll
    static void kms() throws Exception {
        dir = Files.createTempDirectory("kms-mode");
        kmsCvm = GuestAgentSimulator.builder().pkiSeed(PKI_SEED).internalSocket(dir.resolve("kms.sock")).start();
        pccs = MockPccs.start(kmsCvm::collateralJson, 0);
        rootKey = p256();
        rootCa = RaTlsCertificate.builder().organization("Dstack").subject("Dstack KMS CA").caLevel(1)
                .selfSigned(rootKey);
        tempKey = p256();
        tempCa = RaTlsCertificate.builder().organization("Dstack").subject("Dstack Client Temp CA").caLevel(0)
                .selfSigned(tempKey);
        rpcKey = p256();
        byte[] k = new byte[32];
        new SecureRandom().nextBytes(k);
        rootK256 = K256PrivateKey.fromScalar(k);
        appCaKey = p256();
        serverChain.set(new X509Certificate[] {rpcCert(rpcKey), rootCa});

        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(new javax.net.ssl.KeyManager[] {new CurrentChain()}, new TrustManager[] {new AnyClient()}, null);
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
        server.createContext("/prpc", new PrpcHttpHandler(dispatcher()));
        server.start();
        url = URI.create("https://127.0.0.1:" + server.getAddress().getPort());
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.stop(0);
        }
        pool.shutdownNow();
        if (pccs != null) {
            pccs.close();
        }
        if (kmsCvm != null) {
            kmsCvm.close();
        }
    }

    /** A stand-in KMS: no policy, it only releases keys to an RA-TLS caller and signs v2 CSRs. */
    static PrpcDispatcher dispatcher() {
        return PrpcDispatcher.builder().trimPrefix("KMS")
                .method("GetTempCaCert", (req, ctx) -> {
                    try {
                        return new TempCaCertResponse(pem(tempCa), keyPem(tempKey.getPrivate()), pem(rootCa)).toJson();
                    } catch (Exception e) {
                        throw new PrpcException("stand-in: " + e);
                    }
                })
                .method("GetAppKey", (req, ctx) -> {
                    try {
                        List<X509Certificate> chain = ctx.peerCertificates().orElseThrow(
                                () -> new PrpcException("No attestation provided"));
                        chain.get(0).verify(tempCa.getPublicKey());
                        VersionedAttestation a = RaTlsCertificate.parse(chain.get(0)).versionedAttestation()
                                .orElseThrow(() -> new PrpcException("No attestation provided"));
                        List<String> names = new ArrayList<>();
                        for (RuntimeEvent e : a.runtimeEvents()) {
                            names.add(e.event());
                        }
                        callerEvents.set(names);
                        byte[] appId = a.findEventPayload("app-id");
                        K256PrivateKey app = K256PrivateKey.fromScalar(
                                java.security.MessageDigest.getInstance("SHA-256").digest(appId));
                        String os = JSON.readTree(PrpcJson.string(req, "vm_config")).get("os_image_hash").asText();
                        return new AppKeyResponse(pem(rootCa), new byte[32], new byte[32], app.scalar(),
                                KmsSignatures.k256Signature(rootK256, appId, app.publicKey()).bytes(), "gw", "gw",
                                HEX.parseHex(os)).toJson();
                    } catch (PrpcException e) {
                        throw e;
                    } catch (Exception e) {
                        throw new PrpcException("stand-in: " + e);
                    }
                })
                .method("SignCert", (req, ctx) -> {
                    try {
                        CertSigningRequest csr = CertSigningRequest.decode(PrpcJson.bytes(req, "csr"), 2);
                        csr.verifySignature(PrpcJson.bytes(req, "signature"));
                        X509Certificate appCa = RaTlsCertificate.builder().organization("Dstack")
                                .subject("Dstack App CA").caLevel(0).usage(RaTlsCertificate.USAGE_APP_CA)
                                .publicKey(appCaKey.getPublic()).signedBy(rootCa, rootKey.getPrivate());
                        X509Certificate leaf = RaTlsCertificate.builder().fromCsr(csr)
                                .usage(RaTlsCertificate.USAGE_APP_CUSTOM).signedBy(appCa, appCaKey.getPrivate());
                        return new SignCertResponse(List.of(pem(leaf), pem(appCa), pem(rootCa))).toJson();
                    } catch (Exception e) {
                        throw new PrpcException("stand-in: " + e);
                    }
                })
                .build();
    }

    static List<X509Certificate> certs(List<String> pems) throws Exception {
        List<X509Certificate> out = new ArrayList<>();
        for (String p : pems) {
            out.add((X509Certificate) CertificateFactory.getInstance("X.509")
                    .generateCertificate(new ByteArrayInputStream(p.getBytes(StandardCharsets.US_ASCII))));
        }
        return out;
    }

    @Test
    void bootsWithKmsKeysAndServesThem() throws Exception {
        try (GuestAgentSimulator app = GuestAgentSimulator.builder().pkiSeed(PKI_SEED).kms(url)
                .kmsPccsUrl(pccs.baseUrl()).internalSocket(dir.resolve("app.sock")).start()) {
            // one mock PKI for both CVMs
            assertThat(app.mockRootCaPem()).isEqualTo(kmsCvm.mockRootCaPem());
            // the KMS saw an attestation whose log ends at boot-mr-done
            assertThat(callerEvents.get()).endsWith("instance-id", "boot-mr-done");
            // the KMS link recovered to the KMS k256 root key; GetKey's chain verifies to it
            assertThat(app.kmsPublicKey()).hasValueSatisfying(k -> assertThat(k).isEqualTo(rootK256.publicKey()));
            DstackClient c = DstackClient.builder().environment(Map.of())
                    .endpoint(app.internalSocket().orElseThrow().toString()).build();
            c.getKey("/app/path", "purpose", rootK256.publicKey());
            // events after the keys, and key-provider's exact payload
            AppInfo info = c.info();
            String expected = "{\"name\":\"kms\",\"id\":\"" + HEX.formatHex(rootCa.getPublicKey().getEncoded()) + "\"}";
            assertThat(info.keyProviderInfo()).isEqualTo(expected);
            VersionedAttestation now = VersionedAttestation.decode(c.attest(new byte[64]));
            List<String> names = new ArrayList<>();
            for (RuntimeEvent e : now.runtimeEvents()) {
                names.add(e.event());
            }
            assertThat(names).endsWith("boot-mr-done", "os-image-hash", "key-provider", "system-ready");
            assertThat(new String(now.findEventPayload("key-provider"), StandardCharsets.UTF_8)).isEqualTo(expected);
            assertThat(app.appKeys().keyProvider()).isInstanceOf(AppKeys.Kms.class);
            // GetTlsKey through SignCert: [leaf, app CA, KMS root], the leaf's attestation verifies and binds its key
            TlsKey tls = c.getTlsKey(TlsKeyRequest.builder().subject("app.local").usageRaTls(true).build());
            List<X509Certificate> chain = certs(tls.certificateChainPem());
            assertThat(chain).hasSize(3);
            assertThat(chain.get(2).getPublicKey()).isEqualTo(rootCa.getPublicKey());
            X509Certificate root = certs(List.of(app.mockRootCaPem())).get(0);
            DstackTdxVerifier v = DstackTdxVerifier.builder()
                    .quoteVerifier(QuoteVerifier.builder().insecureTrustAnchorForTesting(root).build())
                    .collateralSource(CollateralSource.fetching(CollateralClient.builder().baseUrl(pccs.baseUrl())
                            .build())).build();
            RaTlsVerifier.builder().trustedCa(rootCa).dstackVerifier(v).usage(RaTlsCertificate.USAGE_APP_CUSTOM)
                    .build().verify(chain, Instant.now());
        }
    }

    @Test
    void refusesAKmsWhoseCertificateAttestationBelongsToAnotherKey() throws Exception {
        X509Certificate[] honest = serverChain.get();
        try {
            serverChain.set(new X509Certificate[] {rpcCert(p256()), rootCa});
            callerEvents.set(null);
            assertThatThrownBy(() -> GuestAgentSimulator.builder().pkiSeed(PKI_SEED).kms(url)
                    .kmsPccsUrl(pccs.baseUrl()).internalSocket(dir.resolve("bad.sock")).start())
                    .isInstanceOf(IOException.class).hasMessageContaining("RATLS_BINDING_MISMATCH")
                    .hasMessageContaining("KMS server certificate of " + url);
            assertThat(callerEvents.get()).as("GetAppKey never reached the KMS").isNull();
        } finally {
            serverChain.set(honest);
        }
    }

    @Test
    void kmsModeNeedsOneServerCheck() {
        assertThatThrownBy(() -> GuestAgentSimulator.builder().kms(url).internalSocket(dir.resolve("x.sock")).start())
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("kmsPccsUrl");
        assertThatThrownBy(() -> GuestAgentSimulator.builder().kmsPccsUrl("http://x")
                .internalSocket(dir.resolve("x.sock")).start()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("need kms(URI)");
    }

    /** Serves whatever chain {@link #serverChain} holds (the RPC key is the same). */
    static final class CurrentChain extends X509ExtendedKeyManager {
        @Override
        public String[] getClientAliases(String keyType, Principal[] issuers) {
            return null;
        }

        @Override
        public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
            return null;
        }

        @Override
        public String[] getServerAliases(String keyType, Principal[] issuers) {
            return new String[] {"rpc"};
        }

        @Override
        public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
            return "EC".equals(keyType) ? "rpc" : null;
        }

        @Override
        public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
            return "EC".equals(keyType) ? "rpc" : null;
        }

        @Override
        public X509Certificate[] getCertificateChain(String alias) {
            return serverChain.get().clone();
        }

        @Override
        public PrivateKey getPrivateKey(String alias) {
            return rpcKey.getPrivate();
        }
    }

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
