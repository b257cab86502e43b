/** Intel DCAP quote parsing, collateral retrieval and verification. */
module dev.atlas.tdx {
    requires transitive com.fasterxml.jackson.databind;
    requires transitive java.net.http; // CollateralClient.Builder.httpClient(HttpClient) is public API

    exports dev.atlas.tdx;
    // shared helpers (hex, strict JSON) for the dstack layer only; not public API
    exports dev.atlas.tdx.internal to dev.atlas.dstack;
}
