package dev.atlas.dstack.gateway.certbot;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.gateway.certbot.internal.BoundedHttp;
import dev.atlas.dstack.gateway.certbot.internal.CloudflareJson;
import dev.atlas.dstack.gateway.certbot.internal.Domains;
import dev.atlas.dstack.gateway.certbot.internal.StrictJson;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.io.IOException;
import java.lang.System.Logger;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;

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

    private static final Logger LOG = System.getLogger(CloudflareDns.class.getName());
    private static final int ZONES_PER_PAGE = 50;
    private static final int RECORDS_PER_PAGE = 100;
    /** Pages of records read at most (as upstream: a safety limit). */
    private static final int MAX_RECORD_PAGES = 20;

    private final String apiUrl;
    private final String apiToken;
    private final Duration timeout;
    private final int maxResponseBytes;
    private final HttpClient http;

    private CloudflareDns(URI apiUrl, String apiToken, Duration timeout, int maxResponseBytes) {
        Objects.requireNonNull(apiToken, "apiToken");
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout must be positive");
        }
        if (maxResponseBytes < 1024) {
            throw new IllegalArgumentException("maxResponseBytes must be at least 1024");
        }
        URI u = apiUrl == null ? DEFAULT_API_URL : apiUrl;
        String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
        if (u.getHost() == null || !(scheme.equals("https") || scheme.equals("http") && Domains.isLoopbackHost(
                u.getHost()))) {
            throw new IllegalArgumentException("apiUrl must be https (http only to a loopback host): " + u);
        }
        String s = u.toString();
        while (s.endsWith("/")) {
            s = s.substring(0, s.length() - 1);
        }
        this.apiUrl = s;
        this.apiToken = apiToken;
        this.timeout = timeout;
        this.maxResponseBytes = maxResponseBytes;
        this.http = HttpClient.newBuilder().connectTimeout(timeout).version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NEVER).build();
    }

    /** A client for {@code apiUrl} (null: {@link #DEFAULT_API_URL}). */
    public static CloudflareDns create(URI apiUrl, String apiToken, Duration timeout) {
        return new CloudflareDns(apiUrl, apiToken, timeout, DEFAULT_MAX_RESPONSE_BYTES);
    }

    /** Same, with another bound on response bodies. */
    public static CloudflareDns create(URI apiUrl, String apiToken, Duration timeout, int maxResponseBytes) {
        return new CloudflareDns(apiUrl, apiToken, timeout, maxResponseBytes);
    }

    /** The API base URL. */
    public String apiUrl() {
        return apiUrl;
    }

    @Override
    public String zoneIdFor(String domain) throws RaException {
        String why = Domains.problem(domain);
        if (why != null) {
            throw new RaException(Reason.DNS_ZONE_NOT_FOUND, "domain", why);
        }
        String base = Domains.base(domain);
        Map<String, String> zones = new HashMap<>();
        int total = 1;
        for (int page = 1; page <= total; page++) {
            String call = "GET /zones page " + page;
            CloudflareJson.Page<CloudflareJson.Zone> p = CloudflareJson.zones(call(call, "GET", "/zones?page=" + page
                    + "&per_page=" + ZONES_PER_PAGE, null), call);
            total = p.totalPages();
            for (CloudflareJson.Zone z : p.items()) {
                zones.putIfAbsent(Domains.normalize(z.name()), z.id());
            }
        }
        String[] labels = base.split("\\.");
        for (int i = 0; i < labels.length; i++) {
            String candidate = String.join(".", Arrays.copyOfRange(labels, i, labels.length));
            String id = zones.get(candidate);
            if (id != null) {
                return id;
            }
        }
        throw new RaException(Reason.DNS_ZONE_NOT_FOUND, "domain", "no zone of " + apiUrl + " covers " + base
                + " (the token sees " + zones.size() + " zone" + (zones.size() == 1 ? "" : "s")
                + (zones.isEmpty() || zones.size() > 10 ? "" : ": " + String.join(", ", new TreeSet<>(zones.keySet())))
                + ")");
    }

    @Override
    public String addTxt(String zoneId, String name, String value, int ttl) throws RaException {
        checkId("zoneId", zoneId);
        ObjectNode body = StrictJson.MAPPER.createObjectNode();
        body.put("type", "TXT");
        body.put("name", name);
        body.put("content", value);
        body.put("ttl", ttl);
        String call = "POST /zones/" + zoneId + "/dns_records (TXT " + name + ")";
        return CloudflareJson.resultId(call(call, "POST", "/zones/" + zoneId + "/dns_records", body), call);
    }

    @Override
    public String addCaa(String zoneId, String name, int flags, String tag, String value) throws RaException {
        checkId("zoneId", zoneId);
        ObjectNode body = StrictJson.MAPPER.createObjectNode();
        body.put("type", "CAA");
        body.put("name", name);
        ObjectNode data = body.putObject("data");
        data.put("flags", flags);
        data.put("tag", tag);
        data.put("value", value);
        String call = "POST /zones/" + zoneId + "/dns_records (CAA " + name + " " + flags + " " + tag + ")";
        return CloudflareJson.resultId(call(call, "POST", "/zones/" + zoneId + "/dns_records", body), call);
    }

    @Override
    public List<DnsRecord> records(String zoneId, String name, String type) throws RaException {
        checkId("zoneId", zoneId);
        String target = Domains.normalize(name);
        List<DnsRecord> out = new ArrayList<>();
        for (int page = 1; page < MAX_RECORD_PAGES; page++) {
            String call = "GET /zones/" + zoneId + "/dns_records?name=" + target + " page " + page;
            CloudflareJson.Page<DnsRecord> p = CloudflareJson.records(call(call, "GET", "/zones/" + zoneId
                    + "/dns_records?name=" + enc(target) + (type == null ? "" : "&type=" + enc(type)) + "&page="
                    + page + "&per_page=" + RECORDS_PER_PAGE, null), call);
            for (DnsRecord r : p.items()) {
                if (Domains.normalize(r.name()).equals(target) && (type == null || type.equalsIgnoreCase(r.type()))) {
                    out.add(r);
                }
            }
            if (page >= p.totalPages()) {
                break;
            }
        }
        return out;
    }

    @Override
    public void deleteRecord(String zoneId, String recordId) throws RaException {
        checkId("zoneId", zoneId);
        checkId("recordId", recordId);
        String call = "DELETE /zones/" + zoneId + "/dns_records/" + recordId;
        byte[] body = call(call, "DELETE", "/zones/" + zoneId + "/dns_records/" + recordId, null);
        CloudflareJson.resultId(body, call);
    }

    private static void checkId(String field, String id) throws RaException {
        if (!CloudflareJson.Ids.valid(id)) {
            throw new RaException(Reason.DNS_API_FAILED, field, "not a Cloudflare id (1..64 of [A-Za-z0-9_-])");
        }
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    private byte[] call(String call, String method, String pathAndQuery, ObjectNode json) throws RaException {
        HttpRequest.Builder rb = HttpRequest.newBuilder(URI.create(apiUrl + pathAndQuery)).timeout(timeout)
                .header("Authorization", "Bearer " + apiToken).header("Accept", "application/json");
        if (json != null) {
            byte[] b;
            try {
                b = StrictJson.MAPPER.writeValueAsBytes(json);
            } catch (JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
            rb.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofByteArray(b));
        } else {
            rb.method(method, HttpRequest.BodyPublishers.noBody());
        }
        BoundedHttp.Answer a;
        try {
            a = BoundedHttp.send(http, rb.build(), maxResponseBytes, timeout);
        } catch (HttpTimeoutException e) {
            throw new RaException(Reason.DNS_API_FAILED, call, "Cloudflare API " + apiUrl + " timed out after "
                    + timeout.toMillis() + " ms");
        } catch (BoundedHttp.TooLarge e) {
            throw new RaException(Reason.DNS_API_FAILED, call, "Cloudflare API " + apiUrl + " answered more than "
                    + maxResponseBytes + " bytes");
        } catch (IOException e) {
            throw new RaException(Reason.DNS_API_FAILED, call, "Cloudflare API " + apiUrl + " unreachable ("
                    + e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage()) + ")");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RaException(Reason.DNS_API_FAILED, call, "interrupted");
        }
        if (a.status() / 100 != 2) {
            LOG.log(Logger.Level.DEBUG, "Cloudflare {0}: HTTP {1}", call, a.status());
            throw new RaException(Reason.DNS_API_FAILED, call, "Cloudflare API answered HTTP " + a.status() + ": "
                    + CloudflareJson.errors(a.body()));
        }
        return a.body();
    }

    @Override
    public String toString() {
        return "CloudflareDns[" + apiUrl + ", token=<redacted>]";
    }
}
