/**
 * Test support for atlas-java: mock Intel PKI and DCAP evidence factory, dstack event logs, a simulated dstack
 * CVM with its guest-agent API, and a mock PCCS.
 */
module dev.atlas.testing {
    requires transitive com.fasterxml.jackson.databind;
    requires org.bouncycastle.provider;
    requires org.bouncycastle.pkix;
    requires jdk.httpserver;
    requires java.net.http; // HeadlessChromium (DevTools protocol over a WebSocket)
    requires static org.junit.jupiter.api; // SharedTestData (tests only)

    exports dev.atlas.testing;
}
