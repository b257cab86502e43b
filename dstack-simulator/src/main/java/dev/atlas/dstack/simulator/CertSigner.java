package dev.atlas.dstack.simulator;

import dev.atlas.dstack.ra.RaException;
import java.util.List;

/**
 * Signs a {@code GetTlsKey} certificate request, as the guest agent's {@code CertRequestClient} does
 * ({@code cert-client/src/lib.rs}): the local CA of {@code appkeys.json} (key provider {@code None},
 * {@code Local} or {@code Tpm}) or, in a later issue, the KMS's {@code SignCert}.
 *
 * <p>The arguments are exactly what {@code SignCert} carries: the SCALE-encoded {@code CertSigningRequestV2}
 * (§2.11) and the DER ECDSA P-256/SHA-256 signature over it made with the request's key.
 */
@FunctionalInterface
public interface CertSigner {
    /**
     * Signs the request and returns the certificate chain as PEM strings, leaf first ({@code [leaf, app CA]}
     * for a local CA, {@code [leaf, app CA, KMS root]} for a KMS).
     *
     * @throws RaException when the request does not decode, its signature does not verify, or signing fails
     */
    List<String> signCsr(byte[] csr, byte[] signature) throws RaException;
}
