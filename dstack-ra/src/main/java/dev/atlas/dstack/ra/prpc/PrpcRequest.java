package dev.atlas.dstack.ra.prpc;

import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;

/**
 * One HTTP request as the transport saw it, relative to the pRPC mount.
 *
 * <p>The body array is not copied (it may be 10 MiB); the caller must not change it afterwards. A transport that
 * stops reading at the dispatcher's {@link PrpcDispatcher#maxBodyBytes() limit} passes the first
 * {@code limit + 1} bytes: the dispatcher then answers "payload too large".
 *
 * @param httpMethod {@code GET}, {@code POST}, ... (case-insensitive)
 * @param path the raw (still percent-encoded) path below the mount, for example {@code /GetAppKey} or
 *        {@code /KMS.GetAppKey}
 * @param rawQuery the query string without {@code ?}, still percent-encoded; empty when none (null is read as
 *        empty)
 * @param contentType the Content-Type header, or null
 * @param body the request body (empty for GET; null is read as empty)
 * @param headers the request headers, one value per name; names are case-insensitive (stored in lower case)
 * @param peerCertificates the TLS client's chain, leaf first, when there is one
 */
public record PrpcRequest(String httpMethod, String path, String rawQuery, String contentType, byte[] body,
        Map<String, String> headers, Optional<List<X509Certificate>> peerCertificates) {
    public PrpcRequest {
        Objects.requireNonNull(httpMethod, "httpMethod");
        Objects.requireNonNull(path, "path");
        rawQuery = rawQuery == null ? "" : rawQuery;
        body = body == null ? new byte[0] : body;
        TreeMap<String, String> h = new TreeMap<>();
        if (headers != null) {
            headers.forEach((k, v) -> h.putIfAbsent(k.toLowerCase(Locale.ROOT), v));
        }
        headers = java.util.Collections.unmodifiableMap(h);
        peerCertificates = peerCertificates == null ? Optional.empty() : peerCertificates.map(List::copyOf);
    }

    /** A request without TLS client certificates; {@code Content-Type} is also taken from {@code headers}. */
    public static PrpcRequest of(String httpMethod, String pathAndQuery, byte[] body, Map<String, String> headers) {
        int q = pathAndQuery.indexOf('?');
        String path = q < 0 ? pathAndQuery : pathAndQuery.substring(0, q);
        String query = q < 0 ? "" : pathAndQuery.substring(q + 1);
        String ct = null;
        if (headers != null) {
            for (Map.Entry<String, String> e : headers.entrySet()) {
                if (e.getKey().equalsIgnoreCase("content-type")) {
                    ct = e.getValue();
                }
            }
        }
        return new PrpcRequest(httpMethod, path, query, ct, body, headers, Optional.empty());
    }

    /** The header's value, by case-insensitive name. */
    public Optional<String> header(String name) {
        return Optional.ofNullable(headers.get(name.toLowerCase(Locale.ROOT)));
    }

    /** This request with another raw query (used after the admin token is stripped). */
    public PrpcRequest withRawQuery(String query) {
        return new PrpcRequest(httpMethod, path, query, contentType, body, headers, peerCertificates);
    }

    @Override
    public String toString() {
        // Never the body or the headers (they may carry tokens).
        return "PrpcRequest[" + httpMethod + " " + path + (rawQuery.isEmpty() ? "" : "?<query>") + ", "
                + body.length + " bytes]";
    }
}
