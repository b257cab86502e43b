/** OkHttp adapter for attested TLS. */
module dev.atlas.okhttp {
    requires transitive dev.atlas.client;
    requires transitive okhttp3;

    exports dev.atlas.okhttp;
}
