package dev.atlas.dstack.gateway.certbot;

import dev.atlas.dstack.ra.RaException;
import java.net.URI;
import java.time.Duration;
import java.util.List;

/**
 * {@link DnsProvider} over the Cloudflare v4 API subset dstack's certbot uses ({@code GET /zones},
 * {@code GET|POST /zones/{id}/dns_records}, {@code DELETE /zones/{id}/dns_records/{rid}}), with a bearer token,
 * a per-request timeout and a bound on every response body. The token never appears in messages.
 */
public final class CloudflareDns implements DnsProvider {
    /** {@code https://api.cloudflare.com/client/v4}. */
    public static final URI DEFAULT_API_URL = URI.create("https://api.cloudflare.com/client/v4");
    /** Default bound on one response body. */
    public static final int DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

    private CloudflareDns() {
    }

    /** A client for {@code apiUrl} (null: {@link #DEFAULT_API_URL}). */
    public static CloudflareDns create(URI apiUrl, String apiToken, Duration timeout) {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Same, with another bound on response bodies. */
    public static CloudflareDns create(URI apiUrl, String apiToken, Duration timeout, int maxResponseBytes) {
        throw new UnsupportedOperationException("skeleton");
    }

    @Override
    public String zoneIdFor(String domain) throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }

    @Override
    public String addTxt(String zoneId, String name, String value, int ttl) throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }

    @Override
    public String addCaa(String zoneId, String name, int flags, String tag, String value) throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }

    @Override
    public List<DnsRecord> records(String zoneId, String name, String type) throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }

    @Override
    public void deleteRecord(String zoneId, String recordId) throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }
}
