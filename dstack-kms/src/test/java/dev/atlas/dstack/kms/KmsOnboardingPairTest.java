package dev.atlas.dstack.kms;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.guest.AppInfo;
import dev.atlas.dstack.guest.DstackClient;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.kms.AppKeyResponse;
import dev.atlas.dstack.ra.kms.BootstrapResponse;
import dev.atlas.dstack.ra.kms.KmsClient;
import dev.atlas.dstack.ra.kms.OnboardResponse;
import dev.atlas.dstack.simulator.GuestAgentSimulator;
import dev.atlas.tdx.CollateralClient;
import dev.atlas.tdx.CollateralSource;
import dev.atlas.tdx.QuoteVerifier;
import java.io.ByteArrayInputStream;
import java.math.BigInteger;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The onboarding pair of §2.10 on loopback: KMS A bootstrapped over HTTP, KMS B onboarded from A with the
 * deployment guide's {@code curl} body, each in its own simulated CVM, both allowlisted on the shared auth server
 * from their own {@code GetAttestationInfo}. Both derive identical app keys; each refuses a second bootstrap or
 * onboarding; a restart keeps the keys and makes a new RPC certificate; a source KMS whose RPC certificate carries
 * no attestation is refused; a kms.toml with a missing cert_dir or an unreadable key file fails at start.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class KmsOnboardingPairTest {
    static final HexFormat HEX = HexFormat.of();

    @TempDir
    static Path dir;
    static KmsTestbed bed;
    static KmsTestbed.Node a;
    static KmsTestbed.Node b;
    static KmsTestbed.Node c;
    static BootstrapResponse aBoot;
    static OnboardResponse bOnboard;
    static String noAttestationText;
    static String aSecondBootstrap;
    static String aOnboardWithKeys;
    static String bSecondOnboard;
    static String bBootstrapAfterOnboard;
    static DstackClient appAgent;
    static AppInfo appInfo;
    static DstackTdxVerifier verifier;

    @BeforeAll
    static void setUp() throws Exception {
        bed = KmsTestbed.start(dir);
        a = bed.node("kmsA", (byte) 0x0a, false, t -> t);
        b = bed.node("kmsB", (byte) 0x0b, false, t -> t);
        c = bed.node("kmsC", (byte) 0x0c, false, t -> t.replace("attest_rpc_cert = true", "attest_rpc_cert = false"));
        a.allowSelf();
        b.allowSelf();
        c.allowSelf();
        aBoot = a.bootstrap("kms.example.com");
        aSecondBootstrap = refusal(a.onboardCall("Bootstrap", "{\"domain\":\"kms.example.com\"}"));
        // onboarding into a KMS that has keys: refused before any connection to the (unreachable) source
        aOnboardWithKeys = refusal(a.onboardCall("Onboard",
                "{\"source_url\":\"https://127.0.0.1:9/prpc\",\"domain\":\"kms.example.com\"}"));
        c.bootstrap("kms3.example.com");
        c.finish();
        a.finish();
        // B first tries the unattested C, then onboards from A: the guide's curl body
        noAttestationText = refusal(b.onboardCall("Onboard", "{\"source_url\":\"" + c.rpcUrl()
                + "\",\"domain\":\"kms2.example.com\"}"));
        bOnboard = b.onboard(a.rpcUrl(), "kms2.example.com");
        bSecondOnboard = refusal(b.onboardCall("Onboard", "{\"source_url\":\"" + a.rpcUrl()
                + "\",\"domain\":\"kms2.example.com\"}"));
        bBootstrapAfterOnboard = refusal(b.onboardCall("Bootstrap", "{\"domain\":\"kms2.example.com\"}"));
        b.finish();

        byte[] appId = new byte[20];
        Arrays.fill(appId, (byte) 0x3c);
        GuestAgentSimulator app = bed.cvm("app", appId);
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
    }

    @AfterAll
    static void tearDown() {
        if (bed != null) {
            bed.close();
        }
    }

    /** The text of a pRPC refusal (HTTP 400, dstack's {@code {"error": ...}} body). */
    static String refusal(HttpResponse<String> r) throws Exception {
        assertEquals(400, r.statusCode(), r.body());
        JsonNode n = KmsTestbed.JSON.readTree(r.body());
        return n.path("error").asText(r.body());
    }

    static AppKeyResponse appKeysFrom(KmsTestbed.Node kms) throws Exception {
        return KmsClient.builder(kms.rpcUrl()).attester(appAgent::attest).verifier(verifier)
                .timeout(Duration.ofSeconds(30)).build().getAppKey(appInfo.vmConfig());
    }

    @Test
    @Order(1)
    void bothDeriveIdenticalAppKeys() throws Exception {
        assertArrayEquals(aBoot.k256Pubkey(), bOnboard.k256Pubkey());
        BigInteger[] ra = a.rootKeys();
        BigInteger[] rb = b.rootKeys();
        assertEquals(ra[0], rb[0], "root CA key");
        assertEquals(ra[1], rb[1], "root k256 key");
        AppKeyResponse fromA = appKeysFrom(a);
        AppKeyResponse fromB = appKeysFrom(b);
        assertArrayEquals(fromA.diskCryptKey(), fromB.diskCryptKey());
        assertArrayEquals(fromA.envCryptKey(), fromB.envCryptKey());
        assertArrayEquals(fromA.k256Key(), fromB.k256Key());
        assertArrayEquals(fromA.k256Signature(), fromB.k256Signature());
        byte[] id = HEX.parseHex(appInfo.appId());
        assertArrayEquals(IndependentKms.diskKey(ra[0], id, HEX.parseHex(appInfo.instanceId())), fromB.diskCryptKey());
        // same CA keys, new CA certificates (§2.10 step 7)
        X509Certificate caA = pem(Files.readString(a.certDir.resolve("root-ca.crt")));
        X509Certificate caB = pem(Files.readString(b.certDir.resolve("root-ca.crt")));
        assertArrayEquals(caA.getPublicKey().getEncoded(), caB.getPublicKey().getEncoded());
        assertEquals(caA.getSubjectX500Principal(), caB.getSubjectX500Principal());
        assertNotEquals(caA.getSerialNumber(), caB.getSerialNumber());
        assertFalse(Files.exists(b.certDir.resolve("bootstrap-info.json")), "an onboarded KMS has no bootstrap info");
        assertTrue(bed.auditLines("GetKmsKey", "\"decision\":\"release\"").size() == 1, bed.audit.toString());
    }

    @Test
    @Order(2)
    void eachRefusesASecondBootstrapOrOnboarding() {
        assertEquals("KMS has already been bootstrapped", aSecondBootstrap);
        assertEquals("KMS has already been onboarded", aOnboardWithKeys);
        assertEquals("KMS has already been onboarded", bSecondOnboard);
        assertEquals("KMS has already been bootstrapped", bBootstrapAfterOnboard);
    }

    @Test
    @Order(3)
    void sourceWithoutAttestationIsRefused() {
        assertEquals("Failed to onboard: Source KMS certificate does not contain attestation", noAttestationText);
    }

    @Test
    @Order(4)
    void restartKeepsTheKeysWithANewRpcCertificate() throws Exception {
        byte[] rpcBefore = Files.readAllBytes(b.certDir.resolve("rpc.crt"));
        byte[] caBefore = Files.readAllBytes(b.certDir.resolve("root-ca.crt"));
        BigInteger[] keysBefore = b.rootKeys();
        AppKeyResponse before = appKeysFrom(b);
        b.restart();
        assertTrue(b.server.isMainServerUp(), "a KMS with keys starts its main listener at once");
        assertTrue(b.server.onboardAddress().isEmpty(), "no onboard listener with keys");
        assertFalse(Arrays.equals(rpcBefore, Files.readAllBytes(b.certDir.resolve("rpc.crt"))), "new RPC certificate");
        assertArrayEquals(caBefore, Files.readAllBytes(b.certDir.resolve("root-ca.crt")), "CA certificate kept");
        assertArrayEquals(keysBefore, b.rootKeys());
        AppKeyResponse after = appKeysFrom(b);
        assertArrayEquals(before.diskCryptKey(), after.diskCryptKey());
        assertArrayEquals(before.k256Key(), after.k256Key());
    }

    @Test
    @Order(5)
    void missingCertDirFailsAtStart() throws Exception {
        Path toml = dir.resolve("missing-certdir.toml");
        Files.writeString(toml, Files.readString(a.toml).replace(a.certDir.toString(),
                dir.resolve("no-such-dir").toString()));
        RaException e = assertThrows(RaException.class, () -> KmsServer.builder(KmsConfig.load(toml))
                .environment(a.env()).start());
        assertTrue(e.getMessage().contains("core.cert_dir"), e.getMessage());
        assertTrue(e.getMessage().contains("no-such-dir"), e.getMessage());
    }

    @Test
    @Order(6)
    void unreadableKeyFileFailsAtStart() throws Exception {
        for (String file : new String[] {"root-ca.key", "root-k256.key"}) {
            Path copy = Files.createDirectories(dir.resolve("broken-" + file));
            try (Stream<Path> s = Files.list(a.certDir)) {
                for (Path p : s.toList()) {
                    Files.copy(p, copy.resolve(p.getFileName()));
                }
            }
            Files.delete(copy.resolve(file));
            Files.createDirectory(copy.resolve(file)); // unreadable as a file (the tests may run as root)
            Path toml = dir.resolve("broken-" + file + ".toml");
            Files.writeString(toml, Files.readString(a.toml).replace(a.certDir.toString(), copy.toString()));
            RaException e = assertThrows(RaException.class, () -> KmsServer.builder(KmsConfig.load(toml))
                    .environment(a.env()).start());
            assertTrue(e.getMessage().contains(file), file + ": " + e.getMessage());
        }
    }

    static X509Certificate pem(String s) throws Exception {
        return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(
                new ByteArrayInputStream(s.getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
    }
}
