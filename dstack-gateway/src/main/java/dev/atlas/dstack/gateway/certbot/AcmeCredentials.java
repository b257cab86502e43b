package dev.atlas.dstack.gateway.certbot;

import dev.atlas.dstack.ra.RaException;
import java.security.KeyPair;
import java.util.Objects;

/**
 * An ACME account: its URL and its P-256 key, in dstack's {@code credentials.json} format (upstream
 * {@code certbot/src/acme_client.rs} {@code Credentials} wrapping instant-acme 0.7's {@code AccountCredentials}):
 * {@code {"account_id": URL, "acme_url": DIRECTORY, "credentials": {"id": URL, "key_pkcs8": BASE64URL(PKCS#8 DER),
 * "directory": DIRECTORY}}}. The key never appears in {@link #toString()}.
 *
 * @param accountUri the account URL ({@code account_id})
 * @param acmeUrl    the ACME directory URL the account belongs to ({@code acme_url})
 * @param keyPair    the account key (P-256)
 */
public record AcmeCredentials(String accountUri, String acmeUrl, KeyPair keyPair) {
    /** Bound on a {@code credentials.json}. */
    public static final int MAX_JSON_BYTES = 64 * 1024;

    public AcmeCredentials {
        Objects.requireNonNull(accountUri, "accountUri");
        Objects.requireNonNull(acmeUrl, "acmeUrl");
        Objects.requireNonNull(keyPair, "keyPair");
    }

    /** The {@code credentials.json} text (contains the private key). */
    public String toJson() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Parses {@code credentials.json}; CERTBOT_STATE_INVALID naming the field. */
    public static AcmeCredentials parse(String json) throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }

    @Override
    public String toString() {
        return "AcmeCredentials[account=" + accountUri + ", acme_url=" + acmeUrl + ", key=<redacted>]";
    }
}
