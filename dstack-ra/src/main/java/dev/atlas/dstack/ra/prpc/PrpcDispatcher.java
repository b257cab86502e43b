package dev.atlas.dstack.ra.prpc;

/**
 * Maps one pRPC HTTP request to a response, independent of the HTTP server. See {@code docs/prpc.md}.
 */
public final class PrpcDispatcher {
    /** dstack's default per-method body limit, 10 MiB. */
    public static final int DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;

    private PrpcDispatcher(Builder b) {
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Never throws; the path is relative to the mount. */
    public PrpcResponse dispatch(PrpcRequest request) {
        throw new UnsupportedOperationException("skeleton");
    }

    /** The body limit this dispatcher enforces; transports stop reading past it. */
    public int maxBodyBytes() {
        throw new UnsupportedOperationException("skeleton");
    }

    public static final class Builder {
        private Builder() {}

        public Builder method(String bareName, PrpcHandler handler) {
            throw new UnsupportedOperationException("skeleton");
        }

        /** A service prefix accepted before the method name, with or without its dot: {@code "KMS"} or {@code "KMS."}. */
        public Builder trimPrefix(String servicePrefix) {
            throw new UnsupportedOperationException("skeleton");
        }

        public Builder maxBodyBytes(int bytes) {
            throw new UnsupportedOperationException("skeleton");
        }

        public Builder appVersion(String version) {
            throw new UnsupportedOperationException("skeleton");
        }

        public Builder objectMapper(com.fasterxml.jackson.databind.ObjectMapper mapper) {
            throw new UnsupportedOperationException("skeleton");
        }

        public Builder adminAuth(AdminAuth auth) {
            throw new UnsupportedOperationException("skeleton");
        }

        public PrpcDispatcher build() {
            throw new UnsupportedOperationException("skeleton");
        }
    }
}
