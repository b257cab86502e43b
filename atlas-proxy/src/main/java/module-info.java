/**
 * The WebSocket-to-TCP proxy for browser aTLS clients: it carries the client's TLS bytes to an allowlisted
 * target and never sees plaintext. Drop-in compatible with Atlas's proxy (same environment, same framing).
 */
module dev.atlas.proxy {
    requires org.bouncycastle.provider;
    requires org.bouncycastle.pkix; // PEM private keys (PKCS#8, SEC1, PKCS#1) for wss://
    requires io.netty.common;
    requires io.netty.buffer;
    requires io.netty.transport;
    requires io.netty.transport.classes.epoll;
    requires io.netty.codec;
    requires io.netty.codec.http;
    requires io.netty.handler;
    requires micrometer.core;
    requires micrometer.registry.prometheus;
    requires com.fasterxml.jackson.core;

    exports dev.atlas.proxy;
}
