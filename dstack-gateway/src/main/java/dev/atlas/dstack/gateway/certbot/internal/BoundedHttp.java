package dev.atlas.dstack.gateway.certbot.internal;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One HTTP exchange with a deadline over the whole of it (headers and body) and a bound on the body: a server that
 * stalls or sends too much is cut off, never waited for or buffered.
 */
public final class BoundedHttp {
    private BoundedHttp() {
    }

    /** The body was over the bound. */
    public static final class TooLarge extends IOException {
        private static final long serialVersionUID = 1L;

        TooLarge(long max) {
            super("response body larger than " + max + " bytes");
        }
    }

    /** Status and body. */
    public record Answer(int status, byte[] body) {
    }

    /**
     * Sends {@code request} and reads at most {@code maxBytes} of body within {@code timeout}.
     *
     * @throws HttpTimeoutException when the deadline passes
     * @throws TooLarge             when the body exceeds the bound
     * @throws IOException          on connection errors
     */
    public static Answer send(HttpClient client, HttpRequest request, int maxBytes, Duration timeout)
            throws IOException, InterruptedException {
        CompletableFuture<HttpResponse<byte[]>> f = client.sendAsync(request, info -> bounded(maxBytes));
        try {
            HttpResponse<byte[]> r = f.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
            return new Answer(r.statusCode(), r.body());
        } catch (TimeoutException e) {
            f.cancel(true);
            throw new HttpTimeoutException("no complete answer within " + timeout.toMillis() + " ms");
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            while (c != null && !(c instanceof IOException) && c.getCause() != null) {
                c = c.getCause();
            }
            if (c instanceof IOException io) {
                throw io;
            }
            throw new IOException(c == null ? "request failed" : c.getClass().getSimpleName(), c);
        } catch (InterruptedException e) {
            f.cancel(true);
            throw e;
        }
    }

    private static HttpResponse.BodySubscriber<byte[]> bounded(int max) {
        return new HttpResponse.BodySubscriber<>() {
            private final ByteArrayOutputStream out = new ByteArrayOutputStream();
            private final CompletableFuture<byte[]> result = new CompletableFuture<>();
            private Flow.Subscription sub;

            @Override
            public CompletionStage<byte[]> getBody() {
                return result;
            }

            @Override
            public void onSubscribe(Flow.Subscription s) {
                sub = s;
                s.request(Long.MAX_VALUE);
            }

            @Override
            public void onNext(List<ByteBuffer> items) {
                if (result.isDone()) {
                    return;
                }
                for (ByteBuffer b : items) {
                    if (out.size() + (long) b.remaining() > max) {
                        result.completeExceptionally(new TooLarge(max));
                        sub.cancel();
                        return;
                    }
                    byte[] a = new byte[b.remaining()];
                    b.get(a);
                    out.writeBytes(a);
                }
            }

            @Override
            public void onError(Throwable t) {
                result.completeExceptionally(t);
            }

            @Override
            public void onComplete() {
                result.complete(out.toByteArray());
            }
        };
    }
}
