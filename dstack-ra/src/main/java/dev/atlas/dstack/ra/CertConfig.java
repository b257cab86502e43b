package dev.atlas.dstack.ra;

import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The certificate settings a {@code SignCert} CSR asks for: dstack's {@code CertConfigV2}
 * ({@code ra-tls/src/cert.rs}; spec §2.11). A version 1 CSR carries the first six fields only; its
 * {@code ext_app_info} is false and its validity is absent.
 *
 * @param orgName {@code O=} of the subject, if any
 * @param subject {@code CN=} of the subject
 * @param subjectAltNames SAN entries (DNS names; IP literals become IP SANs when a certificate is built)
 * @param usageServerAuth EKU {@code serverAuth}
 * @param usageClientAuth EKU {@code clientAuth}
 * @param extQuote embed the CSR's attestation (extension {@code .8})
 * @param extAppInfo embed the {@code AppInfo} decoded from the attestation (extension {@code .9})
 * @param notBefore requested {@code notBefore}, Unix seconds (u64, so never negative)
 * @param notAfter requested {@code notAfter}, Unix seconds (u64, so never negative)
 */
public record CertConfig(Optional<String> orgName, String subject, List<String> subjectAltNames,
        boolean usageServerAuth, boolean usageClientAuth, boolean extQuote, boolean extAppInfo,
        OptionalLong notBefore, OptionalLong notAfter) {

    public CertConfig {
        Objects.requireNonNull(orgName, "orgName");
        orgName.ifPresent(o -> Objects.requireNonNull(o, "orgName"));
        Objects.requireNonNull(subject, "subject");
        subjectAltNames = List.copyOf(subjectAltNames);
        Objects.requireNonNull(notBefore, "notBefore");
        Objects.requireNonNull(notAfter, "notAfter");
        if (notBefore.isPresent() && notBefore.getAsLong() < 0) {
            throw new IllegalArgumentException("notBefore is u64 Unix seconds, got " + notBefore.getAsLong());
        }
        if (notAfter.isPresent() && notAfter.getAsLong() < 0) {
            throw new IllegalArgumentException("notAfter is u64 Unix seconds, got " + notAfter.getAsLong());
        }
    }

    /** A builder: no organization, empty subject and SANs, every flag false, no validity. */
    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.orgName = orgName;
        b.subject = subject;
        b.subjectAltNames = subjectAltNames;
        b.usageServerAuth = usageServerAuth;
        b.usageClientAuth = usageClientAuth;
        b.extQuote = extQuote;
        b.extAppInfo = extAppInfo;
        b.notBefore = notBefore;
        b.notAfter = notAfter;
        return b;
    }

    /** Builder for {@link CertConfig}; {@link #build()} validates. */
    public static final class Builder {
        private Optional<String> orgName = Optional.empty();
        private String subject = "";
        private List<String> subjectAltNames = List.of();
        private boolean usageServerAuth;
        private boolean usageClientAuth;
        private boolean extQuote;
        private boolean extAppInfo;
        private OptionalLong notBefore = OptionalLong.empty();
        private OptionalLong notAfter = OptionalLong.empty();

        private Builder() {}

        public Builder orgName(String o) {
            this.orgName = Optional.ofNullable(o);
            return this;
        }

        public Builder subject(String cn) {
            this.subject = Objects.requireNonNull(cn, "subject");
            return this;
        }

        public Builder subjectAltNames(List<String> names) {
            this.subjectAltNames = List.copyOf(names);
            return this;
        }

        public Builder usageServerAuth(boolean v) {
            this.usageServerAuth = v;
            return this;
        }

        public Builder usageClientAuth(boolean v) {
            this.usageClientAuth = v;
            return this;
        }

        public Builder extQuote(boolean v) {
            this.extQuote = v;
            return this;
        }

        public Builder extAppInfo(boolean v) {
            this.extAppInfo = v;
            return this;
        }

        /** Unix seconds, or empty. */
        public Builder notBefore(OptionalLong unixSeconds) {
            this.notBefore = Objects.requireNonNull(unixSeconds, "notBefore");
            return this;
        }

        /** Unix seconds, or empty. */
        public Builder notAfter(OptionalLong unixSeconds) {
            this.notAfter = Objects.requireNonNull(unixSeconds, "notAfter");
            return this;
        }

        public CertConfig build() {
            return new CertConfig(orgName, subject, subjectAltNames, usageServerAuth, usageClientAuth, extQuote,
                    extAppInfo, notBefore, notAfter);
        }
    }
}
