/**
 * Test support for aTLS servers, outside the production {@code atlas-server} artifact:
 * {@link dev.atlas.server.testing.SimulatedQuoteProvider} (a quote provider backed by a simulated CVM) and
 * {@link dev.atlas.server.testing.SimulatedAtlsServer} (simulated CVM + aTLS server + mock PCCS + policy).
 */
module dev.atlas.server.testing {
    requires transitive dev.atlas.server;
    requires transitive dev.atlas.testing;

    exports dev.atlas.server.testing;
}
