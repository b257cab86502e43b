package dev.atlas.dstack.ra;

import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.internal.Hashes;
import java.nio.charset.StandardCharsets;

/**
 * The KMS key hierarchy (§2.4; {@code ra-tls/src/kdf.rs}, {@code kms/src/crypto.rs},
 * {@code kms/src/main_service.rs}, {@code dstack-util/src/main.rs}). Every context list is concatenated, as
 * ring's HKDF does with a list of info slices.
 */
public final class KeyDerivation {
    private KeyDerivation() {}

    static final byte[] APP_DISK_CRYPT_KEY = ascii("app-disk-crypt-key");
    static final byte[] ENV_ENCRYPT_KEY = ascii("env-encrypt-key");
    static final byte[] APP_KEY = ascii("app-key");
    static final byte[] APP_CA = ascii("app-ca");
    static final byte[] APP_DISK_KEY = ascii("app-disk-key");
    static final byte[] APP_K256_KEY = ascii("app-k256-key");

    static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    /** {@code HKDF-SHA256(salt = "RATLS", ikm, info = ctx₁ ‖ ctx₂ ‖ …)}, {@code length} bytes (1..8160). */
    public static byte[] hkdf(byte[] ikm, int length, byte[]... context) throws RaException {
        if (length < 1 || length > 255 * 32) {
            throw new RaException(Reason.INVALID_ARGUMENT, "length", "HKDF-SHA256 output must be 1..8160 bytes");
        }
        return Hashes.hkdfRatls(ikm, length, context);
    }

    /** {@code derive_p256_key_pair}: the parent's scalar through {@link #hkdf}, used as a P-256 scalar. */
    public static P256PrivateKey deriveP256(P256PrivateKey parent, byte[]... context) throws RaException {
        return deriveP256FromBytes(parent.scalar(), context);
    }

    /** {@code derive_p256_key_pair_from_bytes}: fails (no retry) if the output is not in {@code [1, n-1]}. */
    public static P256PrivateKey deriveP256FromBytes(byte[] ikm, byte[]... context) throws RaException {
        byte[] d = hkdf(ikm, 32, context);
        try {
            return P256PrivateKey.fromScalar(d);
        } catch (RaException e) {
            throw new RaException(Reason.KEY_OUT_OF_RANGE, "derived P-256 scalar is not in [1, n-1]");
        } finally {
            java.util.Arrays.fill(d, (byte) 0);
        }
    }

    /** {@code derive_dh_secret}: {@code SHA-256(PKCS#8 DER of deriveP256(parent, context))}. */
    public static SecretBytes deriveDhSecret(P256PrivateKey parent, byte[]... context) throws RaException {
        return deriveP256(parent, context).dhSecret();
    }

    /** The app disk key: {@code deriveDhSecret(root, app_id ‖ instance_id ‖ "app-disk-crypt-key")}. */
    public static SecretBytes appDiskKey(P256PrivateKey rootCa, byte[] appId, byte[] instanceId) throws RaException {
        return deriveDhSecret(rootCa, appId, instanceId, APP_DISK_CRYPT_KEY);
    }

    /**
     * The env key: {@code deriveDhSecret(root, app_id ‖ "env-encrypt-key")}, an X25519 private key as stored
     * (unclamped; X25519 clamps it on use). Its public key is {@link EnvCrypt#publicKey(SecretBytes)}.
     */
    public static SecretBytes appEnvKey(P256PrivateKey rootCa, byte[] appId) throws RaException {
        return deriveDhSecret(rootCa, appId, ENV_ENCRYPT_KEY);
    }

    /** The per-app CA key: {@code deriveP256(root, app_id ‖ "app-ca")}. */
    public static P256PrivateKey appCaKey(P256PrivateKey rootCa, byte[] appId) throws RaException {
        return deriveP256(rootCa, appId, APP_CA);
    }

    /** The app k256 key: {@code HKDF(root k256 scalar, app_id ‖ "app-key", 32)} as a secp256k1 scalar. */
    public static K256PrivateKey appK256Key(K256PrivateKey rootK256, byte[] appId) throws RaException {
        return k256FromHkdf(rootK256.scalar(), appId, APP_KEY);
    }

    /** The {@code GetKey} key of {@code path}: {@code HKDF(app k256 scalar, path, 32)} (secp256k1). */
    public static K256PrivateKey getKey(K256PrivateKey appK256, String path) throws RaException {
        return k256FromHkdf(appK256.scalar(), path.getBytes(StandardCharsets.UTF_8));
    }

    private static K256PrivateKey k256FromHkdf(byte[] ikm, byte[]... context) throws RaException {
        byte[] d = hkdf(ikm, 32, context);
        try {
            return K256PrivateKey.fromScalar(d);
        } catch (RaException e) {
            throw new RaException(Reason.KEY_OUT_OF_RANGE, "derived secp256k1 scalar is not in [1, n-1]");
        } finally {
            java.util.Arrays.fill(d, (byte) 0);
        }
    }

    /** Keys of an app without a KMS, from its 32-byte seed ({@code gen_app_keys_from_seed}). */
    public static SeedKeys fromSeed(byte[] seed) throws RaException {
        P256PrivateKey ca = deriveP256FromBytes(seed, APP_KEY);
        SecretBytes disk = deriveP256FromBytes(seed, APP_DISK_KEY).dhSecret();
        K256PrivateKey k256 = k256FromHkdf(seed, APP_K256_KEY);
        return new SeedKeys(ca, disk, k256);
    }

    /** The keys {@link #fromSeed(byte[])} derives; {@code toString} shows no secret. */
    public static final class SeedKeys {
        private final P256PrivateKey caKey;
        private final SecretBytes diskKey;
        private final K256PrivateKey k256Key;

        SeedKeys(P256PrivateKey caKey, SecretBytes diskKey, K256PrivateKey k256Key) {
            this.caKey = caKey;
            this.diskKey = diskKey;
            this.k256Key = k256Key;
        }

        /** {@code deriveP256FromBytes(seed, "app-key")}: the app's local CA key. */
        public P256PrivateKey caKey() {
            return caKey;
        }

        /** {@code SHA-256(PKCS#8 of deriveP256FromBytes(seed, "app-disk-key"))}. */
        public SecretBytes diskKey() {
            return diskKey;
        }

        /** {@code HKDF(seed, "app-k256-key", 32)}. */
        public K256PrivateKey k256Key() {
            return k256Key;
        }

        @Override
        public String toString() {
            return "SeedKeys[ca=" + caKey + ", disk=" + diskKey + ", k256=" + k256Key + "]";
        }
    }

}
