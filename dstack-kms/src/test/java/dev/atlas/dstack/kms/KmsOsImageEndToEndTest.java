package dev.atlas.dstack.kms;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.guest.AppInfo;
import dev.atlas.dstack.guest.DstackClient;
import dev.atlas.dstack.ra.kms.AppKeyResponse;
import dev.atlas.dstack.ra.kms.Attester;
import dev.atlas.dstack.ra.kms.KmsClient;
import dev.atlas.dstack.ra.prpc.PrpcRemoteException;
import dev.atlas.dstack.simulator.GuestAgentSimulator;
import dev.atlas.tdx.CollateralClient;
import dev.atlas.tdx.CollateralSource;
import dev.atlas.tdx.QuoteVerifier;
import java.io.ByteArrayInputStream;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code core.image.verify = true} end to end: a KMS with the lite OS-image check releases keys to a lite app
 * (upstream's real lite boot measurements under the mock PKI, {@link ForgedCvm}) and refuses the same app when its
 * vm_config lies about the OS image, even though the webhook allowlists both images; a simulated app that is not
 * lite is refused as "not supported"; an app id of the wrong length is refused before any webhook call.
 */
class KmsOsImageEndToEndTest {
    static final HexFormat HEX = HexFormat.of();
    static final String OTHER_IMAGE = "ab".repeat(32);

    @TempDir
    static Path dir;
    static KmsTestbed bed;
    static KmsTestbed.Node kms;
    static ForgedCvm lite;
    static DstackTdxVerifier verifier;

    @BeforeAll
    static void setUp() throws Exception {
        byte[] appId = new byte[20];
        Arrays.fill(appId, (byte) 0x1e);
        lite = ForgedCvm.lite(appId, HEX.parseHex("c0".repeat(32)), HEX.parseHex("1d".repeat(20)));
        bed = KmsTestbed.start(dir);
        kms = bed.node("kmsv", (byte) 0x02, true, t -> t);
        kms.allowSelf();
        kms.bootstrap("kms-verify.example.com");
        kms.finish();
        bed.allowApp(HEX.formatHex(lite.appId), HEX.formatHex(lite.composeHash), lite.osImageHash());
        bed.osImages.add(OTHER_IMAGE); // the webhook would allow the lie: only the OS-image check stops it
        bed.writeAuthConfig();
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

    static KmsClient client(Attester a) {
        return KmsClient.builder(kms.rpcUrl()).attester(a).verifier(verifier).timeout(Duration.ofSeconds(30)).build();
    }

    static List<String> newAudit(int from) {
        List<String> l = new ArrayList<>(bed.audit.subList(from, bed.audit.size()));
        for (String s : l) {
            assertFalse(s.contains("\"decision\":\"release\""), "released: " + s);
        }
        return l;
    }

    @Test
    void honestLiteAppGetsItsKeys() throws Exception {
        AppKeyResponse keys = client(lite).getAppKey(lite.vmConfig);
        BigInteger[] roots = kms.rootKeys();
        assertArrayEquals(IndependentKms.diskKey(roots[0], lite.appId, lite.instanceId), keys.diskCryptKey());
        assertArrayEquals(IndependentKms.envKey(roots[0], lite.appId), keys.envCryptKey());
        assertArrayEquals(IndependentKms.be32(IndependentKms.appK256(roots[1], lite.appId)), keys.k256Key());
        assertEquals(lite.osImageHash(), HEX.formatHex(keys.osImageHash()));
    }

    @Test
    void vmConfigLyingAboutTheOsImage() throws Exception {
        int from = bed.audit.size();
        PrpcRemoteException e = assertThrows(PrpcRemoteException.class,
                () -> client(lite).getAppKey(lite.vmConfigWithOsImage(OTHER_IMAGE)));
        String text = e.remoteError();
        assertTrue(text.startsWith("App not allowed: Failed to verify os image hash"), text);
        assertTrue(text.contains("os_image_hash mismatch"), text);
        List<String> audit = newAudit(from);
        assertTrue(audit.stream().anyMatch(l -> l.contains("\"decision\":\"refuse\"")
                && l.contains("os_image_hash mismatch") && l.contains(OTHER_IMAGE)), audit.toString());
    }

    @Test
    void notLiteIsNotSupported() throws Exception {
        byte[] appId = new byte[20];
        Arrays.fill(appId, (byte) 0x2e);
        GuestAgentSimulator sim = bed.cvm("legacy-app", appId);
        DstackClient agent = DstackClient.builder().endpoint(sim.internalSocket().orElseThrow().toString()).build();
        AppInfo info = agent.info();
        bed.allowApp(info.appId(), info.composeHash(), info.osImageHash());
        int from = bed.audit.size();
        PrpcRemoteException e = assertThrows(PrpcRemoteException.class,
                () -> client(agent::attest).getAppKey(info.vmConfig()));
        assertTrue(e.remoteError().startsWith("App not allowed: Failed to verify os image hash"), e.remoteError());
        assertTrue(e.remoteError().contains("not supported"), e.remoteError());
        newAudit(from);
    }

    @Test
    void appIdOfTheWrongLength() throws Exception {
        ForgedCvm short19 = ForgedCvm.lite(new byte[19], HEX.parseHex("c0".repeat(32)), HEX.parseHex("1d".repeat(20)));
        int from = bed.audit.size();
        PrpcRemoteException e = assertThrows(PrpcRemoteException.class,
                () -> client(short19).getAppKey(short19.vmConfig));
        assertTrue(e.remoteError().startsWith("App not allowed: "), e.remoteError());
        assertTrue(e.remoteError().contains("app_id must be 20 bytes"), e.remoteError());
        assertFalse(newAudit(from).isEmpty());
    }
}
