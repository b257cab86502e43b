/**
 * The certificate-transparency monitor (spec §4): every certificate that the CT logs hold for a gateway's
 * domain must carry a key that the gateway attested ({@code /acme-info}), verified in-process, from the
 * gateway app the operator expects. See {@code docs/dstack-ct-monitor.md}.
 */
package dev.atlas.dstack.gateway.ct;
