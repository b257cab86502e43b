package dev.atlas.dstack.ra.prpc;

import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What a handler knows about a call besides its message.
 *
 * @param method the bare method name (service prefix removed), for example {@code GetAppKey}
 * @param httpMethod {@code GET} or {@code POST}
 * @param peerCertificates the TLS client's certificate chain, leaf first, when the transport has one
 * @param headers the request headers, names in lower case
 */
public record PrpcContext(String method, String httpMethod, Optional<List<X509Certificate>> peerCertificates,
        Map<String, String> headers) {
    public PrpcContext {
        java.util.Objects.requireNonNull(method, "method");
        java.util.Objects.requireNonNull(httpMethod, "httpMethod");
        peerCertificates = peerCertificates == null ? Optional.empty() : peerCertificates.map(List::copyOf);
        headers = headers == null ? Map.of() : Map.copyOf(headers);
    }

    /** The header's value, by case-insensitive name. */
    public Optional<String> header(String name) {
        return Optional.ofNullable(headers.get(name.toLowerCase(java.util.Locale.ROOT)));
    }
}
