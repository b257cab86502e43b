package dev.atlas.dstack.ra;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.internal.Hashes;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** §2.12: X25519 + AES-256-GCM env encryption; every tamper and truncation fails with its own reason. */
class EnvCryptTest {
    static final SecureRandom RANDOM = new SecureRandom();
    static final SecretBytes KEY = SecretBytes.of(Hashes.sha256("env".getBytes(StandardCharsets.UTF_8)));

    static void assertReason(org.assertj.core.api.ThrowableAssert.ThrowingCallable c, Reason r) {
        assertThatThrownBy(c).isInstanceOf(RaException.class)
                .satisfies(e -> assertThat(((RaException) e).raReason()).as(e.getMessage()).isEqualTo(r));
    }

    @Test
    void roundTripWithTheDerivedEnvKey() throws Exception {
        P256PrivateKey root = P256PrivateKey.fromPkcs8(KeyDerivationTest.ROOT_DER);
        SecretBytes envKey = KeyDerivation.appEnvKey(root, KeyDerivationTest.APP_ID);
        byte[] pub = EnvCrypt.publicKey(envKey);
        List<EnvCrypt.EnvVar> env = List.of(new EnvCrypt.EnvVar("A", "1"), new EnvCrypt.EnvVar("PASSWORD", "s3cr3t \"x\""));
        byte[] ct = EnvCrypt.encrypt(env, pub, RANDOM);
        assertThat(ct).hasSize(32 + 12 + 16 + new com.fasterxml.jackson.databind.ObjectMapper()
                .writeValueAsBytes(java.util.Map.of("env", List.of(java.util.Map.of("key", "A", "value", "1"),
                        java.util.Map.of("key", "PASSWORD", "value", "s3cr3t \"x\"")))).length);
        assertThat(EnvCrypt.decrypt(envKey, ct)).isEqualTo(env);
        // the raw plaintext is what the JS SDK writes: JSON.stringify({env})
        assertThat(new String(EnvCrypt.decryptBytes(envKey, ct), StandardCharsets.UTF_8))
                .isEqualTo("{\"env\":[{\"key\":\"A\",\"value\":\"1\"},{\"key\":\"PASSWORD\",\"value\":\"s3cr3t \\\"x\\\"\"}]}");
    }

    @Test
    void unclampedStoredKeyIsClampedOnUse() throws Exception {
        byte[] k = KEY.bytes();
        byte[] clamped = k.clone();
        clamped[0] &= (byte) 248;
        clamped[31] &= 127;
        clamped[31] |= 64;
        assertThat(EnvCrypt.publicKey(SecretBytes.of(clamped))).isEqualTo(EnvCrypt.publicKey(KEY));
    }

    @Test
    void everyTamperFailsTampered() throws Exception {
        byte[] pub = EnvCrypt.publicKey(KEY);
        byte[] ct = EnvCrypt.encryptBytes("{\"env\":[]}".getBytes(StandardCharsets.UTF_8), pub, RANDOM);
        for (int i = 0; i < ct.length; i++) {
            byte[] t = ct.clone();
            t[i] ^= 0x01;
            final int at = i;
            assertThatThrownBy(() -> EnvCrypt.decrypt(KEY, t)).as("byte " + at).isInstanceOf(RaException.class)
                    .satisfies(e -> assertThat(((RaException) e).raReason())
                            .isIn(Reason.ENV_TAMPERED, Reason.ENV_BAD_PUBLIC_KEY));
        }
        // IV, ciphertext and tag changes are always ENV_TAMPERED
        for (int i = 32; i < ct.length; i++) {
            byte[] t = ct.clone();
            t[i] ^= (byte) 0x80;
            assertReason(() -> EnvCrypt.decrypt(KEY, t), Reason.ENV_TAMPERED);
        }
        SecretBytes other = SecretBytes.of(Hashes.sha256(new byte[] {1}));
        assertReason(() -> EnvCrypt.decrypt(other, ct), Reason.ENV_TAMPERED);
    }

    @Test
    void truncationsFailTruncatedOrTampered() throws Exception {
        byte[] pub = EnvCrypt.publicKey(KEY);
        byte[] ct = EnvCrypt.encryptBytes("{\"env\":[]}".getBytes(StandardCharsets.UTF_8), pub, RANDOM);
        for (int n = 0; n < 60; n++) {
            byte[] cut = Arrays.copyOf(ct, n);
            assertReason(() -> EnvCrypt.decrypt(KEY, cut), Reason.ENV_TRUNCATED);
        }
        for (int n = 60; n < ct.length; n++) {
            byte[] cut = Arrays.copyOf(ct, n);
            assertReason(() -> EnvCrypt.decrypt(KEY, cut), Reason.ENV_TAMPERED);
        }
        assertReason(() -> EnvCrypt.decrypt(KEY, new byte[EnvCrypt.MAX_CIPHERTEXT + 1]), Reason.ENV_TOO_LARGE);
    }

    @Test
    void lowOrderEphemeralKeyIsRejected() throws Exception {
        byte[] ct = new byte[32 + 12 + 16]; // u = 0: the all-zero shared secret dh_decrypt refuses
        assertReason(() -> EnvCrypt.decrypt(KEY, ct), Reason.ENV_BAD_PUBLIC_KEY);
        assertReason(() -> EnvCrypt.encryptBytes(new byte[1], new byte[32], RANDOM), Reason.ENV_BAD_PUBLIC_KEY);
    }

    @Test
    void plaintextShapeIsChecked() throws Exception {
        byte[] pub = EnvCrypt.publicKey(KEY);
        for (String bad : new String[] {"not json SECRETVALUE", "[]", "{\"env\":{}}", "{\"env\":[{\"key\":1,\"value\":\"SECRETVALUE\"}]}"}) {
            byte[] ct = EnvCrypt.encryptBytes(bad.getBytes(StandardCharsets.UTF_8), pub, RANDOM);
            assertThatThrownBy(() -> EnvCrypt.decrypt(KEY, ct)).isInstanceOf(RaException.class)
                    .satisfies(e -> {
                        assertThat(((RaException) e).raReason()).isEqualTo(Reason.ENV_PLAINTEXT_INVALID);
                        assertThat(e.getMessage()).doesNotContain("SECRETVALUE");
                    });
        }
    }
}
