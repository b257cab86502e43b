package dev.atlas.dstack.kms.internal;

import dev.atlas.dstack.ra.K256PrivateKey;
import dev.atlas.dstack.ra.P256PrivateKey;

import java.util.Objects;

/** The KMS's root keys (§2.1, §2.4). {@code toString} shows public keys only. */
public record RootKeys(P256PrivateKey rootCaKey, K256PrivateKey rootK256Key, P256PrivateKey tempCaKey) {
    public RootKeys {
        Objects.requireNonNull(rootCaKey, "rootCaKey");
        Objects.requireNonNull(rootK256Key, "rootK256Key");
        Objects.requireNonNull(tempCaKey, "tempCaKey");
    }

    @Override
    public String toString() {
        return "RootKeys[rootCaKey=" + rootCaKey + ", rootK256Key=" + rootK256Key + ", tempCaKey=" + tempCaKey + "]";
    }
}
