/** The aTLS client: attested TLS 1.3 connections to services in dstack CVMs. */
module dev.atlas.client {
    requires transitive dev.atlas.dstack;
    requires transitive dev.atlas.protocol;

    exports dev.atlas.client;
}
