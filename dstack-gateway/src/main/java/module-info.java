/**
 * The dstack gateway in Java ({@code ../shared/specs/dstack-platform.md} §3): reads dstack's {@code gateway.toml}
 * unchanged, routes {@code <app_id>[-<port>][s|g].<base_domain>} by SNI to the app's healthy instances over
 * WireGuard (TLS terminated here or passed through to the app), registers CVMs through the mTLS {@code Gateway}
 * pRPC service, and serves the {@code Admin} API and dashboard. Netty carries the proxy (backpressure, epoll,
 * ALPN, DNS TXT lookups); the RPC and admin listeners are the JDK {@code HttpServer}s with dstack-ra's pRPC
 * binding, as in dstack-kms. See {@code docs/dstack-gateway.md}.
 */
module dev.atlas.dstack.gateway {
    requires transitive dev.atlas.dstack.ra;
    requires dev.atlas.dstack.guest;
    requires com.fasterxml.jackson.databind;
    requires com.fasterxml.jackson.dataformat.toml;
    requires io.netty.common;
    requires io.netty.buffer;
    requires io.netty.transport;
    requires io.netty.transport.classes.epoll;
    requires io.netty.codec;
    requires io.netty.codec.http;
    requires io.netty.codec.dns;
    requires io.netty.resolver;
    requires io.netty.resolver.dns;
    requires io.netty.handler;
    requires micrometer.core;
    requires org.bouncycastle.provider; // issue18-proxy: CertStore reads PEM keys
    requires org.bouncycastle.pkix;
    requires micrometer.registry.prometheus;
    requires jdk.httpserver;
    requires java.net.http;
    requires java.naming; // issue19-certbot: TXT lookups (JNDI DNS) for the DNS-01 propagation check
    requires org.shredzone.acme4j; // certbot (issue 19)

    exports dev.atlas.dstack.gateway;
    exports dev.atlas.dstack.gateway.certbot;
    exports dev.atlas.dstack.gateway.ct;
    // issue19-certbot: dev.atlas.dstack.gateway.certbot.internal is not exported
}
