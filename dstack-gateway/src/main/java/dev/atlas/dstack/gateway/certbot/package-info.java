/**
 * The certbot (spec §3.9): ACME DNS-01 certificates through the Cloudflare API, CAA pinning to one ACME
 * account, the standalone {@code certbot.toml} workflow ({@code atlas certbot}) and the issuer the gateway uses
 * for its ZT-domains. ACME itself is acme4j's. See {@code docs/dstack-certbot.md}.
 */
package dev.atlas.dstack.gateway.certbot;
