/** Implementation of the certbot (not exported): DNS TXT client, Cloudflare JSON, ACME HTTP trust, file layout. */
package dev.atlas.dstack.gateway.certbot.internal;
