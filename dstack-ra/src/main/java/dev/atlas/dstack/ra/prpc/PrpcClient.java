package dev.atlas.dstack.ra.prpc;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import javax.net.ssl.SSLContext;

/** A pRPC JSON client: {@code POST {base}/{Method}?json} over the JDK {@code HttpClient}. */
public final class PrpcClient {
    private PrpcClient(Builder b) {
    }

    public static Builder builder(URI base) {
        return new Builder();
    }

    public JsonNode call(String method, Object request) throws IOException, PrpcRemoteException {
        throw new UnsupportedOperationException("skeleton");
    }

    public <T> T call(String method, Object request, Class<T> type) throws IOException, PrpcRemoteException {
        throw new UnsupportedOperationException("skeleton");
    }

    public <T> T call(String method, Object request, TypeReference<T> type) throws IOException, PrpcRemoteException {
        throw new UnsupportedOperationException("skeleton");
    }

    public static final class Builder {
        private Builder() {}

        public Builder sslContext(SSLContext context) {
            throw new UnsupportedOperationException("skeleton");
        }

        public Builder connectTimeout(Duration timeout) {
            throw new UnsupportedOperationException("skeleton");
        }

        public Builder requestTimeout(Duration timeout) {
            throw new UnsupportedOperationException("skeleton");
        }

        public Builder maxResponseBytes(int bytes) {
            throw new UnsupportedOperationException("skeleton");
        }

        public Builder header(String name, String value) {
            throw new UnsupportedOperationException("skeleton");
        }

        public PrpcClient build() {
            throw new UnsupportedOperationException("skeleton");
        }
    }
}
