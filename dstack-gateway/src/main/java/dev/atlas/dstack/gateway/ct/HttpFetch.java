package dev.atlas.dstack.gateway.ct;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;

/**
 * Bounded HTTP with the JDK client (crt.sh, the dstack-verifier, the webhook): a whole-request timeout, and a body
 * read up to a limit and then abandoned, so a gigantic answer costs at most the limit.
 */
final class HttpFetch {
    private final HttpClient client;
    private final Duration timeout;

    HttpFetch(Duration timeout) {
        this.timeout = timeout;
        this.client = HttpClient.newBuilder().connectTimeout(timeout).followRedirects(HttpClient.Redirect.NEVER)
                .build();
    }

    /** A 2xx body of at most {@code max} bytes; {@code what} names the source in messages. */
    byte[] get(URI uri, int max, String what) throws RaException {
        return send(HttpRequest.newBuilder(uri).timeout(timeout).header("User-Agent", "atlas-ct-monitor").GET()
                .build(), max, what);
    }

    /** POSTs JSON; a 2xx body of at most {@code max} bytes. */
    byte[] postJson(URI uri, String json, int max, String what) throws RaException {
        return send(HttpRequest.newBuilder(uri).timeout(timeout).header("User-Agent", "atlas-ct-monitor")
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json, StandardCharsets.UTF_8)).build(), max, what);
    }

    private byte[] send(HttpRequest req, int max, String what) throws RaException {
        HttpResponse<InputStream> r;
        try {
            r = client.send(req, HttpResponse.BodyHandlers.ofInputStream());
        } catch (IOException e) {
            throw new RaException(Reason.CT_SOURCE_UNAVAILABLE, what, what + " " + req.uri() + " unreachable ("
                    + e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage()) + ")");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RaException(Reason.CT_SOURCE_UNAVAILABLE, what, what + " " + req.uri() + ": interrupted");
        }
        try (InputStream in = r.body()) {
            if (r.statusCode() / 100 != 2) {
                throw new RaException(Reason.CT_SOURCE_UNAVAILABLE, what, what + " " + req.uri() + " answered HTTP "
                        + r.statusCode());
            }
            byte[] buf = in.readNBytes(max + 1);
            if (buf.length > max) {
                throw new RaException(Reason.CT_SOURCE_MALFORMED, what, what + " " + req.uri()
                        + ": response exceeds the limit of " + max + " bytes");
            }
            return Arrays.copyOf(buf, buf.length);
        } catch (IOException e) {
            throw new RaException(Reason.CT_SOURCE_UNAVAILABLE, what, what + " " + req.uri() + ": reading the "
                    + "response failed (" + e.getClass().getSimpleName() + ")");
        }
    }
}
