/**
 * Test support for the dstack control plane (like {@code atlas-server-testing}: never a production
 * dependency, {@code ModuleWallsTest} lists it): {@code DstackTestbed} starts, on loopback, a mock PCCS, the
 * auth webhook, a KMS bootstrapped in its own simulated CVM, and app CVMs that get their keys from that KMS.
 */
module dev.atlas.dstack.testing {
    requires transitive dev.atlas.dstack.kms;
    requires transitive dev.atlas.dstack.auth;
    requires transitive dev.atlas.dstack.simulator;
    requires transitive dev.atlas.testing;
    requires java.net.http;
    requires java.logging;
    requires jdk.httpserver; // issue19-certbot: CloudflareStandIn
    requires org.bouncycastle.provider; // issue19-certbot: Pebble's HTTPS certificate
    requires org.bouncycastle.pkix;

    exports dev.atlas.dstack.testing;
}
