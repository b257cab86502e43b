package dev.atlas.dstack.ra.prpc;

import java.util.Map;

/** dstack's admin-API authentication (§0.3). */
public final class AdminAuth {
    public static final String REALM_VMM = "dstack-vmm API";
    public static final String REALM_GATEWAY = "dstack-gateway admin";
    public static final String REALM_KMS = "dstack-kms admin";

    private AdminAuth() {}

    public static Builder builder() {
        return new Builder();
    }

    /** The decision for one request. */
    public record Result(boolean allowed, String rawQuery, PrpcResponse rejection) {}

    public Result check(String httpMethod, Map<String, String> headers, String rawQuery) {
        throw new UnsupportedOperationException("skeleton");
    }

    public static final class Builder {
        private Builder() {}

        public AdminAuth build() {
            throw new UnsupportedOperationException("skeleton");
        }
    }
}
