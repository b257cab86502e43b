package dev.atlas.dstack.kms;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.atlas.dstack.ra.K256PrivateKey;
import dev.atlas.dstack.ra.KeyDerivation;
import dev.atlas.dstack.ra.KmsSignatures;
import dev.atlas.dstack.ra.P256PrivateKey;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

/**
 * Appendix A known answers for the independent implementation ({@link IndependentKms}), and a property: for random
 * roots and app ids it agrees byte for byte with dstack-ra's {@code KeyDerivation}/{@code KmsSignatures}, which the
 * KMS uses.
 */
class IndependentKmsTest {
    static final HexFormat HEX = HexFormat.of();
    static final BigInteger ROOT = new BigInteger("f57527cea4ab7ffb49af99b158cdc0e3ec06398f528349ea236b7d2afe19cec1", 16);
    static final byte[] APP_ID = HEX.parseHex("7a3b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b");
    static final byte[] INSTANCE_ID = HEX.parseHex("00112233445566778899aabbccddeeff00112233");
    static final BigInteger SIM_K256 = new BigInteger("d6e88992cdeeee35fe70b5db61ab66cdb191fb9b6ec9313757ef162dd7214d5d", 16);

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void a1DeriveDhSecret() {
        assertEquals("663afd58820be8ad645f9c035e93199d114ab16f738db62393bc1d7d623e8813",
                HEX.formatHex(IndependentKms.deriveDhSecret(ROOT, b("context one"), b("context two"))));
        // the upstream root DER (ra-tls/src/kdf.rs) is the 138-byte template of the root scalar
        assertEquals("308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420f57527cea4ab7ffb49af99b158"
                + "cdc0e3ec06398f528349ea236b7d2afe19cec1a1440342000491f50522407ce29dce3ed7d31a15d80c1c42f13a23552d2b33a0"
                + "ce09ee11e47bce95936f3e7f80d195f879e28e1b144ef37ac9ab8e36a690cbf930b775897b27",
                HEX.formatHex(IndependentKms.pkcs8(ROOT)));
    }

    @Test
    void a1EnvPublicKeyLegacySignature() {
        // vmm-cli.py's vector: app_id = 20 zero bytes
        byte[] pub = HEX.parseHex("e33a1832c6562067ff8f844a61e51ad051f1180b66ec2551fb0251735f3ee90a");
        byte[] sig = HEX.parseHex("8542c49081fbf4e03f62034f13fbf70630bdf256a53032e38465a27c36fd6bed7a5e7111652004aef37f7f"
                + "d92fbfc1285212c4ae6a6154203a48f5e16cad2cef00");
        byte[] hash = IndependentKms.keccak(b("dstack-env-encrypt-pubkey"), b(":"), new byte[20], pub);
        assertEquals("0217610d74cbd39b6143842c6d8bc310d79da1d82cc9d17f8876376221eda0c38f",
                HEX.formatHex(IndependentKms.recover(sig, hash)));
    }

    @Test
    void a2AppKeys() {
        assertEquals("1bc76c695e31f8b6d7582f18b4f3b23a339654d6a05d1db4a0de91ede1729f06",
                HEX.formatHex(IndependentKms.diskKey(ROOT, APP_ID, INSTANCE_ID)));
        assertEquals("ec13de193f7c3a14edd3f550b384623f23758329ddfb9c288c0f9c2cd8b6270a",
                HEX.formatHex(IndependentKms.envKey(ROOT, APP_ID)));
        assertEquals("e770cf8638c99168ac1d37113d7fc48ccafc07473cc2587e913e9b0e87bd9d9e",
                IndependentKms.appCaKey(ROOT, APP_ID).toString(16));
        BigInteger app = IndependentKms.appK256(SIM_K256, APP_ID);
        assertEquals("d5fed573bfa82267f8a17d9e51fcf15bac47464e2000e781a42b13277c0cb3a7", app.toString(16));
        assertEquals("024f103fb77f16b3ec6a70aaeb27df19b4324f17ce589ea17374ca9857d3c7aa2b",
                HEX.formatHex(IndependentKms.k256Public(app)));
        byte[] sig = IndependentKms.k256Signature(SIM_K256, APP_ID);
        byte[] hash = IndependentKms.keccak(b("dstack-kms-issued"), b(":"), APP_ID, IndependentKms.k256Public(app));
        assertArrayEquals(IndependentKms.k256Public(SIM_K256), IndependentKms.recover(sig, hash));
    }

    @Test
    void appKeysWithoutInstanceId() {
        // instance id of length 0 (an app without instance-id event): the context is app_id ‖ "app-disk-crypt-key"
        assertArrayEquals(IndependentKms.deriveDhSecret(ROOT, APP_ID, b("app-disk-crypt-key")),
                IndependentKms.diskKey(ROOT, APP_ID, new byte[0]));
    }

    @Provide
    Arbitrary<byte[]> scalars() {
        return Arbitraries.bytes().array(byte[].class).ofSize(32)
                .filter(s -> new BigInteger(1, s).signum() > 0
                        && new BigInteger(1, s).compareTo(IndependentKms.K256.getN()) < 0
                        && new BigInteger(1, s).compareTo(IndependentKms.P256.getN()) < 0);
    }

    @Provide
    Arbitrary<byte[]> appIds() {
        return Arbitraries.bytes().array(byte[].class).ofSize(20);
    }

    @Property(tries = 60)
    void agreesWithDstackRa(@ForAll("scalars") byte[] caRoot, @ForAll("scalars") byte[] k256Root,
            @ForAll("appIds") byte[] appId, @ForAll("appIds") byte[] instanceId) throws Exception {
        P256PrivateKey ca = P256PrivateKey.fromScalar(caRoot);
        K256PrivateKey k = K256PrivateKey.fromScalar(k256Root);
        BigInteger caI = new BigInteger(1, caRoot);
        BigInteger kI = new BigInteger(1, k256Root);
        assertEquals(KeyDerivation.appDiskKey(ca, appId, instanceId).toHex(),
                HEX.formatHex(IndependentKms.diskKey(caI, appId, instanceId)));
        assertEquals(KeyDerivation.appEnvKey(ca, appId).toHex(), HEX.formatHex(IndependentKms.envKey(caI, appId)));
        assertArrayEquals(KeyDerivation.appCaKey(ca, appId).scalar(),
                IndependentKms.be32(IndependentKms.appCaKey(caI, appId)));
        K256PrivateKey app = KeyDerivation.appK256Key(k, appId);
        assertArrayEquals(app.scalar(), IndependentKms.be32(IndependentKms.appK256(kI, appId)));
        assertArrayEquals(KmsSignatures.k256Signature(k, appId, app.publicKey()).bytes(),
                IndependentKms.k256Signature(kI, appId));
        assertArrayEquals(ca.pkcs8(), IndependentKms.pkcs8(caI));
    }
}
