package dev.atlas.dstack.testing;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.List;

/**
 * A stand-in for the Cloudflare v4 API subset dstack's certbot uses, on a loopback port, plus a small UDP DNS
 * server publishing its TXT records (for pebble's {@code -dnsserver} and {@code TxtLookup.server}). Zones are
 * added by the test; records and the request log are inspectable; failures can be injected.
 */
public final class CloudflareStandIn implements AutoCloseable {
    /** A record as the stand-in stores it. */
    public record Record(String id, String zoneId, String name, String type, String content, int ttl,
            Integer flags, String tag, String value) {
    }

    /** What the next API call does instead of answering normally. */
    public enum Failure { SERVER_ERROR, TIMEOUT, MALFORMED, HUGE, API_ERROR }

    private CloudflareStandIn() {
    }

    /** Starts the API and the DNS server on loopback, port 0; {@code token} is the expected bearer token. */
    public static CloudflareStandIn start(String token) throws IOException {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Adds a zone; returns its id. */
    public String addZone(String name) {
        throw new UnsupportedOperationException("skeleton");
    }

    /** The API base URL ({@code http://127.0.0.1:<port>/client/v4}). */
    public URI apiUrl() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** The UDP DNS server serving the TXT records. */
    public InetSocketAddress dnsAddress() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** The records of a zone (by zone name). */
    public List<Record> records(String zoneName) {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Adds a record directly (test setup, e.g. an existing foreign CAA record). */
    public String putRecord(String zoneName, String name, String type, String content) {
        throw new UnsupportedOperationException("skeleton");
    }

    /** The API requests served so far, as {@code METHOD path [type name content]} lines. */
    public List<String> requestLog() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Clears the request log. */
    public void clearLog() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** The next {@code count} API calls matching {@code methodAndPathPrefix} (e.g. {@code "POST"}, null = any) fail. */
    public void failNext(Failure failure, String methodAndPathPrefix, int count) {
        throw new UnsupportedOperationException("skeleton");
    }

    @Override
    public void close() {
        throw new UnsupportedOperationException("skeleton");
    }
}
