package dev.atlas.dstack.simulator.internal;

import dev.atlas.dstack.ra.P256PrivateKey;
import dev.atlas.dstack.ra.RaException;
import java.util.List;
import java.util.Objects;
import java.util.OptionalLong;

/**
 * {@code issue_cert} of {@code guest-agent/src/rpc_service.rs}: a certificate for {@code key} made from a
 * {@code CertSigningRequestV2} whose attestation binds the key, signed by a {@link dev.atlas.dstack.simulator.CertSigner}.
 */
public interface CertIssuer {
    /** {@code CertConfigV2} as the guest agent fills it ({@code org_name} is always none). */
    record Request(String subject, List<String> altNames, boolean serverAuth, boolean clientAuth, boolean extQuote,
            boolean extAppInfo, OptionalLong notBefore, OptionalLong notAfter) {
        public Request {
            Objects.requireNonNull(subject, "subject");
            altNames = List.copyOf(altNames);
            Objects.requireNonNull(notBefore, "notBefore");
            Objects.requireNonNull(notAfter, "notAfter");
        }
    }

    /** The chain as PEM strings, leaf first. */
    List<String> issue(P256PrivateKey key, Request request) throws RaException;
}
