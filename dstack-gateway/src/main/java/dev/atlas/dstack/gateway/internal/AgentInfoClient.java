package dev.atlas.dstack.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * {@code POST http://<agent>/prpc/Info?json} with an empty JSON body (the guest agent's {@code Worker.Info}, as
 * dstack's {@code DstackGuestClient::info} over pRPC), answering the {@code tcb_info} string. The answer is read up
 * to {@link #MAX_BODY} bytes; a non-200 status, a larger body, or a body without a string {@code tcb_info} fails.
 */
final class AgentInfoClient implements PortPolicies.AgentInfo {
    /** The largest {@code Info} answer read (a tcb_info with its event log is some tens of KiB). */
    static final int MAX_BODY = 4 << 20;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .followRedirects(HttpClient.Redirect.NEVER)
            .proxy(HttpClient.Builder.NO_PROXY)
            .build();

    @Override
    public CompletableFuture<String> tcbInfo(InetSocketAddress agent, Duration timeout) {
        String host = agent.getAddress().getHostAddress();
        URI uri = URI.create("http://" + host + ":" + agent.getPort() + "/prpc/Info?json");
        HttpRequest req = HttpRequest.newBuilder(uri)
                .timeout(timeout)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{}"))
                .build();
        return http.sendAsync(req, HttpResponse.BodyHandlers.ofInputStream()).thenApply(resp -> {
            try (InputStream in = resp.body()) {
                byte[] body = in.readNBytes(MAX_BODY + 1);
                if (resp.statusCode() != 200) {
                    throw new CompletionException(new IOException("agent Info() at " + uri + " answered HTTP "
                            + resp.statusCode()));
                }
                if (body.length > MAX_BODY) {
                    throw new CompletionException(new IOException("agent Info() at " + uri + " answered more than "
                            + MAX_BODY + " bytes"));
                }
                JsonNode o = JSON.readTree(body);
                JsonNode t = o == null ? null : o.get("tcb_info");
                if (t == null || !t.isTextual()) {
                    throw new CompletionException(new IOException("agent Info() at " + uri
                            + " answered no string tcb_info"));
                }
                return t.asText();
            } catch (IOException e) {
                throw new CompletionException(e);
            }
        });
    }
}
