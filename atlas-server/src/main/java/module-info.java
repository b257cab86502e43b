/**
 * The aTLS server side for JVM services inside a dstack CVM: a TLS 1.3 HTTPS endpoint that answers
 * {@code POST /tdx_quote} with a quote bound to the connection's exporter, and hands every other request to the
 * application (a handler or a reverse proxy).
 */
module dev.atlas.server {
    requires transitive dev.atlas.dstack;
    requires transitive dev.atlas.protocol;
    requires transitive jdk.httpserver;
    requires java.net.http;
    requires com.fasterxml.jackson.databind;
    requires org.bouncycastle.provider;
    requires org.bouncycastle.pkix;

    exports dev.atlas.server;
}
