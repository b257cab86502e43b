package dev.atlas.dstack.ra.kms;

import dev.atlas.tdx.AttestationException;
import java.io.IOException;

/**
 * The caller's own CVM attesting: the guest agent's {@code Attest(report_data)} (§5.2). {@link KmsClient} uses it
 * for the RA-TLS client certificate of {@code GetAppKey}/{@code GetKmsKey}, with
 * {@code report_data = SHA-512("ratls-cert:" ‖ SPKI)} of the fresh client key.
 *
 * <p>For example, over dstack-guest's client: {@code rd -> dstackClient.attest(rd).attestation()}.
 */
@FunctionalInterface
public interface Attester {
    /**
     * @param reportData64 exactly 64 bytes of report data
     * @return the full (unstripped) {@code VersionedAttestation} bytes; {@link KmsClient} strips them for the
     *     certificate
     */
    byte[] attest(byte[] reportData64) throws IOException, AttestationException;
}
