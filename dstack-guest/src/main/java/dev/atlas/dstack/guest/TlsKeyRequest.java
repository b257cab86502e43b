package dev.atlas.dstack.guest;

import java.util.List;
import java.util.Objects;

/**
 * {@code GetTlsKeyArgs} (§5.2). Defaults as the SDKs: no subject, no alt names, server auth only. The
 * optional fields ({@code not_before}, {@code not_after}, {@code with_app_info}) are sent only when set
 * (they need dstack OS 0.5.7+).
 */
public record TlsKeyRequest(String subject, List<String> altNames, boolean usageRaTls, boolean usageServerAuth,
        boolean usageClientAuth, Long notBefore, Long notAfter, Boolean withAppInfo) {
    public TlsKeyRequest {
        Objects.requireNonNull(subject, "subject");
        altNames = List.copyOf(altNames);
        if (notBefore != null && notBefore < 0 || notAfter != null && notAfter < 0) {
            throw new IllegalArgumentException("not_before/not_after are seconds since the epoch, not negative");
        }
        if (notBefore != null && notAfter != null && notBefore >= notAfter) {
            throw new IllegalArgumentException("not_before must be before not_after");
        }
    }

    /** A builder with the SDK defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** Builder; {@link #build} validates. */
    public static final class Builder {
        private String subject = "";
        private List<String> altNames = List.of();
        private boolean usageRaTls;
        private boolean usageServerAuth = true;
        private boolean usageClientAuth;
        private Long notBefore;
        private Long notAfter;
        private Boolean withAppInfo;

        private Builder() {}

        public Builder subject(String v) { subject = Objects.requireNonNull(v); return this; }
        public Builder altNames(List<String> v) { altNames = List.copyOf(v); return this; }
        public Builder usageRaTls(boolean v) { usageRaTls = v; return this; }
        public Builder usageServerAuth(boolean v) { usageServerAuth = v; return this; }
        public Builder usageClientAuth(boolean v) { usageClientAuth = v; return this; }
        /** Seconds since the epoch. */
        public Builder notBefore(long v) { notBefore = v; return this; }
        /** Seconds since the epoch. */
        public Builder notAfter(long v) { notAfter = v; return this; }
        public Builder withAppInfo(boolean v) { withAppInfo = v; return this; }

        public TlsKeyRequest build() {
            return new TlsKeyRequest(subject, altNames, usageRaTls, usageServerAuth, usageClientAuth, notBefore,
                    notAfter, withAppInfo);
        }
    }
}
