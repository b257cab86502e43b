package dev.atlas.dstack.kms;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.guest.AppInfo;
import dev.atlas.dstack.guest.DstackClient;
import dev.atlas.dstack.ra.kms.AppKeyResponse;
import dev.atlas.dstack.ra.kms.BootstrapResponse;
import dev.atlas.dstack.ra.kms.GetMetaResponse;
import dev.atlas.dstack.ra.kms.KmsClient;
import dev.atlas.dstack.simulator.GuestAgentSimulator;
import dev.atlas.tdx.CollateralClient;
import dev.atlas.tdx.CollateralSource;
import dev.atlas.tdx.QuoteVerifier;
import java.io.ByteArrayInputStream;
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
}
