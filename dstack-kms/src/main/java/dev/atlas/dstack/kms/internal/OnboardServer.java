package dev.atlas.dstack.kms.internal;

import com.sun.net.httpserver.HttpServer;
import dev.atlas.dstack.ra.prpc.PrpcDispatcher;
import dev.atlas.dstack.ra.prpc.PrpcHttpHandler;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/**
 * The onboard listener ({@code ../shared/specs/dstack-platform.md} §2.1): plain HTTP, run only while the KMS has
 * no keys, {@code /prpc/Onboard.*} plus {@link OnboardPage}'s {@code /}, {@code /finish}, {@code /health}. It
 * runs until {@code Onboard.Finish} or {@code GET /finish}; the response to that call is sent before the
 * listener closes, and the port is free again afterwards (the onboard port may equal the RPC port).
 *
 * <pre>{@code
 * try (OnboardServer s = OnboardServer.start(address, finish -> OnboardRpc.dispatcher(deps(finish)))) {
 *     s.awaitFinish();          // blocks until Finish; then the main server starts
 * }
 * }</pre>
 */
public final class OnboardServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(OnboardServer.class.getName());
    /** How long {@link #close()} lets exchanges in flight (the Finish response) complete. */
    private static final int STOP_DELAY_SECONDS = 1;

    private final HttpServer server;
    private final ExecutorService executor;
    private final CompletableFuture<Void> finished = new CompletableFuture<>();
    private volatile boolean closed;

    private OnboardServer(HttpServer server, ExecutorService executor) {
        this.server = server;
        this.executor = executor;
    }

    /**
     * Binds {@code address} (port 0 picks one) and starts serving.
     *
     * @param dispatcher builds the {@code Onboard} dispatcher given the finish callback (for {@code Finish})
     */
    public static OnboardServer start(InetSocketAddress address, Function<Runnable, PrpcDispatcher> dispatcher)
            throws IOException {
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(dispatcher, "dispatcher");
        HttpServer http = HttpServer.create(address, 0);
        ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
        OnboardServer s = new OnboardServer(http, executor);
        Runnable finish = s::finish;
        http.createContext("/prpc", new PrpcHttpHandler(dispatcher.apply(finish)));
        http.createContext("/", new OnboardPage(finish));
        http.setExecutor(executor);
        http.start();
        LOG.log(System.Logger.Level.INFO, () -> "KMS onboard server listening on http://" + s.address().getHostString() + ":"
                + s.address().getPort() + "/ (no keys yet: bootstrap or onboard, then finish)");
        return s;
    }

    /** The bound address (the real port when 0 was asked). */
    public InetSocketAddress address() {
        return server.getAddress();
    }

    /** Asks the server to stop; idempotent. Called by {@code Finish} and {@code /finish} after their response. */
    public void finish() {
        if (finished.complete(null)) {
            Thread.ofPlatform().name("kms-onboard-stop").daemon(true).start(this::close);
        }
    }

    /** Whether {@link #finish()} was called. */
    public boolean isFinished() {
        return finished.isDone();
    }

    /** Blocks until {@link #finish()}, then stops the listener. */
    public void awaitFinish() throws InterruptedException {
        try {
            finished.get();
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
        close();
    }

    /** As {@link #awaitFinish()} with a limit; returns false (server still running) when it passed. */
    public boolean awaitFinish(Duration timeout) throws InterruptedException {
        try {
            finished.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            return false;
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
        close();
        return true;
    }

    /** Stops the listener (letting exchanges in flight finish for up to a second) and its threads. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        finished.complete(null);
        server.stop(STOP_DELAY_SECONDS);
        executor.shutdown();
        LOG.log(System.Logger.Level.INFO, "KMS onboard server stopped");
    }
}
