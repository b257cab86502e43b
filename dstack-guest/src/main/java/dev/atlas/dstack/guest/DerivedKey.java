package dev.atlas.dstack.guest;

import java.util.List;

/**
 * {@code GetKey}: the 32-byte derived key and its signature chain ({@code [app k256 signature over
 * Keccak256(purpose ":" hex(pubkey)), KMS k256_signature]}, §5.2), raw.
 *
 * <p>TODO(dstack-ra merge): verify the chain against an expected KMS public key (recover with Keccak-256 /
 * secp256k1 from dstack-ra); until then callers get the raw chain only. {@link #toString} hides the key.
 */
public record DerivedKey(byte[] key, List<byte[]> signatureChain) {
    public DerivedKey {
        key = key.clone();
        signatureChain = signatureChain.stream().map(byte[]::clone).toList();
    }

    @Override public byte[] key() { return key.clone(); }
    @Override public List<byte[]> signatureChain() { return signatureChain.stream().map(byte[]::clone).toList(); }

    @Override
    public String toString() {
        return "DerivedKey[key=(" + key.length + " bytes, hidden), signatureChain=" + signatureChain.size() + "]";
    }
}
