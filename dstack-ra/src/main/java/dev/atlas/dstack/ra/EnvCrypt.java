package dev.atlas.dstack.ra;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.internal.Bytes;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.bouncycastle.math.ec.rfc7748.X25519;

/**
 * Encrypted env (§2.12; {@code docs/encrypted-env-spec.md}, {@code sdk/js/src/encrypt-env-vars.ts},
 * {@code dstack-util/src/crypto.rs} {@code dh_decrypt}): {@code ephemeral_x25519_pub(32) ‖ iv(12) ‖
 * AES-256-GCM(key = raw X25519 shared secret, no KDF, no AAD)}. Plaintext is
 * {@code {"env":[{"key":..,"value":..}]}}.
 */
public final class EnvCrypt {
    private EnvCrypt() {}

    /** Largest ciphertext accepted by {@link #decrypt}: 1 MiB (dstack sets none; env files are small). */
    public static final int MAX_CIPHERTEXT = 1 << 20;
    private static final int PUB = 32;
    private static final int IV = 12;
    private static final int TAG = 16;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One env variable; {@link #toString()} never shows the value. */
    public static final class EnvVar {
        private final String key;
        private final String value;

        public EnvVar(String key, String value) {
            this.key = Objects.requireNonNull(key, "key");
            this.value = Objects.requireNonNull(value, "value");
        }

        public String key() {
            return key;
        }

        public String value() {
            return value;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof EnvVar && key.equals(((EnvVar) o).key) && value.equals(((EnvVar) o).value);
        }

        @Override
        public int hashCode() {
            return key.hashCode();
        }

        @Override
        public String toString() {
            return "EnvVar[" + key + "=redacted]";
        }
    }

    /** The X25519 public key of an env key (clamping as X25519 does). */
    public static byte[] publicKey(SecretBytes envKey) throws RaException {
        if (envKey.length() != 32) {
            throw new RaException(Reason.INVALID_ARGUMENT, "env key", "must be 32 bytes");
        }
        byte[] k = envKey.bytes();
        byte[] pub = new byte[32];
        X25519.scalarMultBase(k, 0, pub, 0);
        Arrays.fill(k, (byte) 0);
        return pub;
    }

    /** Encrypts {@code {"env":[…]}} to {@code recipientPublicKey} with a fresh ephemeral key and IV. */
    public static byte[] encrypt(List<EnvVar> env, byte[] recipientPublicKey, SecureRandom random) throws RaException {
        ObjectNode root = JSON.createObjectNode();
        ArrayNode arr = root.putArray("env");
        for (EnvVar v : env) {
            arr.addObject().put("key", v.key()).put("value", v.value());
        }
        byte[] plain;
        try {
            plain = JSON.writeValueAsBytes(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        try {
            return encryptBytes(plain, recipientPublicKey, random);
        } finally {
            Arrays.fill(plain, (byte) 0);
        }
    }

    /** Encrypts raw plaintext bytes (the same scheme; for tests and tools). */
    public static byte[] encryptBytes(byte[] plaintext, byte[] recipientPublicKey, SecureRandom random)
            throws RaException {
        Bytes.requireLength(recipientPublicKey, 32, "recipient public key");
        byte[] eph = new byte[32];
        random.nextBytes(eph);
        byte[] ephPub = new byte[32];
        X25519.scalarMultBase(eph, 0, ephPub, 0);
        byte[] shared = new byte[32];
        boolean ok = X25519.calculateAgreement(eph, 0, recipientPublicKey, 0, shared, 0);
        Arrays.fill(eph, (byte) 0);
        if (!ok) {
            throw new RaException(Reason.ENV_BAD_PUBLIC_KEY, "recipient public key", "is a low-order point");
        }
        byte[] iv = new byte[IV];
        random.nextBytes(iv);
        try {
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(shared, "AES"), new GCMParameterSpec(TAG * 8, iv));
            return Bytes.concat(ephPub, iv, c.doFinal(plaintext));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM unavailable", e);
        } finally {
            Arrays.fill(shared, (byte) 0);
        }
    }

    /** Decrypts and returns the raw plaintext (the caller owns and should clear it). */
    public static byte[] decryptBytes(SecretBytes envKey, byte[] ciphertext) throws RaException {
        if (envKey.length() != 32) {
            throw new RaException(Reason.INVALID_ARGUMENT, "env key", "must be 32 bytes");
        }
        if (ciphertext.length > MAX_CIPHERTEXT) {
            throw new RaException(Reason.ENV_TOO_LARGE, "encrypted_env",
                    ciphertext.length + " bytes > " + MAX_CIPHERTEXT);
        }
        if (ciphertext.length < PUB + IV + TAG) {
            throw new RaException(Reason.ENV_TRUNCATED, "encrypted_env",
                    ciphertext.length + " bytes < public key, IV and tag (" + (PUB + IV + TAG) + ")");
        }
        byte[] k = envKey.bytes();
        byte[] shared = new byte[32];
        boolean ok = X25519.calculateAgreement(k, 0, ciphertext, 0, shared, 0);
        Arrays.fill(k, (byte) 0);
        if (!ok) {
            throw new RaException(Reason.ENV_BAD_PUBLIC_KEY, "encrypted_env.ephemeral_public_key",
                    "is a low-order point (all-zero shared secret)");
        }
        try {
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.DECRYPT_MODE, new SecretKeySpec(shared, "AES"),
                    new GCMParameterSpec(TAG * 8, ciphertext, PUB, IV));
            return c.doFinal(ciphertext, PUB + IV, ciphertext.length - PUB - IV);
        } catch (AEADBadTagException e) {
            throw new RaException(Reason.ENV_TAMPERED, "encrypted_env",
                    "AES-GCM tag does not verify (wrong key or changed bytes)");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM unavailable", e);
        } finally {
            Arrays.fill(shared, (byte) 0);
        }
    }

    /** Decrypts and parses {@code {"env":[{"key":..,"value":..}]}}. */
    public static List<EnvVar> decrypt(SecretBytes envKey, byte[] ciphertext) throws RaException {
        byte[] plain = decryptBytes(envKey, ciphertext);
        try {
            return parse(plain);
        } finally {
            Arrays.fill(plain, (byte) 0);
        }
    }

    static List<EnvVar> parse(byte[] plain) throws RaException {
        JsonNode root;
        try {
            root = JSON.readTree(new String(plain, StandardCharsets.UTF_8));
        } catch (JsonProcessingException e) {
            // Jackson's message may quote the plaintext: never pass it on.
            throw new RaException(Reason.ENV_PLAINTEXT_INVALID, "env", "decrypted env is not JSON");
        }
        if (root == null || !root.isObject() || !root.path("env").isArray()) {
            throw new RaException(Reason.ENV_PLAINTEXT_INVALID, "env", "decrypted env has no \"env\" array");
        }
        List<EnvVar> out = new ArrayList<>();
        int i = 0;
        for (JsonNode n : root.get("env")) {
            if (!n.isObject() || !n.path("key").isTextual() || !n.path("value").isTextual()) {
                throw new RaException(Reason.ENV_PLAINTEXT_INVALID, "env[" + i + "]",
                        "is not {\"key\": string, \"value\": string}");
            }
            out.add(new EnvVar(n.get("key").asText(), n.get("value").asText()));
            i++;
        }
        return List.copyOf(out);
    }
}
