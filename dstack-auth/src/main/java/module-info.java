/**
 * The dstack KMS boot-authorization webhook, wire-compatible with dstack's auth-simple: the decision logic as a
 * library ({@link dev.atlas.dstack.auth.BootAuthorizer}) and an HTTP server around it.
 */
module dev.atlas.dstack.auth {
    requires transitive jdk.httpserver;
    requires com.fasterxml.jackson.databind;
    requires micrometer.core;
    requires micrometer.registry.prometheus;

    exports dev.atlas.dstack.auth;
}
