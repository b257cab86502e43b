/**
 * The dstack VMM in Java ({@code ../shared/specs/dstack-platform.md} §6.1–§6.4): reads dstack's {@code vmm.toml}
 * unchanged, serves the {@code Vmm} pRPC API (and its legacy {@code Teepod.} prefix), {@code /logs}, the host API
 * for guests and a dashboard, keeps one directory per VM under {@code run_path}, and runs CVMs through a backend:
 * {@code qemu} (TDX hosts) or {@code simulator} (simulated dstack guests as child processes). Netty carries HTTP
 * because dstack's default address is a Unix socket ({@code unix:./vmm.sock}), which the JDK {@code HttpServer}
 * cannot bind. See {@code docs/dstack-vmm.md}.
 */
module dev.atlas.dstack.vmm {
    requires transitive dev.atlas.dstack.ra;
    requires com.fasterxml.jackson.databind;
    requires com.fasterxml.jackson.dataformat.toml;
    requires io.netty.common;
    requires io.netty.buffer;
    requires io.netty.transport;
    requires io.netty.codec;
    requires io.netty.codec.http;
    requires io.netty.handler;
    requires java.net.http;

    exports dev.atlas.dstack.vmm;
}
