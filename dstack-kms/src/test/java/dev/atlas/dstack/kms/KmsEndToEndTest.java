package dev.atlas.dstack.kms;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.guest.AppInfo;
import dev.atlas.dstack.guest.DstackClient;
import dev.atlas.dstack.guest.TlsKey;
import dev.atlas.dstack.guest.TlsKeyRequest;
import dev.atlas.dstack.ra.ClientIdentity;
import dev.atlas.dstack.ra.kms.AppKeyResponse;
import dev.atlas.dstack.ra.kms.BootstrapResponse;
import dev.atlas.dstack.ra.kms.GetMetaResponse;
import dev.atlas.dstack.ra.kms.KmsClient;
import dev.atlas.dstack.simulator.GuestAgentSimulator;
import dev.atlas.tdx.CollateralClient;
import dev.atlas.tdx.CollateralSource;
import dev.atlas.tdx.QuoteVerifier;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.CertConfig;
import dev.atlas.dstack.ra.CertSigningRequest;
import dev.atlas.dstack.ra.P256PrivateKey;
import dev.atlas.dstack.ra.RaTlsCertificate;
import dev.atlas.dstack.ra.VersionedAttestation;
import dev.atlas.dstack.ra.kms.SignCertRequest;
import dev.atlas.dstack.ra.kms.SignCertResponse;
import dev.atlas.dstack.ra.kms.TempCaCertResponse;
import dev.atlas.dstack.ra.prpc.PrpcClient;
import dev.atlas.dstack.ra.prpc.PrpcRemoteException;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.io.IOException;
import java.net.Socket;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.HexFormat;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * End to end on loopback: the auth server, a KMS bootstrapped over HTTP in its own simulated CVM (its measurement
 * captured with {@code Onboard.GetAttestationInfo} and allowlisted, as an operator does), and a simulated app CVM
 * that gets its keys over dstack-util's path (temp CA, RA-TLS client certificate, checked server certificate,
 * {@code GetAppKey}); the released keys equal an independent implementation's for the root keys in
 * {@code cert_dir}.
 */
class KmsEndToEndTest {
    static final HexFormat HEX = HexFormat.of();
    static final byte[] APP_ID = HEX.parseHex("7a3b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b");

    @TempDir
    static Path dir;
    static KmsTestbed bed;
    static KmsTestbed.Node kms;
    static BootstrapResponse boot;
    static GuestAgentSimulator app;
    static DstackClient appAgent;
    static AppInfo appInfo;
    static DstackTdxVerifier verifier;
    static GuestAgentSimulator kmsApp;
    static AppInfo kmsAppInfo;

    @BeforeAll
    static void setUp() throws Exception {
        bed = KmsTestbed.start(dir);
        kms = bed.node("kms1", (byte) 0x01, false, t -> t);
        kms.allowSelf();
        boot = kms.bootstrap("kms.example.com");
        kms.finish();
        app = bed.cvm("app", APP_ID);
        appAgent = DstackClient.builder().endpoint(app.internalSocket().orElseThrow().toString()).build();
        appInfo = appAgent.info();
        bed.allowApp(appInfo.appId(), appInfo.composeHash(), appInfo.osImageHash());
        X509Certificate root = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(
                new ByteArrayInputStream(Files.readAllBytes(bed.rootCaFile)));
        verifier = DstackTdxVerifier.builder()
                .quoteVerifier(QuoteVerifier.builder().insecureTrustAnchorForTesting(root).build())
                .collateralSource(CollateralSource.fetching(CollateralClient.builder().baseUrl(bed.pccs.baseUrl())
                        .build()))
                .build();

        // a simulated app CVM in KMS mode: the operator allowlists it first (read from a probe of the same CVM),
        // then it boots and asks this KMS for its keys as dstack-util does
        byte[] kmsAppId = new byte[20];
        java.util.Arrays.fill(kmsAppId, (byte) 0x6b);
        GuestAgentSimulator probe = bed.cvm("kmsapp", kmsAppId, b -> b.internalSocket(dir.resolve("probe.sock")));
        AppInfo p = DstackClient.builder().endpoint(probe.internalSocket().orElseThrow().toString()).build().info();
        probe.close();
        bed.allowApp(p.appId(), p.composeHash(), p.osImageHash());
        kmsApp = bed.cvm("kmsapp", kmsAppId, b -> b.kms(URI.create("https://127.0.0.1:"
                + kms.server.rpcAddress().getPort())).kmsPccsUrl(bed.pccs.baseUrl()));
        kmsAppInfo = DstackClient.builder().endpoint(kmsApp.internalSocket().orElseThrow().toString()).build().info();
    }

    @AfterAll
    static void tearDown() {
        if (bed != null) {
            bed.close();
        }
    }

    static KmsClient appClient() {
        return KmsClient.builder(kms.rpcUrl()).attester(appAgent::attest).verifier(verifier)
                .timeout(Duration.ofSeconds(30)).build();
    }

    @Test
    void appGetsItsKeysAndTheyAreTheIndependentImplementations() throws Exception {
        AppKeyResponse keys = appClient().getAppKey(appInfo.vmConfig());
        BigInteger[] roots = kms.rootKeys();
        byte[] appId = HEX.parseHex(appInfo.appId());
        byte[] instanceId = HEX.parseHex(appInfo.instanceId());
        assertArrayEquals(IndependentKms.diskKey(roots[0], appId, instanceId), keys.diskCryptKey(), "disk key");
        assertArrayEquals(IndependentKms.envKey(roots[0], appId), keys.envCryptKey(), "env key");
        assertArrayEquals(IndependentKms.be32(IndependentKms.appK256(roots[1], appId)), keys.k256Key(), "k256 key");
        assertArrayEquals(IndependentKms.k256Signature(roots[1], appId), keys.k256Signature(), "k256 signature");
        assertEquals("e2e-gateway", keys.gatewayAppId());
        assertEquals("e2e-gateway", keys.tproxyAppId());
        assertEquals(appInfo.osImageHash(), HEX.formatHex(keys.osImageHash()));
        // the bootstrap response names the same root keys
        assertArrayEquals(IndependentKms.k256Public(roots[1]), boot.k256Pubkey());
        GetMetaResponse meta = kms.plainClient().getMeta();
        assertArrayEquals(boot.k256Pubkey(), meta.k256Pubkey());
        assertTrue(meta.bootstrapInfo().isPresent());
        assertFalse(meta.isDev());
        assertFalse(bed.auditLines("GetAppKey", appInfo.appId()).isEmpty(), String.join("\n", bed.audit));
    }

    @Test
    void simulatedAppCvmInKmsModeBootsWithTheKmsKeys() throws Exception {
        BigInteger[] roots = kms.rootKeys();
        byte[] appId = HEX.parseHex(kmsAppInfo.appId());
        var keys = kmsApp.appKeys();
        assertArrayEquals(IndependentKms.diskKey(roots[0], appId, HEX.parseHex(kmsAppInfo.instanceId())),
                keys.diskCryptKey(), "disk key");
        assertArrayEquals(IndependentKms.envKey(roots[0], appId), keys.envCryptKey(), "env key");
        assertArrayEquals(IndependentKms.be32(IndependentKms.appK256(roots[1], appId)), keys.k256Key(), "k256 key");
        assertArrayEquals(IndependentKms.k256Public(roots[1]), kmsApp.kmsPublicKey().orElseThrow(), "KMS key");
        // the boot recorded the OS image and the key provider {"name":"kms","id":<hex SPKI of the KMS root CA key>}
        String kp = kmsAppInfo.keyProviderInfo();
        assertTrue(kp.contains("\"kms\"") && kp.contains(HEX.formatHex(boot.caPubkey())), kp);

        DstackClient agent = DstackClient.builder().endpoint(kmsApp.internalSocket().orElseThrow().toString()).build();
        // GetKey's chain verifies to this KMS's root k256 key
        agent.getKey("e2e/path", "signing", boot.k256Pubkey());
        // GetTlsKey through the KMS's SignCert: [leaf, app CA, KMS root]
        TlsKey tls = agent.getTlsKey(TlsKeyRequest.builder().subject("app.example.com")
                .altNames(List.of("app.example.com")).usageServerAuth(true).usageRaTls(true).build());
        List<String> chainPem = tls.certificateChainPem();
        assertEquals(3, chainPem.size(), chainPem.toString());
        X509Certificate leaf = pemCert(chainPem.get(0));
        X509Certificate appCa = pemCert(chainPem.get(1));
        X509Certificate root = pemCert(chainPem.get(2));
        leaf.verify(appCa.getPublicKey());
        appCa.verify(root.getPublicKey());
        root.verify(root.getPublicKey());
        assertArrayEquals(IndependentKms.p256Public(IndependentKms.appCaKey(roots[0], appId)),
                uncompressed(appCa.getPublicKey()), "app CA key");
        assertArrayEquals(IndependentKms.p256Public(roots[0]), uncompressed(root.getPublicKey()), "KMS root CA key");
        assertEquals(Files.readString(kms.certDir.resolve("root-ca.crt")).strip(), chainPem.get(2).strip());
        assertTrue(RaTlsCertificate.parse(leaf).attestation().isPresent(), "usage_ra_tls: the leaf is attested");
        assertFalse(bed.auditLines("SignCert", "\"decision\":\"release\"", kmsAppInfo.appId()).isEmpty());
    }

    @Test
    void envEncryptPublicKeyIsSignedByTheKmsRoot() throws Exception {
        byte[] appId = HEX.parseHex(appInfo.appId());
        var r = kms.plainClient().getAppEnvEncryptPubKey(appId);
        BigInteger[] roots = kms.rootKeys();
        byte[] pub = IndependentKms.x25519Public(IndependentKms.envKey(roots[0], appId));
        assertArrayEquals(pub, r.publicKey(), "X25519 public key of the env key");
        byte[] rootPub = IndependentKms.k256Public(roots[1]);
        byte[] legacy = IndependentKms.keccak(b("dstack-env-encrypt-pubkey"), b(":"), appId, pub);
        assertArrayEquals(rootPub, IndependentKms.recover(r.signature(), legacy), "legacy signature");
        byte[] ts = java.nio.ByteBuffer.allocate(8).putLong(r.timestamp()).array();
        byte[] v1 = IndependentKms.keccak(b("dstack-env-encrypt-pubkey"), b(":"), appId, ts, pub);
        assertArrayEquals(rootPub, IndependentKms.recover(r.signatureV1(), v1), "timestamped signature");
        assertTrue(Math.abs(r.timestamp() - java.time.Instant.now().getEpochSecond()) < 300, "timestamp is now");
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    // ---- attacks through the real listener ---------------------------------------------------------------

    /** Runs {@code call}, expects a pRPC error (HTTP 400, dstack's body) and returns its text. */
    static String refusedWith(Call call) {
        PrpcRemoteException e = assertThrows(PrpcRemoteException.class, call::run);
        return e.remoteError();
    }

    interface Call {
        void run() throws Exception;
    }

    /** The audit lines written while {@code call} ran; asserts none is a release. */
    static List<String> auditOf(Call call) throws Exception {
        int before = bed.audit.size();
        try {
            call.run();
        } catch (Exception | AssertionError e) {
            throw e;
        }
        List<String> lines = new ArrayList<>(bed.audit.subList(before, bed.audit.size()));
        for (String l : lines) {
            assertFalse(l.contains("\"decision\":\"release\""), "a key was released: " + l);
        }
        return lines;
    }

    static void assertRefusalAudited(List<String> lines, String method, String text) {
        assertTrue(lines.stream().anyMatch(l -> l.contains("\"method\":\"" + method + "\"")
                && l.contains("\"decision\":\"refuse\"") && l.contains(text)),
                "no audit refusal for " + method + " with \"" + text + "\": " + lines);
    }

    static KeyPair p256() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        return g.generateKeyPair();
    }

    static PrivateKey jdkKey(String pem) throws Exception {
        P256PrivateKey k = P256PrivateKey.fromPem(pem.strip());
        return KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(k.pkcs8()));
    }

    static X509Certificate pemCert(String pem) throws Exception {
        return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(
                new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)));
    }

    /** The app's genuine attestation bound to {@code key} (stripped, as in a certificate). */
    static byte[] appAttestationFor(java.security.PublicKey key) throws Exception {
        return VersionedAttestation.decode(appAgent.attest(RaTlsCertificate.reportData(key))).stripped().encode();
    }

    /** An RA-TLS client certificate for {@code key} carrying {@code attestation}, signed by the temp CA. */
    static X509Certificate tempCaSigned(java.security.PublicKey key, byte[] attestation) throws Exception {
        TempCaCertResponse tmp = kms.plainClient().getTempCaCert();
        return RaTlsCertificate.builder().subject(KmsClient.CLIENT_CERT_SUBJECT).attestation(attestation)
                .publicKey(key).clock(Clock.systemUTC()).signedBy(pemCert(tmp.tempCaCert()), jdkKey(tmp.tempCaKey()));
    }

    /** A pRPC call to the KMS over TLS (server not checked) presenting {@code chain} (none when null). */
    static JsonNode rawCall(String method, Object body, PrivateKey key, X509Certificate... chain) throws Exception {
        KeyManager[] km = key == null ? null : new KeyManager[] {ClientIdentity.of(key, chain)};
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(km, new TrustManager[] {new TrustAll()}, null);
        return PrpcClient.builder(kms.rpcUrl()).sslContext(ctx).connectTimeout(Duration.ofSeconds(10))
                .requestTimeout(Duration.ofSeconds(30)).build().call("KMS." + method, body);
    }

    static ObjectNode getAppKeyBody() {
        ObjectNode b = KmsTestbed.JSON.createObjectNode();
        b.put("api_version", 1);
        b.put("vm_config", appInfo.vmConfig());
        return b;
    }

    @Test
    void noClientCertificate() throws Exception {
        List<String> audit = auditOf(() -> assertEquals("App not allowed: No attestation provided",
                refusedWith(() -> rawCall("GetAppKey", getAppKeyBody(), null))));
        assertRefusalAudited(audit, "GetAppKey", "No attestation provided");
        assertEquals("No attestation provided", refusedWith(() -> rawCall("GetKmsKey",
                KmsTestbed.JSON.createObjectNode().put("vm_config", ""), null)));
    }

    @Test
    void certificateNotSignedByTheTempCa() throws Exception {
        KeyPair kp = p256();
        KeyPair otherCa = p256();
        X509Certificate ca = RaTlsCertificate.builder().organization("Dstack").subject("Dstack Client Temp CA")
                .caLevel(0).clock(Clock.systemUTC()).selfSigned(otherCa);
        X509Certificate leaf = RaTlsCertificate.builder().subject(KmsClient.CLIENT_CERT_SUBJECT)
                .attestation(appAttestationFor(kp.getPublic())).publicKey(kp.getPublic()).clock(Clock.systemUTC())
                .signedBy(ca, otherCa.getPrivate());
        // a look-alike temp CA (same DN, another key): the TLS layer refuses the chain, nothing reaches the route
        // (the JDK server ends the TLS 1.3 connection after the client's Finished: the client sees a reset)
        List<String> audit = auditOf(() -> assertThrows(IOException.class,
                () -> rawCall("GetAppKey", getAppKeyBody(), kp.getPrivate(), leaf, ca)));
        assertTrue(audit.isEmpty(), audit.toString());
        // the one difference is the issuer: the same key and attestation under the temp CA get the keys
        X509Certificate genuine = tempCaSigned(kp.getPublic(), RaTlsCertificate.parse(leaf).attestation().orElseThrow());
        assertTrue(rawCall("GetAppKey", getAppKeyBody(), kp.getPrivate(), genuine).has("disk_crypt_key"));
    }

    @Test
    void genuineAttestationBoundToAnotherKey() throws Exception {
        KeyPair victim = p256();
        KeyPair relay = p256();
        X509Certificate cert = tempCaSigned(relay.getPublic(), appAttestationFor(victim.getPublic()));
        List<String> audit = auditOf(() -> {
            String text = refusedWith(() -> rawCall("GetAppKey", getAppKeyBody(), relay.getPrivate(), cert));
            assertTrue(text.startsWith("invalid quote"), text);
            assertTrue(text.contains("report_data") || text.contains("bound"), text);
        });
        assertRefusalAudited(audit, "GetAppKey", "invalid quote");
    }

    @Test
    void anAppAskingForTheRootKeys() throws Exception {
        // a genuine, allowlisted app is not a KMS: GetKmsKey goes to bootAuth/kms, whose allowlist it is not on
        List<String> audit = auditOf(() -> {
            PrpcRemoteException e = assertThrows(PrpcRemoteException.class,
                    () -> appClient().getKmsKey(appInfo.vmConfig()));
            assertTrue(e.remoteError().startsWith("Boot denied: "), e.remoteError());
        });
        assertRefusalAudited(audit, "GetKmsKey", "Boot denied");
    }

    @Test
    void unsupportedApiVersion() throws Exception {
        KeyPair kp = p256();
        X509Certificate cert = tempCaSigned(kp.getPublic(), appAttestationFor(kp.getPublic()));
        ObjectNode body = getAppKeyBody().put("api_version", 2);
        auditOf(() -> assertEquals("Unsupported API version: 2",
                refusedWith(() -> rawCall("GetAppKey", body, kp.getPrivate(), cert))));
    }

    @Test
    void appIdOfTheWrongLength() throws Exception {
        ObjectNode body = KmsTestbed.JSON.createObjectNode().put("app_id", "11".repeat(19));
        List<String> audit = auditOf(() -> assertEquals("app_id must be 20 bytes",
                refusedWith(() -> rawCall("GetAppEnvEncryptPubKey", body, null))));
        assertRefusalAudited(audit, "GetAppEnvEncryptPubKey", "app_id must be 20 bytes");
        // and the right length is answered (no attestation needed)
        rawCall("GetAppEnvEncryptPubKey", KmsTestbed.JSON.createObjectNode().put("app_id", "11".repeat(20)), null);
    }

    // ---- SignCert ------------------------------------------------------------------------------------------

    static CertConfig leafConfig() {
        return CertConfig.builder().subject("app.example.com").subjectAltNames(List.of("app.example.com"))
                .usageServerAuth(true).extQuote(true).build();
    }

    static SignCertRequest signRequest(CertSigningRequest csr, byte[] signature) {
        return new SignCertRequest(2, csr.encode(), signature, appInfo.vmConfig());
    }

    static SignCertResponse signCert(SignCertRequest r) throws Exception {
        return SignCertResponse.fromJson(rawCall("SignCert", r.toJson(), null));
    }

    @Test
    void signCertIssuesLeafAppCaRoot() throws Exception {
        KeyPair kp = p256();
        CertSigningRequest csr = CertSigningRequest.create(kp.getPublic(), leafConfig(),
                VersionedAttestation.decode(appAgent.attest(RaTlsCertificate.reportData(kp.getPublic()))).encode());
        SignCertResponse chain = signCert(signRequest(csr, csr.sign(kp.getPrivate())));
        assertEquals(3, chain.certificateChain().size());
        X509Certificate leaf = pemCert(chain.certificateChain().get(0));
        X509Certificate appCa = pemCert(chain.certificateChain().get(1));
        X509Certificate root = pemCert(chain.certificateChain().get(2));
        leaf.verify(appCa.getPublicKey());
        appCa.verify(root.getPublicKey());
        assertArrayEquals(kp.getPublic().getEncoded(), leaf.getPublicKey().getEncoded());
        // the app CA key is the independent implementation's derivation for this app
        BigInteger[] roots = kms.rootKeys();
        assertArrayEquals(IndependentKms.p256Public(IndependentKms.appCaKey(roots[0], HEX.parseHex(appInfo.appId()))),
                uncompressed(appCa.getPublicKey()));
        assertArrayEquals(IndependentKms.p256Public(roots[0]), uncompressed(root.getPublicKey()));
        assertEquals("app:custom", RaTlsCertificate.parse(leaf).usage().orElseThrow());

        // a replay of the same CSR and signature gets a certificate for the same key only: useless without it
        SignCertResponse again = signCert(signRequest(csr, csr.sign(kp.getPrivate())));
        assertArrayEquals(kp.getPublic().getEncoded(), pemCert(again.certificateChain().get(0)).getPublicKey()
                .getEncoded());
    }

    static byte[] uncompressed(java.security.PublicKey k) {
        java.security.interfaces.ECPublicKey e = (java.security.interfaces.ECPublicKey) k;
        byte[] out = new byte[65];
        out[0] = 4;
        System.arraycopy(IndependentKms.be32(e.getW().getAffineX()), 0, out, 1, 32);
        System.arraycopy(IndependentKms.be32(e.getW().getAffineY()), 0, out, 33, 32);
        return out;
    }

    @Test
    void csrWithAnotherKeysAttestation() throws Exception {
        KeyPair victim = p256();
        KeyPair attacker = p256();
        byte[] stolen = VersionedAttestation.decode(appAgent.attest(RaTlsCertificate.reportData(victim.getPublic())))
                .encode();
        CertSigningRequest csr = CertSigningRequest.create(attacker.getPublic(), leafConfig(), stolen);
        List<String> audit = auditOf(() -> {
            String text = refusedWith(() -> signCert(signRequest(csr, csr.sign(attacker.getPrivate()))));
            assertTrue(text.startsWith("Quote verification failed"), text);
        });
        assertRefusalAudited(audit, "SignCert", "Quote verification failed");
    }

    @Test
    void csrWithWrongConfirmWordOrSignature() throws Exception {
        KeyPair kp = p256();
        CertSigningRequest csr = CertSigningRequest.create(kp.getPublic(), leafConfig(),
                VersionedAttestation.decode(appAgent.attest(RaTlsCertificate.reportData(kp.getPublic()))).encode());
        byte[] bytes = csr.encode();
        // SCALE: compact length (0x44 = 17) then "please sign cert:"; change one letter of the confirm word
        assertEquals('p', bytes[1]);
        byte[] badConfirm = bytes.clone();
        badConfirm[1] = 'P';
        java.security.Signature s = java.security.Signature.getInstance("SHA256withECDSA");
        s.initSign(kp.getPrivate());
        s.update(badConfirm);
        byte[] sig = s.sign();
        List<String> audit = auditOf(() -> assertEquals("Failed to verify csr signature: Invalid confirm word",
                refusedWith(() -> signCert(new SignCertRequest(2, badConfirm, sig, appInfo.vmConfig())))));
        assertRefusalAudited(audit, "SignCert", "Invalid confirm word");

        KeyPair other = p256();
        List<String> audit2 = auditOf(() -> assertEquals("Failed to verify csr signature: Invalid signature",
                refusedWith(() -> signCert(signRequest(csr, CertSigningRequest.create(other.getPublic(), leafConfig(),
                        csr.attestation()).sign(other.getPrivate()))))));
        assertRefusalAudited(audit2, "SignCert", "Invalid signature");
    }

    /** Accepts any server (these tests attack the KMS, they do not check it). */
    static final class TrustAll extends X509ExtendedTrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] c, String a, Socket s) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] c, String a, Socket s) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] c, String a, SSLEngine e) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] c, String a, SSLEngine e) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] c, String a) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] c, String a) {
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
