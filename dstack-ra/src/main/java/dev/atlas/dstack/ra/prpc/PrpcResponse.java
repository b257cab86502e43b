package dev.atlas.dstack.ra.prpc;

import java.util.Map;

/**
 * The HTTP response the transport writes.
 *
 * @param status the HTTP status
 * @param contentType the Content-Type, or null for an empty body
 * @param body the body bytes
 * @param headers extra headers (for example {@code X-App-Version}, {@code WWW-Authenticate})
 */
public record PrpcResponse(int status, String contentType, byte[] body, Map<String, String> headers) {
}
