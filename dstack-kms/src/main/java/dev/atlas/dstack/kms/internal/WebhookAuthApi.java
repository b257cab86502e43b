package dev.atlas.dstack.kms.internal;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atlas.dstack.ra.RaException;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code [core.auth_api] type = "webhook"}: {@code POST <url>/bootAuth/app}, {@code POST <url>/bootAuth/kms}
 * (a {@code /} is added to the URL when it has none, as upstream's {@code url_join}) and {@code GET <url>} over the
 * JDK {@code HttpClient}, on its own daemon threads (never the common pool). Each call has one deadline for connect,
 * request and the whole answer; the answer is read up to {@link WebhookAnswers#MAX_ANSWER_BYTES} and parsed by
 * {@link WebhookAnswers}. Redirects are not followed (a 3xx is a non-2xx answer). Thread-safe.
 */
public final class WebhookAuthApi implements AuthApi, AutoCloseable {
    private static final String USER_AGENT = "dstack-kms (atlas-java)";
    private static final AtomicInteger THREADS = new AtomicInteger();

    private final URI url;
    private final String shownUrl;
    private final Duration timeout;
    private final ExecutorService executor;
    private final HttpClient client;

    private WebhookAuthApi(URI url, Duration timeout) {
        this.url = url;
        this.shownUrl = shown(url);
        this.timeout = timeout;
        this.executor = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "kms-webhook-" + THREADS.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.client = HttpClient.newBuilder().executor(executor).connectTimeout(timeout)
                .followRedirects(HttpClient.Redirect.NEVER).version(HttpClient.Version.HTTP_1_1).build();
    }

    static WebhookAuthApi create(URI url, Duration timeout) {
        Objects.requireNonNull(url, "url");
        Objects.requireNonNull(timeout, "timeout");
        String scheme = url.getScheme() == null ? "" : url.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https") || url.getHost() == null) {
            throw new IllegalArgumentException("the auth webhook URL must be http(s)://host[:port][/path], got "
                    + shown(url));
        }
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("the webhook timeout must be positive");
        }
        return new WebhookAuthApi(url, timeout);
    }

    /** The URL as messages show it: no user info, no query, no fragment. */
    static String shown(URI u) {
        StringBuilder sb = new StringBuilder();
        if (u.getScheme() != null) {
            sb.append(u.getScheme()).append("://");
        }
        if (u.getHost() != null) {
            sb.append(u.getHost());
            if (u.getPort() >= 0) {
                sb.append(':').append(u.getPort());
            }
        }
        if (u.getRawPath() != null) {
            sb.append(u.getRawPath());
        }
        return sb.toString();
    }

    private URI join(String path) {
        String base = url.toString();
        return URI.create(base.endsWith("/") ? base + path : base + "/" + path);
    }

    private String shownJoin(String path) {
        return shownUrl.endsWith("/") ? shownUrl + path : shownUrl + "/" + path;
    }

    @Override
    public BootDecision bootAuthApp(JsonNode bootInfo) throws RaException {
        return post("bootAuth/app", bootInfo);
    }

    @Override
    public BootDecision bootAuthKms(JsonNode bootInfo) throws RaException {
        return post("bootAuth/kms", bootInfo);
    }

    private BootDecision post(String path, JsonNode bootInfo) throws RaException {
        Objects.requireNonNull(bootInfo, "bootInfo");
        HttpRequest req = HttpRequest.newBuilder(join(path)).timeout(timeout)
                .header("Content-Type", "application/json").header("User-Agent", USER_AGENT)
                .POST(HttpRequest.BodyPublishers.ofString(bootInfo.toString(), StandardCharsets.UTF_8)).build();
        String shown = shownJoin(path);
        return WebhookAnswers.bootResponse(send(req, shown), shown);
    }

    @Override
    public AuthInfo info() throws RaException {
        HttpRequest req = HttpRequest.newBuilder(url).timeout(timeout).header("User-Agent", USER_AGENT).GET().build();
        return WebhookAnswers.info(send(req, shownUrl), shownUrl);
    }

    @Override
    public boolean isDev() {
        return false;
    }

    private byte[] send(HttpRequest req, String shown) throws RaException {
        CompletableFuture<HttpResponse<byte[]>> f = client.sendAsync(req,
                info -> new LimitedBody(WebhookAnswers.MAX_ANSWER_BYTES));
        HttpResponse<byte[]> r;
        try {
            r = f.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            f.cancel(true);
            throw unavailable("auth api " + shown + " did not answer within " + timeout.toMillis() + " ms");
        } catch (InterruptedException e) {
            f.cancel(true);
            Thread.currentThread().interrupt();
            throw unavailable("auth api " + shown + ": interrupted");
        } catch (ExecutionException e) {
            Throwable c = e.getCause() != null ? e.getCause() : e;
            if (c instanceof HttpTimeoutException) {
                throw unavailable("auth api " + shown + " did not answer within " + timeout.toMillis() + " ms");
            }
            if (c instanceof TooLarge) {
                throw unavailable("failed to decode response from " + shown + ": answer larger than "
                        + WebhookAnswers.MAX_ANSWER_BYTES + " bytes");
            }
            throw unavailable("auth api " + shown + " unreachable: " + c.getClass().getSimpleName()
                    + (c.getMessage() == null ? "" : ": " + c.getMessage()));
        }
        int status = r.statusCode();
        if (status < 200 || status > 299) {
            throw unavailable("auth api " + shown + " returned " + status);
        }
        return r.body();
    }

    private static RaException unavailable(String message) {
        return new RaException(RaException.Reason.AUTH_UNAVAILABLE, message);
    }

    @Override
    public void close() {
        client.shutdownNow();
        executor.shutdownNow();
    }

    @Override
    public String toString() {
        return "AuthApi[webhook " + shownUrl + ", timeout " + timeout + "]";
    }

    private static final class TooLarge extends IOException {
        private static final long serialVersionUID = 1L;

        TooLarge() {
            super("answer too large", null);
        }
    }

    /** Collects the body up to {@code limit} bytes; more cancels the exchange. */
    private static final class LimitedBody implements HttpResponse.BodySubscriber<byte[]> {
        private final int limit;
        private final CompletableFuture<byte[]> result = new CompletableFuture<>();
        private final List<ByteBuffer> parts = new ArrayList<>();
        private int size;
        private Flow.Subscription subscription;

        LimitedBody(int limit) {
            this.limit = limit;
        }

        @Override
        public CompletionStage<byte[]> getBody() {
            return result;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            this.subscription = s;
            s.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(List<ByteBuffer> items) {
            if (result.isDone()) {
                return;
            }
            for (ByteBuffer b : items) {
                size += b.remaining();
                if (size > limit) {
                    parts.clear();
                    subscription.cancel();
                    result.completeExceptionally(new TooLarge());
                    return;
                }
                parts.add(b);
            }
        }

        @Override
        public void onError(Throwable t) {
            result.completeExceptionally(t);
        }

        @Override
        public void onComplete() {
            if (result.isDone()) {
                return;
            }
            byte[] out = new byte[size];
            int off = 0;
            for (ByteBuffer b : parts) {
                int n = b.remaining();
                b.get(out, off, n);
                off += n;
            }
            result.complete(out);
        }
    }
}
