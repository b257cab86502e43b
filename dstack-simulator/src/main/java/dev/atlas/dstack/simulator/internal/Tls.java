package dev.atlas.dstack.simulator.internal;

import dev.atlas.dstack.ra.P256PrivateKey;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.simulator.AppKeys;
import dev.atlas.dstack.simulator.CertSigner;
import java.time.Clock;

/** RA-TLS certificates of the simulated agent: the app CA of a seed, the local CA signer, the CSR issuer. */
public final class Tls {
    private Tls() {
    }

    /** A self-signed app CA ({@code CN=App Root Cert}, CA level 1) with an attestation bound to its key. */
    public static String selfSignedAppCa(P256PrivateKey caKey, Platform platform, Clock clock) throws RaException {
        return ""; // skeleton: needs RaTlsCertificate (issue16-ratls)
    }

    /** The local CA of {@code appkeys.json} ({@code None}, {@code Local}, {@code Tpm}); null for a KMS provider. */
    public static CertSigner localCa(AppKeys keys, Platform platform, Clock clock) throws RaException {
        return null; // skeleton: needs RaTlsCertificate (issue16-ratls)
    }

    /** {@code issue_cert}: CSR V2 with the key's certificate attestation, signed by {@code signer}. */
    public static CertIssuer issuer(Platform platform, CertSigner signer) {
        return null; // skeleton: needs CertSigningRequest (issue16-ratls)
    }
}
