/**
 * dstack's simulated guest OS, part 1: {@link dev.atlas.dstack.simulator.GuestAgentSimulator}, a guest agent
 * that serves the whole {@code DstackGuest} API (plus the legacy {@code Tappd} paths and the redacted
 * {@code Worker} service) over HTTP/1.1 on Unix sockets and TCP, from dstack's own simulator files or a seed,
 * with quotes signed by atlas-testing's mock Intel PKI. A dev/test-support module (like
 * {@code atlas-server-testing}): never a dependency of a library.
 */
module dev.atlas.dstack.simulator {
    requires transitive dev.atlas.dstack.ra;
    requires transitive dev.atlas.testing;
    requires com.fasterxml.jackson.databind;
    requires org.bouncycastle.provider;
    requires io.netty.common;
    requires io.netty.buffer;
    requires io.netty.transport;
    requires io.netty.codec;
    requires io.netty.codec.http;
    requires io.netty.handler;

    exports dev.atlas.dstack.simulator;
}
