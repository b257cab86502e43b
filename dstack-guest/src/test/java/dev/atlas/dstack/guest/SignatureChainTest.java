package dev.atlas.dstack.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.atlas.dstack.guest.FakeAgent.Reply;
import dev.atlas.dstack.ra.K256PrivateKey;
import dev.atlas.dstack.ra.KeyDerivation;
import dev.atlas.dstack.ra.KmsSignatures;
import dev.atlas.dstack.ra.KmsSignatures.ChainResult;
import dev.atlas.dstack.ra.KmsSignatures.GetKeyResult;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RecoverableSignature;
import dev.atlas.dstack.ra.Secp256k1;
import dev.atlas.tdx.AttestationException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The {@code GetKey} signature chain against a fake agent whose answer is produced with dstack-ra's signing
 * from a known KMS root (spec Appendix A.2: the simulator's {@code k256_key} treated as a KMS root, and its
 * app id), then one mutation each with its fine reason.
 */
class SignatureChainTest {
    static final HexFormat HEX = HexFormat.of();
    /** Appendix A.2: the {@code k256_key} of {@code sdk/simulator/appkeys.json}, treated as a KMS root. */
    static final String KMS_ROOT = "d6e88992cdeeee35fe70b5db61ab66cdb191fb9b6ec9313757ef162dd7214d5d";
    static final String APP_ID = "7a3b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b";
    static final String PATH = "/test/path";
    static final String PURPOSE = "test-purpose";

    @TempDir Path dir;
    FakeAgent agent;
    K256PrivateKey kmsRoot;
    K256PrivateKey appK256;
    GetKeyResult answer;

    @BeforeEach
    void keys() throws RaException {
        kmsRoot = K256PrivateKey.fromScalar(HEX.parseHex(KMS_ROOT));
        appK256 = KeyDerivation.appK256Key(kmsRoot, HEX.parseHex(APP_ID));
        RecoverableSignature k256Signature = KmsSignatures.k256Signature(kmsRoot, HEX.parseHex(APP_ID),
                appK256.publicKey());
        answer = KmsSignatures.getKey(appK256, k256Signature, PATH, PURPOSE);
    }

    @AfterEach
    void stop() throws IOException {
        if (agent != null) {
            agent.close();
        }
    }

    static String getKeyJson(byte[] key, List<byte[]> chain) {
        StringBuilder b = new StringBuilder("{\"key\":\"").append(HEX.formatHex(key)).append("\",\"signature_chain\":[");
        for (int i = 0; i < chain.size(); i++) {
            b.append(i == 0 ? "" : ",").append('"').append(HEX.formatHex(chain.get(i))).append('"');
        }
        return b.append("]}").toString();
    }

    List<byte[]> chain() {
        List<byte[]> c = new ArrayList<>();
        answer.signatureChain().forEach(s -> c.add(s.bytes()));
        return c;
    }

    /** A fake agent serving {@code Info} (with {@code appId}) and {@code GetKey} (with {@code key}, {@code chain}). */
    DstackClient client(String transport, String appId, byte[] key, List<byte[]> chain) throws IOException {
        String info = "{\"app_id\":\"" + appId + "\",\"instance_id\":\"\",\"app_name\":\"demo\"}";
        String getKey = getKeyJson(key, chain);
        Function<String, Reply> handler = r -> r.startsWith("POST /Info ") ? Reply.json(200, info)
                : r.startsWith("POST /GetKey ") ? Reply.json(200, getKey) : Reply.json(404, "{}");
        agent = transport.equals("unix") ? FakeAgent.unix(dir.resolve("dstack.sock"), handler) : FakeAgent.tcp(handler);
        return DstackClient.builder().environment(Map.of()).endpoint(agent.endpoint())
                .readTimeout(Duration.ofSeconds(5)).build();
    }

    @Test
    void appendixA2KnownAnswers() throws RaException {
        // app k256 derived from the KMS root for APP_ID
        assertThat(HEX.formatHex(appK256.scalar()))
                .isEqualTo("d5fed573bfa82267f8a17d9e51fcf15bac47464e2000e781a42b13277c0cb3a7");
        assertThat(HEX.formatHex(appK256.publicKey()))
                .isEqualTo("024f103fb77f16b3ec6a70aaeb27df19b4324f17ce589ea17374ca9857d3c7aa2b");
        // GetKey("my/key/path") with the simulator's app k256 key, and the app link's hashed message
        K256PrivateKey simulatorApp = K256PrivateKey.fromScalar(HEX.parseHex(KMS_ROOT));
        K256PrivateKey k = KeyDerivation.getKey(simulatorApp, "my/key/path");
        assertThat(HEX.formatHex(k.scalar()))
                .isEqualTo("866d0884686e5afdbdaace8bd77c0b4f69a30dbe9506d69270a07bf247c8f4f0");
        assertThat(HEX.formatHex(k.publicKey()))
                .isEqualTo("0327936f74b569370540b92cff37af615ecc339fd95504b35b782b850808b7de66");
        String hash = HEX.formatHex(Secp256k1.keccak256(KmsSignatures.getKeyMessage("signing", k.publicKey())));
        assertThat(hash).startsWith("94f5f2fd").endsWith("b13b");
    }

    /**
     * Upstream known answer: dstack's simulator ({@code sdk/simulator/appkeys.json}: {@code k256_key},
     * {@code k256_signature}; its app id is the {@code app-id} event of {@code sdk/simulator/attestation.bin})
     * with the KMS and app public keys that {@code sdk/go/dstack/client_web3_test.go} expects for
     * {@code GetKey("/test/path", "test-purpose")}. The KMS link is dstack's own bytes.
     */
    @ParameterizedTest
    @ValueSource(strings = {"unix", "tcp"})
    void upstreamSimulatorChain(String t) throws Exception {
        K256PrivateKey simApp = K256PrivateKey.fromScalar(HEX.parseHex(KMS_ROOT));
        RecoverableSignature simK256Signature = RecoverableSignature.of(HEX.parseHex(
                "9e618603e72d01fedb82deff6daf2d62a572becf0059eec3f89c1ab40e1f2e59"
                + "4d2a283f843f34e8f39e4cc49a612496ce67223a12ac923f8efe330346dfc6c500"));
        String simAppId = "5bb4ff9a3837357f19dc176407a5709c62eb6c56";
        byte[] goExpectedKms = HEX.parseHex("0321529e458424ab1f710a3a57ec4dad2fb195ddca572f7469242ba6c7563085b6");
        byte[] goExpectedApp = HEX.parseHex("02818494263695e8839122dbd88e281d7380622999df4e60a14befa0f2d096fc7c");
        GetKeyResult sim = KmsSignatures.getKey(simApp, simK256Signature, "/test/path", "test-purpose");
        List<byte[]> chain = new ArrayList<>();
        sim.signatureChain().forEach(x -> chain.add(x.bytes()));
        DstackClient c = client(t, simAppId, sim.key().scalar(), chain);
        DerivedKey k = c.getKey("/test/path", "test-purpose", goExpectedKms);
        ChainResult r = k.verifySignatureChain(goExpectedKms, HEX.parseHex(simAppId), "test-purpose");
        assertThat(r.appPublicKey()).isEqualTo(goExpectedApp);
        assertThat(r.kmsPublicKey()).isEqualTo(goExpectedKms);
        // the same chain under another app id (the compose hash prefix) does not verify
        assertRejected(() -> k.verifySignatureChain(goExpectedKms,
                HEX.parseHex("c143116fef3940e7f776bfc0919c256232ae5338"), "test-purpose"),
                RaException.Reason.CHAIN_KMS_LINK, HEX.formatHex(sim.key().scalar()));
    }

    @ParameterizedTest
    @ValueSource(strings = {"unix", "tcp"})
    void verifiesThroughTheClient(String t) throws Exception {
        DstackClient c = client(t, APP_ID, answer.key().scalar(), chain());
        DerivedKey k = c.getKey(PATH, PURPOSE, kmsRoot.publicKey());
        assertThat(k.key()).isEqualTo(answer.key().scalar());
        assertThat(agent.requests).hasSize(2);
        assertThat(agent.requests.get(0)).startsWith("POST /Info ");
        assertThat(agent.requests.get(1)).startsWith("POST /GetKey ")
                .endsWith("{\"path\":\"/test/path\",\"purpose\":\"test-purpose\",\"algorithm\":\"secp256k1\"}");
    }

    @Test
    void verifiesAndReturnsTheRecoveredKeys() throws Exception {
        DerivedKey k = new DerivedKey(answer.key().scalar(), chain());
        ChainResult r = k.verifySignatureChain(kmsRoot.publicKey(), HEX.parseHex(APP_ID), PURPOSE);
        assertThat(r.appPublicKey()).isEqualTo(appK256.publicKey());
        assertThat(r.kmsPublicKey()).isEqualTo(kmsRoot.publicKey());
        // the uncompressed KMS key is accepted as well (compared compressed, as the SDKs do)
        k.verifySignatureChain(kmsRoot.publicKeyUncompressed(), HEX.parseHex(APP_ID), PURPOSE);
    }

    static void assertRejected(ThrowingCall call, RaException.Reason reason, String secretHex) {
        assertThatThrownBy(call::run).isInstanceOfSatisfying(RaException.class, e -> {
            assertThat(e.raReason()).isEqualTo(reason);
            assertThat(e).isInstanceOf(AttestationException.class);
            assertThat(e.kind()).isEqualTo(AttestationException.Kind.REJECTED);
            assertThat(e.getMessage()).doesNotContainIgnoringCase(secretHex);
            assertThat(String.valueOf(e.getCause())).doesNotContainIgnoringCase(secretHex);
        });
    }

    interface ThrowingCall {
        void run() throws Exception;
    }

    @ParameterizedTest
    @ValueSource(strings = {"unix", "tcp"})
    void wrongKmsKey(String t) throws Exception {
        DstackClient c = client(t, APP_ID, answer.key().scalar(), chain());
        byte[] other = K256PrivateKey.fromScalar(HEX.parseHex("01".repeat(32))).publicKey();
        String secret = HEX.formatHex(answer.key().scalar());
        assertRejected(() -> c.getKey(PATH, PURPOSE, other), RaException.Reason.CHAIN_KMS_LINK, secret);
        assertThatThrownBy(() -> c.getKey(PATH, PURPOSE, other)).hasMessageContaining("signature_chain[1]")
                .hasMessageContaining("expected " + HEX.formatHex(other));
    }

    @Test
    void swappedChainOrder() throws Exception {
        List<byte[]> swapped = List.of(chain().get(1), chain().get(0));
        DstackClient c = client("tcp", APP_ID, answer.key().scalar(), swapped);
        // a recoverable signature over another message recovers to some other key: the KMS link catches it
        assertRejected(() -> c.getKey(PATH, PURPOSE, kmsRoot.publicKey()), RaException.Reason.CHAIN_KMS_LINK,
                HEX.formatHex(answer.key().scalar()));
    }

    @Test
    void chainOfOne() throws Exception {
        DstackClient c = client("tcp", APP_ID, answer.key().scalar(), List.of(chain().get(0)));
        assertRejected(() -> c.getKey(PATH, PURPOSE, kmsRoot.publicKey()), RaException.Reason.CHAIN_LENGTH,
                HEX.formatHex(answer.key().scalar()));
        assertThatThrownBy(() -> new DerivedKey(answer.key().scalar(), List.of())
                .verifySignatureChain(kmsRoot.publicKey(), HEX.parseHex(APP_ID), PURPOSE))
                .isInstanceOfSatisfying(RaException.class,
                        e -> assertThat(e.raReason()).isEqualTo(RaException.Reason.CHAIN_LENGTH));
        List<byte[]> three = new ArrayList<>(chain());
        three.add(chain().get(1));
        assertThatThrownBy(() -> new DerivedKey(answer.key().scalar(), three)
                .verifySignatureChain(kmsRoot.publicKey(), HEX.parseHex(APP_ID), PURPOSE))
                .isInstanceOfSatisfying(RaException.class,
                        e -> assertThat(e.raReason()).isEqualTo(RaException.Reason.CHAIN_LENGTH));
    }

    @Test
    void tamperedDerivedKey() throws Exception {
        byte[] key = answer.key().scalar();
        key[31] ^= 1;
        DstackClient c = client("tcp", APP_ID, key, chain());
        assertRejected(() -> c.getKey(PATH, PURPOSE, kmsRoot.publicKey()), RaException.Reason.CHAIN_KMS_LINK,
                HEX.formatHex(key));
    }

    @Test
    void otherAppId() throws Exception {
        String other = "00".repeat(20);
        DstackClient c = client("tcp", other, answer.key().scalar(), chain());
        assertRejected(() -> c.getKey(PATH, PURPOSE, kmsRoot.publicKey()), RaException.Reason.CHAIN_KMS_LINK,
                HEX.formatHex(answer.key().scalar()));
    }

    @Test
    void otherPurpose() throws Exception {
        DerivedKey k = new DerivedKey(answer.key().scalar(), chain());
        assertRejected(() -> k.verifySignatureChain(kmsRoot.publicKey(), HEX.parseHex(APP_ID), "other-purpose"),
                RaException.Reason.CHAIN_KMS_LINK, HEX.formatHex(answer.key().scalar()));
    }

    @Test
    void appLinkThatRecoversToNoKey() throws Exception {
        // r = n - 1 with recovery id 2: r + n is not below p, so no key can be recovered
        byte[] bad = HEX.parseHex("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140"
                + "0000000000000000000000000000000000000000000000000000000000000001" + "02");
        DerivedKey k = new DerivedKey(answer.key().scalar(), List.of(bad, chain().get(1)));
        assertRejected(() -> k.verifySignatureChain(kmsRoot.publicKey(), HEX.parseHex(APP_ID), PURPOSE),
                RaException.Reason.CHAIN_APP_LINK, HEX.formatHex(answer.key().scalar()));
    }

    @Test
    void malformedLinkAndAppId() throws Exception {
        DerivedKey k = new DerivedKey(answer.key().scalar(), List.of(new byte[64], chain().get(1)));
        assertRejected(() -> k.verifySignatureChain(kmsRoot.publicKey(), HEX.parseHex(APP_ID), PURPOSE),
                RaException.Reason.SIGNATURE_MALFORMED, HEX.formatHex(answer.key().scalar()));
        DstackClient c = client("tcp", "zz", answer.key().scalar(), chain());
        // Info's parser already rejects a non-hex app_id (a transport-level failure, not a verification one)
        assertThatThrownBy(() -> c.getKey(PATH, PURPOSE, kmsRoot.publicKey()))
                .isInstanceOfSatisfying(DstackGuestException.class, e -> {
                    assertThat(e.reason()).isEqualTo(DstackGuestException.Reason.MALFORMED_RESPONSE);
                    assertThat(e.getMessage()).contains("app_id");
                });
        assertThat(agent.requests).hasSize(1); // GetKey is not even asked for
    }

    @Test
    void keyNeverPrinted() {
        DerivedKey k = new DerivedKey(answer.key().scalar(), chain());
        assertThat(k.toString()).doesNotContain(HEX.formatHex(answer.key().scalar()))
                .doesNotContain(new String(answer.key().scalar(), StandardCharsets.ISO_8859_1));
    }
}
