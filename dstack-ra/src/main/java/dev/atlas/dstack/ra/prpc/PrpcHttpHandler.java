package dev.atlas.dstack.ra.prpc;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import java.io.IOException;

/** Mounts a {@link PrpcDispatcher} on a JDK {@code HttpServer}/{@code HttpsServer} context. */
public final class PrpcHttpHandler implements HttpHandler {
    private final PrpcDispatcher dispatcher;

    public PrpcHttpHandler(PrpcDispatcher dispatcher) {
        this.dispatcher = java.util.Objects.requireNonNull(dispatcher, "dispatcher");
    }

    @Override
    public void handle(HttpExchange exchange) throws IOException {
        throw new UnsupportedOperationException("skeleton");
    }
}
