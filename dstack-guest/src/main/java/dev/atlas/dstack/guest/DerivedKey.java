package dev.atlas.dstack.guest;

import dev.atlas.dstack.ra.KmsSignatures;
import dev.atlas.dstack.ra.KmsSignatures.ChainResult;
import dev.atlas.dstack.ra.RaException;
import java.util.List;
import java.util.Objects;

/**
 * {@code GetKey}: the 32-byte derived key and its signature chain ({@code [app k256 signature over
 * Keccak256(purpose ":" hex(pubkey)), KMS k256_signature]}, §5.2), raw as the agent sent them;
 * {@link #verifySignatureChain} checks the chain. {@link #toString} hides the key.
 */
public record DerivedKey(byte[] key, List<byte[]> signatureChain) {
    public DerivedKey {
        key = key.clone();
        signatureChain = signatureChain.stream().map(byte[]::clone).toList();
    }

    @Override public byte[] key() { return key.clone(); }
    @Override public List<byte[]> signatureChain() { return signatureChain.stream().map(byte[]::clone).toList(); }

    /**
     * Verifies the chain of a {@code secp256k1} key (dstack-ra {@link KmsSignatures#verifyGetKeyChain}):
     * {@code signature_chain[0]} must be the app k256 key's recoverable signature over
     * {@code Keccak256(purpose ":" hex(compressed public key of this key))}, and {@code signature_chain[1]}
     * the KMS root's {@code k256_signature} over {@code Keccak256("dstack-kms-issued" ":" appId ‖ app
     * public key)} recovering to {@code expectedKmsPublicKey} (33- or 65-byte SEC1). {@code appId} is the raw
     * 20-byte app id ({@code Info}'s {@code app_id}, hex-decoded, as dstack's Go SDK test does); {@code purpose}
     * is the one the key was requested with (the agent signs it, it does not echo it).
     *
     * <p>Only {@code secp256k1} keys: for {@code ed25519} the agent signs the Ed25519 public key instead, which
     * this check does not derive.
     *
     * @return the recovered app and KMS public keys (compressed)
     * @throws RaException kind {@code REJECTED} (coarse {@code SIGNATURE_INVALID}): {@code CHAIN_LENGTH} (not
     *     exactly 2 links), {@code CHAIN_APP_LINK} (link 0 recovers to no key), {@code CHAIN_KMS_LINK} (link 1
     *     recovers to no key or to another key than {@code expectedKmsPublicKey} — also what a tampered key,
     *     another purpose, another app id or a swapped chain give, since a recoverable signature over a
     *     changed message recovers to some other key), {@code SIGNATURE_MALFORMED} (a link that is not 65
     *     bytes or has r/s out of range); {@code KEY_OUT_OF_RANGE} (coarse {@code INVALID_ARGUMENT}) when the
     *     key is not a secp256k1 scalar, or {@code INVALID_ARGUMENT} for an expected key off the curve.
     *     Messages name public keys only, never the derived key
     */
    public ChainResult verifySignatureChain(byte[] expectedKmsPublicKey, byte[] appId, String purpose)
            throws RaException {
        Objects.requireNonNull(expectedKmsPublicKey, "expectedKmsPublicKey");
        Objects.requireNonNull(appId, "appId");
        Objects.requireNonNull(purpose, "purpose");
        return KmsSignatures.verifyGetKeyChain(key, purpose, signatureChain, appId, expectedKmsPublicKey);
    }

    @Override
    public String toString() {
        return "DerivedKey[key=(" + key.length + " bytes, hidden), signatureChain=" + signatureChain.size() + "]";
    }
}
