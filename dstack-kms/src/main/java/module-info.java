/**
 * The dstack KMS in Java ({@code ../shared/specs/dstack-platform.md} §2): reads dstack's {@code kms.toml}
 * unchanged, keeps dstack's state files in {@code core.cert_dir}, and serves the {@code KMS}, {@code Onboard}
 * and {@code Admin} pRPC services so that a Rust dstack CVM, a Rust KMS replica and dstack's SDKs cannot tell it
 * from dstack-kms. See {@code docs/dstack-kms.md}.
 */
module dev.atlas.dstack.kms {
    requires transitive dev.atlas.dstack.ra;
    requires dev.atlas.dstack.guest;
    requires com.fasterxml.jackson.databind;
    requires com.fasterxml.jackson.dataformat.toml;
    requires dev.atlas.measure;
    requires micrometer.core;
    requires micrometer.registry.prometheus;
    requires jdk.httpserver;
    requires java.net.http;

    exports dev.atlas.dstack.kms;
}
