package dev.atlas.dstack.ra;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/** Appendix A.1 / A.2 known answers for §2.4. */
class KeyDerivationTest {
    static final HexFormat HEX = HexFormat.of();
    /** Root PKCS#8 DER from {@code ra-tls/src/kdf.rs} {@code test_derive_dh_secret_stable_output}. */
    static final byte[] ROOT_DER = HEX.parseHex("308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b02"
            + "01010420f57527cea4ab7ffb49af99b158cdc0e3ec06398f528349ea236b7d2a"
            + "fe19cec1a1440342000491f50522407ce29dce3ed7d31a15d80c1c42f13a2355"
            + "2d2b33a0ce09ee11e47bce95936f3e7f80d195f879e28e1b144ef37ac9ab8e36"
            + "a690cbf930b775897b27");
    static final byte[] APP_ID = HEX.parseHex("7a3b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b");
    static final byte[] INSTANCE_ID = HEX.parseHex("00112233445566778899aabbccddeeff00112233");
    static final byte[] SIM_K256 = HEX.parseHex("d6e88992cdeeee35fe70b5db61ab66cdb191fb9b6ec9313757ef162dd7214d5d");

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void a1DeriveDhSecretAndPkcs8Template() throws Exception {
        P256PrivateKey root = P256PrivateKey.fromPkcs8(ROOT_DER);
        assertThat(HEX.formatHex(root.scalar()))
                .isEqualTo("f57527cea4ab7ffb49af99b158cdc0e3ec06398f528349ea236b7d2afe19cec1");
        assertThat(root.pkcs8()).hasSize(138).isEqualTo(ROOT_DER);
        assertThat(KeyDerivation.deriveDhSecret(root, b("context one"), b("context two")).toHex())
                .isEqualTo("663afd58820be8ad645f9c035e93199d114ab16f738db62393bc1d7d623e8813");
        // ring concatenates info slices: one context "context onecontext two" is the same derivation
        assertThat(KeyDerivation.deriveDhSecret(root, b("context onecontext two")).toHex())
                .isEqualTo("663afd58820be8ad645f9c035e93199d114ab16f738db62393bc1d7d623e8813");
    }

    @Test
    void a2AppKeysFromRoot() throws Exception {
        P256PrivateKey root = P256PrivateKey.fromPkcs8(ROOT_DER);
        assertThat(KeyDerivation.appDiskKey(root, APP_ID, INSTANCE_ID).toHex())
                .isEqualTo("1bc76c695e31f8b6d7582f18b4f3b23a339654d6a05d1db4a0de91ede1729f06");
        assertThat(KeyDerivation.appEnvKey(root, APP_ID).toHex())
                .isEqualTo("ec13de193f7c3a14edd3f550b384623f23758329ddfb9c288c0f9c2cd8b6270a");
        assertThat(HEX.formatHex(KeyDerivation.appCaKey(root, APP_ID).scalar()))
                .isEqualTo("e770cf8638c99168ac1d37113d7fc48ccafc07473cc2587e913e9b0e87bd9d9e");
    }

    @Test
    void a2AppK256AndGetKey() throws Exception {
        K256PrivateKey kmsRoot = K256PrivateKey.fromScalar(SIM_K256);
        K256PrivateKey app = KeyDerivation.appK256Key(kmsRoot, APP_ID);
        assertThat(HEX.formatHex(app.scalar()))
                .isEqualTo("d5fed573bfa82267f8a17d9e51fcf15bac47464e2000e781a42b13277c0cb3a7");
        assertThat(HEX.formatHex(app.publicKey()))
                .isEqualTo("024f103fb77f16b3ec6a70aaeb27df19b4324f17ce589ea17374ca9857d3c7aa2b");

        // GetKey with the simulator's app k256 key (appkeys.json k256_key)
        K256PrivateKey simApp = K256PrivateKey.fromScalar(SIM_K256);
        K256PrivateKey key = KeyDerivation.getKey(simApp, "my/key/path");
        assertThat(HEX.formatHex(key.scalar()))
                .isEqualTo("866d0884686e5afdbdaace8bd77c0b4f69a30dbe9506d69270a07bf247c8f4f0");
        assertThat(HEX.formatHex(key.publicKey()))
                .isEqualTo("0327936f74b569370540b92cff37af615ecc339fd95504b35b782b850808b7de66");
        String hashed = HEX.formatHex(Secp256k1.keccak256(b("signing:" + HEX.formatHex(key.publicKey()))));
        assertThat(hashed).startsWith("94f5f2fd").endsWith("b13b");
    }

    @Test
    void hkdfIsRfc5869WithRatlsSalt() throws Exception {
        // same construction through the JDK's HMAC, to pin salt and info handling
        byte[] ikm = b("input key material");
        javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
        mac.init(new javax.crypto.spec.SecretKeySpec(b("RATLS"), "HmacSHA256"));
        byte[] prk = mac.doFinal(ikm);
        mac.init(new javax.crypto.spec.SecretKeySpec(prk, "HmacSHA256"));
        mac.update(b("context one"));
        mac.update((byte) 1);
        byte[] t1 = mac.doFinal();
        assertThat(KeyDerivation.hkdf(ikm, 32, b("context one"))).isEqualTo(t1);
        assertThat(KeyDerivation.hkdf(ikm, 256, b("context one"))).hasSize(256);
        assertThatThrownBy(() -> KeyDerivation.hkdf(ikm, 0)).isInstanceOf(RaException.class);
    }

    @Test
    void seedDerivationFollowsGenAppKeysFromSeed() throws Exception {
        byte[] seed = new byte[32];
        for (int i = 0; i < 32; i++) {
            seed[i] = (byte) i;
        }
        KeyDerivation.SeedKeys k = KeyDerivation.fromSeed(seed);
        assertThat(k.caKey()).isEqualTo(KeyDerivation.deriveP256FromBytes(seed, b("app-key")));
        assertThat(k.diskKey().bytes()).isEqualTo(
                dev.atlas.dstack.ra.internal.Hashes.sha256(KeyDerivation.deriveP256FromBytes(seed, b("app-disk-key")).pkcs8()));
        assertThat(k.k256Key().scalar()).isEqualTo(KeyDerivation.hkdf(seed, 32, b("app-k256-key")));
        assertThat(k.toString()).doesNotContain(HEX.formatHex(k.k256Key().scalar()))
                .doesNotContain(k.diskKey().toHex()).doesNotContain(HEX.formatHex(k.caKey().scalar()));
    }

    @Test
    void simulatorAppKeysRootCaKeyParses() throws Exception {
        String json = Shared.text("simulator/appkeys.json");
        com.fasterxml.jackson.databind.JsonNode n = new com.fasterxml.jackson.databind.ObjectMapper().readTree(json);
        P256PrivateKey ca = P256PrivateKey.fromPem(n.path("key_provider").path("None").path("key").asText());
        assertThat(ca.pkcs8()).hasSize(138);
        assertThat(P256PrivateKey.fromPem(ca.toPem())).isEqualTo(ca);
    }

    @Test
    void outOfRangeScalarsAreRejected() {
        byte[] zero = new byte[32];
        byte[] ff = new byte[32];
        java.util.Arrays.fill(ff, (byte) 0xff);
        for (byte[] s : new byte[][] {zero, ff}) {
            assertThatThrownBy(() -> P256PrivateKey.fromScalar(s)).isInstanceOf(RaException.class)
                    .extracting(e -> ((RaException) e).raReason()).isEqualTo(RaException.Reason.KEY_OUT_OF_RANGE);
            assertThatThrownBy(() -> K256PrivateKey.fromScalar(s)).isInstanceOf(RaException.class)
                    .extracting(e -> ((RaException) e).raReason()).isEqualTo(RaException.Reason.KEY_OUT_OF_RANGE);
        }
    }

    @Test
    void secretsNeverInToString() throws Exception {
        P256PrivateKey root = P256PrivateKey.fromPkcs8(ROOT_DER);
        K256PrivateKey k = K256PrivateKey.fromScalar(SIM_K256);
        SecretBytes disk = KeyDerivation.appDiskKey(root, APP_ID, INSTANCE_ID);
        assertThat(root.toString()).doesNotContain(HEX.formatHex(root.scalar())).contains("redacted");
        assertThat(k.toString()).doesNotContain(HEX.formatHex(SIM_K256)).contains("redacted");
        assertThat(disk.toString()).doesNotContain(disk.toHex()).contains("redacted");
        KmsSignatures.GetKeyResult r = KmsSignatures.getKey(k, KmsSignatures.k256Signature(k, APP_ID, k.publicKey()),
                "p", "q");
        assertThat(r.toString()).doesNotContain(HEX.formatHex(r.key().scalar()));
        assertThat(new EnvCrypt.EnvVar("K", "s3cr3t-value").toString()).doesNotContain("s3cr3t-value");
    }
}
