package dev.atlas.dstack.ra;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.internal.Hashes;
import dev.atlas.testing.NodePeer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real-peer interop with dstack's JS SDK {@code @phala/dstack-sdk} (0.5.x): the SDK encrypts env vars, we
 * decrypt; we encrypt, the SDK's primitives decrypt (the SDK has no decrypt helper); we sign env-encrypt
 * public keys (legacy and v1), the SDK's verify helpers recover our KMS key; compose hashes agree.
 *
 * <p>node and the SDK are found by atlas-testing's {@link NodePeer} (the system property
 * {@code atlas.dstack.sdk.dir} or the environment variable {@code ATLAS_DSTACK_SDK_DIR}, a folder whose
 * {@code node_modules} holds the SDK; {@code .ci/run} installs it to
 * {@code $HOME/.cache/atlas-peers/dstack-sdk}), which skips with a message when node or the SDK is absent.
 * Each check runs one node process (bounded timeout) that reads a JSON request file and answers in JSON
 * lines; only the SDK's pure helpers are called, no network.
 */
class DstackSdkInteropTest {
    static final HexFormat HEX = HexFormat.of();
    static final ObjectMapper JSON = new ObjectMapper();
    static final SecureRandom RANDOM = new SecureRandom();
    static final long TIMEOUT_S = 60;
    static final byte[] APP_ID = KeyDerivationTest.APP_ID;

    static NodePeer peer;

    @TempDir
    Path tmp;

    /** Per test (not {@code @BeforeAll}) so that surefire reports each test as skipped, with the message. */
    @BeforeEach
    void locate() {
        peer = NodePeer.dstackSdk("the dstack JS SDK interop test");
    }

    /** Runs the peer script on {@code requests}; returns the answers by id, failing on a missing or error answer. */
    Map<String, JsonNode> sdk(ArrayNode requests) {
        Map<String, JsonNode> byId = peer.run(DstackSdkInteropTest.class, "dstack-sdk-peer.cjs", tmp, requests,
                Duration.ofSeconds(TIMEOUT_S));
        for (JsonNode r : requests) {
            NodePeer.ok(byId, r.get("id").asText());
        }
        return byId;
    }

    static ObjectNode req(ArrayNode into, String id, String op) {
        return into.addObject().put("id", id).put("op", op);
    }

    static P256PrivateKey root() throws RaException {
        return P256PrivateKey.fromPkcs8(KeyDerivationTest.ROOT_DER);
    }

    static K256PrivateKey kmsRoot() throws RaException {
        return K256PrivateKey.fromScalar(Hashes.sha256("interop kms root".getBytes(StandardCharsets.UTF_8)));
    }

    static final List<List<EnvCrypt.EnvVar>> ENVS = List.of(
            List.of(new EnvCrypt.EnvVar("A", "1"), new EnvCrypt.EnvVar("PASSWORD", "s3cr3t \"x\"")),
            List.of(new EnvCrypt.EnvVar("UNICODE", "h\u00e9llo \u2603 \uD83D\uDE00 \u2028 tab\t nl\n back\\slash"),
                    new EnvCrypt.EnvVar("EMPTY", ""), new EnvCrypt.EnvVar("CTRL", "\u0001\u001f</script>")),
            List.of(new EnvCrypt.EnvVar("BIG", "x".repeat(64 * 1024))),
            List.of());

    static ArrayNode envJson(List<EnvCrypt.EnvVar> env) {
        ArrayNode a = JSON.createArrayNode();
        for (EnvCrypt.EnvVar v : env) {
            a.addObject().put("key", v.key()).put("value", v.value());
        }
        return a;
    }

    @Test
    void sdkIsThePinned05Line() throws Exception {
        ArrayNode rq = JSON.createArrayNode();
        req(rq, "v", "version");
        JsonNode v = sdk(rq).get("v");
        System.out.println("DstackSdkInteropTest: @phala/dstack-sdk " + v.get("version").asText() + " on node "
                + v.get("node").asText());
        assertThat(v.get("version").asText()).startsWith("0.5.");
    }

    /** Check 1: the SDK's {@code encryptEnvVars} to our env public key; our EnvCrypt decrypts the same vars. */
    @Test
    void sdkEncryptsWeDecrypt() throws Exception {
        SecretBytes envKey = KeyDerivation.appEnvKey(root(), APP_ID);
        String pub = HEX.formatHex(EnvCrypt.publicKey(envKey));
        ArrayNode rq = JSON.createArrayNode();
        for (int i = 0; i < ENVS.size(); i++) {
            req(rq, "e" + i, "encrypt").put("publicKey", pub).set("env", envJson(ENVS.get(i)));
            req(rq, "x" + i, "encrypt").put("publicKey", "0x" + pub).set("env", envJson(ENVS.get(i)));
        }
        Map<String, JsonNode> got = sdk(rq);
        for (int i = 0; i < ENVS.size(); i++) {
            for (String id : List.of("e" + i, "x" + i)) {
                byte[] ct = HEX.parseHex(got.get(id).get("ciphertext").asText());
                String plain = got.get(id).get("plaintext").asText();
                assertThat(ct).as(id).hasSize(32 + 12 + plain.getBytes(StandardCharsets.UTF_8).length + 16);
                assertThat(EnvCrypt.decrypt(envKey, ct)).as(id).isEqualTo(ENVS.get(i));
                assertThat(new String(EnvCrypt.decryptBytes(envKey, ct), StandardCharsets.UTF_8)).as(id).isEqualTo(plain);
                // and it is bound to our key: another env key does not open it
                SecretBytes other = KeyDerivation.appEnvKey(root(), new byte[20]);
                org.assertj.core.api.Assertions.assertThatThrownBy(() -> EnvCrypt.decrypt(other, ct))
                        .isInstanceOf(RaException.class);
                // a one-byte change of the SDK's ciphertext fails closed
                byte[] bad = ct.clone();
                bad[bad.length - 1] ^= 1;
                org.assertj.core.api.Assertions.assertThatThrownBy(() -> EnvCrypt.decrypt(envKey, bad))
                        .isInstanceOf(RaException.class);
            }
        }
        // our plaintext JSON is the same document; byte for byte the same text as JSON.stringify({env}) except
        // for escapes: Jackson writes a non-BMP character as a \\uD83D\\uDE00 pair and control characters with
        // upper-case hex, JSON.stringify writes the character raw and lower-case hex (both valid JSON; the
        // guest's serde_json and the SDK's JSON.parse read either)
        for (int i = 0; i < ENVS.size(); i++) {
            String ours = new String(EnvCrypt.decryptBytes(envKey,
                    EnvCrypt.encrypt(ENVS.get(i), EnvCrypt.publicKey(envKey), RANDOM)), StandardCharsets.UTF_8);
            String theirs = got.get("e" + i).get("plaintext").asText();
            assertThat(JSON.readTree(ours)).as("plaintext JSON " + i).isEqualTo(JSON.readTree(theirs));
            if (i == 1) {
                assertThat(ours).contains("\\uD83D\\uDE00", "\\u001F");
                assertThat(theirs).contains("\uD83D\uDE00", "\\u001f");
            } else {
                assertThat(ours).as("plaintext JSON " + i).isEqualTo(theirs);
            }
        }
    }

    /**
     * Check 2: we encrypt, and the inverse of the SDK's encryptEnvVars built from its own primitives (noble
     * x25519 + WebCrypto AES-GCM) decrypts: the SDK itself has no decrypt helper.
     */
    @Test
    void weEncryptSdkPrimitivesDecrypt() throws Exception {
        SecretBytes envKey = KeyDerivation.appEnvKey(root(), APP_ID);
        byte[] pub = EnvCrypt.publicKey(envKey);
        ArrayNode rq = JSON.createArrayNode();
        for (int i = 0; i < ENVS.size(); i++) {
            req(rq, "d" + i, "decrypt").put("key", envKey.toHex())
                    .put("ciphertext", HEX.formatHex(EnvCrypt.encrypt(ENVS.get(i), pub, RANDOM)));
        }
        Map<String, JsonNode> got = sdk(rq);
        for (int i = 0; i < ENVS.size(); i++) {
            JsonNode parsed = JSON.readTree(got.get("d" + i).get("plaintext").asText());
            assertThat(parsed.size()).isEqualTo(1);
            List<EnvCrypt.EnvVar> env = new ArrayList<>();
            for (JsonNode v : parsed.get("env")) {
                env.add(new EnvCrypt.EnvVar(v.get("key").asText(), v.get("value").asText()));
            }
            assertThat(env).as("d" + i).isEqualTo(ENVS.get(i));
        }
    }

    /**
     * Check 3: we sign an env-encrypt public key with a known KMS root key (legacy and v1 with a timestamp);
     * the SDK's verify helpers return our KMS public key, and something else for any one-byte change.
     */
    @Test
    void weSignSdkVerifies() throws Exception {
        K256PrivateKey kms = kmsRoot();
        String kmsHex = "0x" + HEX.formatHex(kms.publicKey());
        byte[] pub = EnvCrypt.publicKey(KeyDerivation.appEnvKey(root(), APP_ID));
        long now = Instant.now().getEpochSecond();
        long ts = now - 5;
        byte[] legacy = KmsSignatures.signEnvPublicKey(kms, APP_ID, pub).bytes();
        byte[] v1 = KmsSignatures.signEnvPublicKeyV1(kms, APP_ID, ts, pub).bytes();
        String app = HEX.formatHex(APP_ID);

        ArrayNode rq = JSON.createArrayNode();
        req(rq, "legacy", "verifyLegacy").put("publicKey", HEX.formatHex(pub)).put("signature", HEX.formatHex(legacy))
                .put("appId", app);
        req(rq, "legacy0x", "verifyLegacy").put("publicKey", HEX.formatHex(pub)).put("signature", HEX.formatHex(legacy))
                .put("appId", "0x" + app);
        req(rq, "v1", "verify").put("publicKey", HEX.formatHex(pub)).put("signature", HEX.formatHex(v1))
                .put("appId", app).put("timestamp", ts);
        // v1 signature checked as legacy and vice versa: neither is our key
        req(rq, "v1AsLegacy", "verifyLegacy").put("publicKey", HEX.formatHex(pub)).put("signature", HEX.formatHex(v1))
                .put("appId", app);
        req(rq, "legacyAsV1", "verify").put("publicKey", HEX.formatHex(pub)).put("signature", HEX.formatHex(legacy))
                .put("appId", app).put("timestamp", ts);
        // one-byte changes: signature (r, s), public key, app id, timestamp
        List<String> tampered = new ArrayList<>();
        for (int idx : new int[] {0, 40}) {
            for (String kind : List.of("legacy", "v1")) {
                byte[] s = (kind.equals("legacy") ? legacy : v1).clone();
                s[idx] ^= 1;
                ObjectNode r = req(rq, kind + "-sig" + idx, kind.equals("legacy") ? "verifyLegacy" : "verify")
                        .put("publicKey", HEX.formatHex(pub)).put("signature", HEX.formatHex(s)).put("appId", app);
                if (kind.equals("v1")) {
                    r.put("timestamp", ts);
                }
                tampered.add(kind + "-sig" + idx);
            }
        }
        byte[] pub2 = pub.clone();
        pub2[31] ^= 1;
        byte[] app2 = APP_ID.clone();
        app2[0] ^= 1;
        req(rq, "legacy-pub", "verifyLegacy").put("publicKey", HEX.formatHex(pub2)).put("signature", HEX.formatHex(legacy))
                .put("appId", app);
        req(rq, "legacy-app", "verifyLegacy").put("publicKey", HEX.formatHex(pub)).put("signature", HEX.formatHex(legacy))
                .put("appId", HEX.formatHex(app2));
        req(rq, "v1-pub", "verify").put("publicKey", HEX.formatHex(pub2)).put("signature", HEX.formatHex(v1))
                .put("appId", app).put("timestamp", ts);
        req(rq, "v1-app", "verify").put("publicKey", HEX.formatHex(pub)).put("signature", HEX.formatHex(v1))
                .put("appId", HEX.formatHex(app2)).put("timestamp", ts);
        req(rq, "v1-ts", "verify").put("publicKey", HEX.formatHex(pub)).put("signature", HEX.formatHex(v1))
                .put("appId", app).put("timestamp", ts - 1);
        tampered.addAll(List.of("v1AsLegacy", "legacyAsV1", "legacy-pub", "legacy-app", "v1-pub", "v1-app", "v1-ts"));

        Map<String, JsonNode> got = sdk(rq);
        assertThat(got.get("legacy").get("signer").asText()).isEqualTo(kmsHex);
        assertThat(got.get("legacy0x").get("signer").asText()).isEqualTo(kmsHex);
        assertThat(got.get("v1").get("signer").asText()).isEqualTo(kmsHex);
        for (String id : tampered) {
            JsonNode s = got.get(id).get("signer");
            assertThat(s.isNull() ? null : s.asText()).as(id).isNotEqualTo(kmsHex);
        }
        // and ours agrees on the same inputs
        assertThat(KmsSignatures.verifyEnvPublicKey(pub, APP_ID, RecoverableSignature.of(legacy),
                RecoverableSignature.of(v1), ts, Instant.ofEpochSecond(now), kms.publicKey())).isEqualTo(kms.publicKey());
    }

    /**
     * Check 3b: the v1 freshness window (300 s of age, 60 s of future skew) — the SDK and we accept and reject
     * the same timestamps (chosen away from the bounds so the two clocks need not agree to the second).
     */
    @Test
    void freshnessWindowAgrees() throws Exception {
        K256PrivateKey kms = kmsRoot();
        String kmsHex = "0x" + HEX.formatHex(kms.publicKey());
        byte[] pub = EnvCrypt.publicKey(KeyDerivation.appEnvKey(root(), APP_ID));
        long now = Instant.now().getEpochSecond();
        Map<Long, Boolean> offsets = new LinkedHashMap<>();
        offsets.put(0L, true);
        offsets.put(-280L, true);   // 280 s old
        offsets.put(-330L, false);  // 330 s old
        offsets.put(-86400L, false);
        offsets.put(40L, true);     // 40 s in the future
        offsets.put(90L, false);    // 90 s in the future
        ArrayNode rq = JSON.createArrayNode();
        for (long off : offsets.keySet()) {
            long ts = now + off;
            req(rq, "o" + off, "verify").put("publicKey", HEX.formatHex(pub))
                    .put("signature", HEX.formatHex(KmsSignatures.signEnvPublicKeyV1(kms, APP_ID, ts, pub).bytes()))
                    .put("appId", HEX.formatHex(APP_ID)).put("timestamp", ts);
        }
        Map<String, JsonNode> got = sdk(rq);
        for (Map.Entry<Long, Boolean> e : offsets.entrySet()) {
            long ts = now + e.getKey();
            JsonNode s = got.get("o" + e.getKey()).get("signer");
            boolean sdkAccepts = !s.isNull();
            boolean weAccept;
            try {
                KmsSignatures.verifyEnvPublicKey(pub, APP_ID, null,
                        KmsSignatures.signEnvPublicKeyV1(kms, APP_ID, ts, pub), ts, Instant.now(), kms.publicKey());
                weAccept = true;
            } catch (RaException ex) {
                weAccept = false;
            }
            assertThat(sdkAccepts).as("SDK, offset " + e.getKey()).isEqualTo(e.getValue());
            assertThat(weAccept).as("ours, offset " + e.getKey()).isEqualTo(e.getValue());
            if (sdkAccepts) {
                assertThat(s.asText()).isEqualTo(kmsHex);
            }
        }
    }

    /**
     * Check 4: the SDK's {@code getComposeHash} against dstack's rule (SHA-256 of the {@code app-compose.json}
     * bytes as deployed), on dstack's simulator file. dstack-ra has no compose-hash helper of its own; the
     * SDK's hash is SHA-256 of its deterministic JSON (sorted keys, compact), recomputed here with Jackson.
     */
    @Test
    void composeHashAgreesWithTheSimulatorFixture() throws Exception {
        byte[] compose = Shared.bytes("simulator/app-compose.json");
        AppInfo info = VersionedAttestation.decode(Shared.bytes("simulator/attestation.bin")).appInfo(false);
        ArrayNode rq = JSON.createArrayNode();
        req(rq, "c", "composeHash").put("json", new String(compose, StandardCharsets.UTF_8));
        Map<String, JsonNode> got = sdk(rq);
        String sdkHash = got.get("c").get("hash").asText();
        // dstack measures SHA-256 of the file's bytes as deployed ...
        String fileHash = HEX.formatHex(Hashes.sha256(compose));
        // (the simulator's attestation.bin was captured from another compose: its compose_hash is neither)
        assertThat(HEX.formatHex(info.composeHash())).isNotEqualTo(fileHash).isNotEqualTo(sdkHash);
        // ... while the SDK hashes its own deterministic JSON (keys sorted, no whitespace) of the parsed
        // document; dstack's simulator file is not in that form, so the two differ for it ...
        ObjectMapper sorted = new ObjectMapper().configure(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true);
        byte[] canonical = sorted.writeValueAsBytes(sorted.readValue(compose, Object.class));
        assertThat(sdkHash).isEqualTo(HEX.formatHex(Hashes.sha256(canonical)));
        assertThat(sdkHash).as("the SDK's getComposeHash of a non-canonical file").isNotEqualTo(fileHash);
        // ... and agree once the file deployed is the SDK's form (what SDK-driven deployments upload)
        ArrayNode rq2 = JSON.createArrayNode();
        req(rq2, "c", "composeHash").put("json", new String(canonical, StandardCharsets.UTF_8));
        assertThat(sdk(rq2).get("c").get("hash").asText()).isEqualTo(HEX.formatHex(Hashes.sha256(canonical)));
    }

}
