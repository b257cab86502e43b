package dev.atlas.dstack.ra;

import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.internal.Bytes;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * The KMS's recoverable signatures (§2.5; {@code kms/src/crypto.rs}, {@code vmm-cli.py},
 * {@code sdk/go/dstack/verify_signature.go}, {@code guest-agent/src/rpc_service.rs} {@code get_key}). Every
 * signed message is {@code Keccak256(prefix ‖ ":" ‖ app_id ‖ [u64_be(timestamp)] ‖ content)}.
 */
public final class KmsSignatures {
    private KmsSignatures() {}

    static final byte[] KMS_ISSUED = KeyDerivation.ascii("dstack-kms-issued");
    static final byte[] ENV_PUBKEY = KeyDerivation.ascii("dstack-env-encrypt-pubkey");
    private static final byte[] COLON = {':'};

    /** The SDKs' default maximum age of a {@code signature_v1} timestamp. */
    public static final Duration DEFAULT_MAX_AGE = Duration.ofSeconds(300);
    /** The SDKs' default maximum future skew of a {@code signature_v1} timestamp. */
    public static final Duration DEFAULT_FUTURE_SKEW = Duration.ofSeconds(60);

    static byte[] message(byte[] prefix, byte[] appId, byte[] content) {
        return Bytes.concat(prefix, COLON, appId, content);
    }

    static byte[] messageWithTimestamp(byte[] prefix, byte[] appId, long timestamp, byte[] content) {
        return Bytes.concat(prefix, COLON, appId, Bytes.u64be(timestamp), content);
    }

    // ---- k256_signature --------------------------------------------------------------------------------

    /** The KMS root's signature over the app k256 key: {@code "dstack-kms-issued" ‖ ":" ‖ app_id ‖ pub33}. */
    public static RecoverableSignature k256Signature(K256PrivateKey kmsRoot, byte[] appId, byte[] appK256PublicKey)
            throws RaException {
        return kmsRoot.signMessage(message(KMS_ISSUED, appId, Secp256k1.compress(appK256PublicKey)));
    }

    /** The compressed key that made {@code signature} over the app k256 key. */
    public static byte[] recoverK256Signer(RecoverableSignature signature, byte[] appId, byte[] appK256PublicKey)
            throws RaException {
        return Secp256k1.recoverMessage(message(KMS_ISSUED, appId, Secp256k1.compress(appK256PublicKey)), signature);
    }

    // ---- env-encrypt public key ---------------------------------------------------------------------------

    /** Legacy {@code signature}: {@code "dstack-env-encrypt-pubkey" ‖ ":" ‖ app_id ‖ x25519_pub}. */
    public static RecoverableSignature signEnvPublicKey(K256PrivateKey kmsRoot, byte[] appId, byte[] x25519Public)
            throws RaException {
        Bytes.requireLength(x25519Public, 32, "public_key");
        return kmsRoot.signMessage(message(ENV_PUBKEY, appId, x25519Public));
    }

    /** {@code signature_v1}: as the legacy one with {@code u64_be(timestamp)} before the key. */
    public static RecoverableSignature signEnvPublicKeyV1(K256PrivateKey kmsRoot, byte[] appId, long timestamp,
            byte[] x25519Public) throws RaException {
        Bytes.requireLength(x25519Public, 32, "public_key");
        return kmsRoot.signMessage(messageWithTimestamp(ENV_PUBKEY, appId, timestamp, x25519Public));
    }

    /** The compressed signer of a legacy env public key signature. */
    public static byte[] recoverEnvPublicKeySigner(byte[] x25519Public, RecoverableSignature signature, byte[] appId)
            throws RaException {
        Bytes.requireLength(x25519Public, 32, "public_key");
        return Secp256k1.recoverMessage(message(ENV_PUBKEY, appId, x25519Public), signature);
    }

    /**
     * The compressed signer of a {@code signature_v1}, after the SDKs' freshness check: the timestamp may be
     * at most {@code maxAge} before {@code now} and at most {@code futureSkew} after it (bounds inclusive, as
     * in the Go SDK).
     */
    public static byte[] recoverEnvPublicKeySignerV1(byte[] x25519Public, RecoverableSignature signature,
            byte[] appId, long timestamp, Instant now, Duration maxAge, Duration futureSkew) throws RaException {
        Bytes.requireLength(x25519Public, 32, "public_key");
        checkFreshness(timestamp, now, maxAge, futureSkew);
        return Secp256k1.recoverMessage(messageWithTimestamp(ENV_PUBKEY, appId, timestamp, x25519Public), signature);
    }

    static void checkFreshness(long timestamp, Instant now, Duration maxAge, Duration futureSkew) throws RaException {
        long nowS = now.getEpochSecond();
        if (timestamp < 0) {
            throw new RaException(Reason.INVALID_ARGUMENT, "timestamp", "is negative (u64 above 2^63)");
        }
        if (timestamp > nowS) {
            if (timestamp - nowS > futureSkew.getSeconds()) {
                throw new RaException(Reason.TIMESTAMP_IN_FUTURE, "timestamp",
                        (timestamp - nowS) + " s in the future > " + futureSkew.getSeconds() + " s");
            }
        } else if (nowS - timestamp > maxAge.getSeconds()) {
            throw new RaException(Reason.TIMESTAMP_TOO_OLD, "timestamp",
                    (nowS - timestamp) + " s old > " + maxAge.getSeconds() + " s");
        }
    }

    /**
     * Verifies a {@code GetAppEnvEncryptPubKey} answer against the KMS root key the caller trusts: prefers
     * {@code signature_v1} when {@code signatureV1} is given (with the default age and skew), else the legacy
     * signature. Returns the recovered signer (equal to {@code expectedKms} in compressed form).
     */
    public static byte[] verifyEnvPublicKey(byte[] x25519Public, byte[] appId, RecoverableSignature legacy,
            RecoverableSignature signatureV1, Long timestamp, Instant now, byte[] expectedKms) throws RaException {
        byte[] signer;
        if (signatureV1 != null && timestamp != null) {
            signer = recoverEnvPublicKeySignerV1(x25519Public, signatureV1, appId, timestamp, now, DEFAULT_MAX_AGE,
                    DEFAULT_FUTURE_SKEW);
        } else if (legacy != null) {
            signer = recoverEnvPublicKeySigner(x25519Public, legacy, appId);
        } else {
            throw new RaException(Reason.SIGNATURE_MALFORMED, "signature", "neither signature_v1 nor signature given");
        }
        requireSigner(signer, expectedKms, Reason.SIGNER_MISMATCH, "signature");
        return signer;
    }

    private static void requireSigner(byte[] got, byte[] expected, Reason reason, String field) throws RaException {
        byte[] exp = Secp256k1.compress(expected);
        if (!MessageDigest.isEqual(got, exp)) {
            throw new RaException(reason, field,
                    "recovers to " + Bytes.HEX.formatHex(got) + ", expected " + Bytes.HEX.formatHex(exp));
        }
    }

    // ---- GetKey -----------------------------------------------------------------------------------------

    /** The app link of {@code GetKey}: the app k256 key signs {@code purpose ‖ ":" ‖ hex(pub33 of key)}. */
    public static byte[] getKeyMessage(String purpose, byte[] keyPublic) throws RaException {
        return (purpose + ":" + Bytes.HEX.formatHex(Secp256k1.compress(keyPublic))).getBytes(StandardCharsets.UTF_8);
    }

    /**
     * What the guest agent answers to {@code GetKey{path, purpose}} (secp256k1): the derived key and the
     * chain {@code [app signature, k256_signature]}.
     */
    public static GetKeyResult getKey(K256PrivateKey appK256, RecoverableSignature k256Signature, String path,
            String purpose) throws RaException {
        K256PrivateKey key = KeyDerivation.getKey(appK256, path);
        RecoverableSignature app = appK256.signMessage(getKeyMessage(purpose, key.publicKey()));
        return new GetKeyResult(key, List.of(app, k256Signature));
    }

    /**
     * Verifies a {@code GetKey} signature chain {@code [app, kms]}: the app link must sign the key with
     * {@code purpose}, the KMS link must be the {@code k256_signature} over the recovered app key and
     * recover to {@code expectedKms} (compressed or uncompressed). Returns the recovered app key.
     */
    public static ChainResult verifyGetKeyChain(byte[] keyScalar, String purpose, List<byte[]> chain, byte[] appId,
            byte[] expectedKms) throws RaException {
        requireTwoLinks(chain);
        K256PrivateKey key = K256PrivateKey.fromScalar(keyScalar);
        ChainResult r = recoverGetKeyChain(Secp256k1.compress(key.publicKey()), purpose, chain, appId);
        requireSigner(r.kmsPublicKey, expectedKms, Reason.CHAIN_KMS_LINK, "signature_chain[1]");
        return r;
    }

    /**
     * The app and KMS keys a {@code GetKey} signature chain {@code [app, kms]} recovers to, without deciding
     * whether that KMS key is trusted (the caller compares it, or shows it). {@code keyPublicKey} is the derived
     * key's public key as the agent hex-encodes it into the app link's message (guest-agent {@code rpc_service.rs
     * get_key}): the 33-byte compressed secp256k1 key, or the 32-byte Ed25519 key.
     */
    public static ChainResult recoverGetKeyChain(byte[] keyPublicKey, String purpose, List<byte[]> chain,
            byte[] appId) throws RaException {
        requireTwoLinks(chain);
        RecoverableSignature appSig = RecoverableSignature.of(chain.get(0));
        RecoverableSignature kmsSig = RecoverableSignature.of(chain.get(1));
        byte[] message = (purpose + ":" + Bytes.HEX.formatHex(keyPublicKey)).getBytes(StandardCharsets.UTF_8);
        byte[] appPub;
        try {
            appPub = Secp256k1.recoverMessage(message, appSig);
        } catch (RaException e) {
            throw new RaException(Reason.CHAIN_APP_LINK, "signature_chain[0]", e.detail(), e);
        }
        byte[] kmsPub;
        try {
            kmsPub = recoverK256Signer(kmsSig, appId, appPub);
        } catch (RaException e) {
            throw new RaException(Reason.CHAIN_KMS_LINK, "signature_chain[1]", e.detail(), e);
        }
        return new ChainResult(appPub, kmsPub);
    }

    private static void requireTwoLinks(List<byte[]> chain) throws RaException {
        if (chain == null || chain.size() != 2) {
            throw new RaException(Reason.CHAIN_LENGTH, "signature_chain",
                    "must have 2 links, got " + (chain == null ? "none" : chain.size()));
        }
    }

    /**
     * The KMS link of {@code result} must recover to {@code expectedKms} (compressed or uncompressed), as
     * {@link #verifyGetKeyChain} requires; for chains recovered with {@link #recoverGetKeyChain}.
     */
    public static void requireKms(ChainResult result, byte[] expectedKms) throws RaException {
        requireSigner(result.kmsPublicKey, expectedKms, Reason.CHAIN_KMS_LINK, "signature_chain[1]");
    }

    /** A {@code GetKey} answer. */
    public static final class GetKeyResult {
        private final K256PrivateKey key;
        private final List<RecoverableSignature> chain;

        GetKeyResult(K256PrivateKey key, List<RecoverableSignature> chain) {
            this.key = key;
            this.chain = List.copyOf(chain);
        }

        public K256PrivateKey key() {
            return key;
        }

        public List<RecoverableSignature> signatureChain() {
            return chain;
        }

        @Override
        public String toString() {
            return "GetKeyResult[key=" + key + ", chain=" + chain + "]";
        }
    }

    /** The keys a verified chain recovers to (compressed SEC1). */
    public static final class ChainResult {
        private final byte[] appPublicKey;
        private final byte[] kmsPublicKey;

        ChainResult(byte[] appPublicKey, byte[] kmsPublicKey) {
            this.appPublicKey = appPublicKey;
            this.kmsPublicKey = kmsPublicKey;
        }

        public byte[] appPublicKey() {
            return appPublicKey.clone();
        }

        public byte[] kmsPublicKey() {
            return kmsPublicKey.clone();
        }

        @Override
        public String toString() {
            return "ChainResult[app=" + Bytes.HEX.formatHex(appPublicKey) + ", kms=" + Bytes.HEX.formatHex(kmsPublicKey) + "]";
        }
    }
}
