package dev.atlas.dstack.ra.prpc;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The HTTP response the transport writes.
 *
 * @param status the HTTP status
 * @param contentType the Content-Type, or null for an empty body
 * @param body the body bytes (null is read as empty)
 * @param headers extra headers, for example {@code X-App-Version} and {@code WWW-Authenticate}
 */
public record PrpcResponse(int status, String contentType, byte[] body, Map<String, String> headers) {
    /** {@code application/json}, what upstream's Rocket helper sends for JSON. */
    public static final String JSON = "application/json";
    /** {@code application/octet-stream}, upstream's content type for binary protobuf. */
    public static final String BINARY = "application/octet-stream";

    public PrpcResponse {
        if (status < 100 || status > 599) {
            throw new IllegalArgumentException("status " + status + " is not an HTTP status");
        }
        body = body == null ? new byte[0] : body;
        headers = headers == null ? Map.of() : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(headers));
    }

    /** The body as UTF-8 text. */
    public String bodyText() {
        return new String(body, StandardCharsets.UTF_8);
    }

    /** A header by case-insensitive name. */
    public Optional<String> header(String name) {
        for (Map.Entry<String, String> e : headers.entrySet()) {
            if (e.getKey().toLowerCase(Locale.ROOT).equals(name.toLowerCase(Locale.ROOT))) {
                return Optional.of(e.getValue());
            }
        }
        return Optional.empty();
    }

    /** This response with one more header (replacing one of the same name). */
    public PrpcResponse withHeader(String name, String value) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(value, "value");
        LinkedHashMap<String, String> h = new LinkedHashMap<>();
        headers.forEach((k, v) -> {
            if (!k.equalsIgnoreCase(name)) {
                h.put(k, v);
            }
        });
        h.put(name, value);
        return new PrpcResponse(status, contentType, body, h);
    }

    @Override
    public String toString() {
        return "PrpcResponse[" + status + ", " + contentType + ", " + body.length + " bytes]";
    }
}
