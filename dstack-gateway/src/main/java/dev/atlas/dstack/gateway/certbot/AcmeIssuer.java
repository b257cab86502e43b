package dev.atlas.dstack.gateway.certbot;

import dev.atlas.dstack.ra.RaException;
import java.net.URI;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.List;

/**
 * The ACME DNS-01 engine shared by the standalone certbot and the gateway (acme4j underneath): account
 * registration or reuse, orders with a fresh P-256 key per issuance, challenge TXT records through a
 * {@link DnsProvider} (removed afterwards), propagation checks through a {@link TxtLookup}, and CAA pinning in
 * the four steps of spec §3.9. Errors: {@link RaException} with ACME_FAILED, ACME_RATE_LIMITED, ACME_REJECTED,
 * DNS_API_FAILED, DNS_ZONE_NOT_FOUND or DNS_PROPAGATION_TIMEOUT.
 */
public final class AcmeIssuer {
    private AcmeIssuer() {
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The account's credentials (registered by {@link Builder#build()} when none were given). */
    public AcmeCredentials credentials() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** The account URL. */
    public String accountUri() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** True when {@link Builder#build()} registered a new account (no credentials were given). */
    public boolean accountCreated() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Orders and downloads a certificate for {@code domains} with a fresh P-256 key. */
    public IssuedCertificate issue(List<String> domains) throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }

    /**
     * Pins CAA for the base name of {@code domain} ({@code *.} stripped): 1. guards {@code 0 issue ";"} and
     * {@code 0 issuewild ";"}; 2. deletes the other issue/issuewild records; 3. adds
     * {@code letsencrypt.org;validationmethods=dns-01;accounturi=<account>} for issue and issuewild; 4. deletes
     * the guards. A failure names the step.
     */
    public void setCaa(String domain) throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Builder; {@code directoryUrl} and {@code dns} are required. */
    public static final class Builder {
        private Builder() {
        }

        public Builder directoryUrl(URI v) { throw new UnsupportedOperationException("skeleton"); }
        public Builder credentials(AcmeCredentials v) { throw new UnsupportedOperationException("skeleton"); }
        public Builder dns(DnsProvider v) { throw new UnsupportedOperationException("skeleton"); }
        public Builder txtLookup(TxtLookup v) { throw new UnsupportedOperationException("skeleton"); }
        public Builder dnsTxtTtl(int v) { throw new UnsupportedOperationException("skeleton"); }
        public Builder maxDnsWait(Duration v) { throw new UnsupportedOperationException("skeleton"); }
        public Builder timeout(Duration v) { throw new UnsupportedOperationException("skeleton"); }
        public Builder trustedRoots(List<X509Certificate> v) { throw new UnsupportedOperationException("skeleton"); }
        public Builder clock(Clock v) { throw new UnsupportedOperationException("skeleton"); }

        /** Logs in with the credentials, or registers a new account (ACME_* reasons). */
        public AcmeIssuer build() throws RaException {
            throw new UnsupportedOperationException("skeleton");
        }
    }
}
