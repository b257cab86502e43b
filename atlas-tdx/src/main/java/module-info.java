/** Intel DCAP quote parsing, collateral retrieval and verification. */
module dev.atlas.tdx {
    requires transitive com.fasterxml.jackson.databind;
    requires java.net.http;

    exports dev.atlas.tdx;
}
