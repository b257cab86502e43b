package dev.atlas.dstack.ra.prpc;

import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One HTTP request as the transport saw it, relative to the pRPC mount.
 *
 * @param httpMethod {@code GET}, {@code POST}, ...
 * @param path the path below the mount, for example {@code /GetAppKey} or {@code /KMS.GetAppKey}
 * @param rawQuery the query string without {@code ?}, still percent-encoded; null or empty when none
 * @param contentType the Content-Type header, or null
 * @param body the request body (empty for GET)
 * @param headers the request headers (names are compared case-insensitively)
 * @param peerCertificates the TLS client's chain, leaf first, when there is one
 */
public record PrpcRequest(String httpMethod, String path, String rawQuery, String contentType, byte[] body,
        Map<String, String> headers, Optional<List<X509Certificate>> peerCertificates) {
}
