package dev.atlas.dstack.gateway.internal;

import dev.atlas.dstack.ra.RaException;

/**
 * The "this node" content (§3.6) the proxy serves on {@code gateway.<zt-domain>}; issue18-core implements it.
 */
public interface ThisNode {
    /** {@code /index}: {@code {"type":"dstack gateway","paths":["/index","/app-info","/acme-info"]}}. */
    String indexJson();

    /** {@code /app-info}: the gateway's own {@code Info} from its guest agent. */
    String appInfoJson() throws RaException;

    /** {@code /acme-info}: {@code AcmeInfoResponse} JSON. */
    String acmeInfoJson() throws RaException;
}
