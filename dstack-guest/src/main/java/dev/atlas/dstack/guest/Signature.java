package dev.atlas.dstack.guest;

import java.util.HexFormat;
import java.util.List;

/** {@code Sign}: {@code {signature, signature_chain: [sig, chain0, chain1], public_key}} (§5.2). */
public record Signature(byte[] signature, List<byte[]> signatureChain, byte[] publicKey) {
    public Signature {
        signature = signature.clone();
        signatureChain = signatureChain.stream().map(byte[]::clone).toList();
        publicKey = publicKey.clone();
    }

    @Override public byte[] signature() { return signature.clone(); }
    @Override public List<byte[]> signatureChain() { return signatureChain.stream().map(byte[]::clone).toList(); }
    @Override public byte[] publicKey() { return publicKey.clone(); }

    @Override
    public String toString() {
        HexFormat h = HexFormat.of();
        return "Signature[signature=" + h.formatHex(signature) + ", signatureChain=" + signatureChain.size()
                + ", publicKey=" + h.formatHex(publicKey) + "]";
    }
}
