/**
 * The dstack gateway: {@code GatewayConfig} (dstack's {@code gateway.toml}), {@code GatewayServer} (the proxy,
 * RPC, admin and debug listeners) and the URL grammar ({@code AppAddress}). Implementation in
 * {@code dev.atlas.dstack.gateway.internal}, not exported.
 */
package dev.atlas.dstack.gateway;
