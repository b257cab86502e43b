package dev.atlas.dstack.gateway;

/** The gateway's listeners (skeleton; issue18-core fills it in). */
public final class GatewayServer {
    private GatewayServer() {}
}
