package dev.atlas.dstack.kms.internal;

import dev.atlas.dstack.ra.RaException;

/**
 * §2.8 step 5: the OS image the caller claims ({@code os_image_hash} of its {@code vm_config}) must match its
 * quote (MRTD, RTMR0-2). Runs after the webhook and before the key-release gate, for every non-SNP caller.
 * Implemented by {@code LiteOsImageCheck} (issue17-e2e), an adapter over atlas-measure's {@code LiteCheck}
 * (issue22-kms).
 */
@FunctionalInterface
public interface OsImageCheck {
    /** @throws RaException {@code OS_IMAGE_MISMATCH} (the message names the register and both values) */
    void verify(VerifiedAttestation caller) throws RaException;

    /** {@code image.verify = false}: no check (the webhook's OS-image allowlist then trusts the caller, Q13). */
    OsImageCheck DISABLED = caller -> { };
}
