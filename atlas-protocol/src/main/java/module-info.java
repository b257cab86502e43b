/**
 * The aTLS wire protocol, one seam for the client, the server and the benches: {@code POST /tdx_quote}, the
 * exporter label and length, the request body, limits, one strict HTTP/1.1 response reader, and the
 * duration/size checks the builders share. JDK only.
 */
module dev.atlas.protocol {
    exports dev.atlas.protocol;
    exports dev.atlas.protocol.internal to dev.atlas.client, dev.atlas.server;
}
