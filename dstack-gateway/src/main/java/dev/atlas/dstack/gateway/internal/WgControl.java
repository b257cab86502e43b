package dev.atlas.dstack.gateway.internal;

import dev.atlas.dstack.ra.RaException;
import java.net.Inet4Address;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The gateway's side of WireGuard ({@code ../shared/specs/dstack-platform.md} §3.3 step 6, §3.7): the peer set
 * (one peer per registered instance, {@code AllowedIPs = <client ip>/32}) and the latest handshake per peer,
 * which the load balancer uses as the health signal (§3.4).
 *
 * <p>Implementations: {@link WgTools} (a real interface driven with {@code ip} and {@code wg}) and
 * {@link LoopbackTransport} (insecure, development only: no interface, every peer counts as handshaken now).
 * Thread-safe: {@link #apply} may be called from registration threads while the load balancer reads
 * {@link #latestHandshakes()}.
 */
public interface WgControl extends AutoCloseable {

    /**
     * One WireGuard peer of the gateway: a registered instance's public key and its client IP.
     *
     * @param publicKey base64 WireGuard public key (44 characters, 32 bytes)
     * @param clientIp  the instance's address inside the tunnel ({@code AllowedIPs = clientIp/32})
     */
    record Peer(String publicKey, Inet4Address clientIp) {
        public Peer {
            Objects.requireNonNull(publicKey, "publicKey");
            Objects.requireNonNull(clientIp, "clientIp");
        }
    }

    /**
     * Makes the interface's peer set exactly {@code peers} (added, updated, removed), as dstack's
     * {@code wg syncconf} of the re-rendered config does.
     *
     * @throws RaException when a tool fails (the message names the command, its exit status and its stderr)
     */
    void applyPeers(List<Peer> peers) throws RaException;

    /**
     * The contract's form of {@link #applyPeers}: one peer per registered instance (its public key and client IP).
     */
    default void apply(List<Instance> instances) throws RaException {
        List<Peer> peers = new java.util.ArrayList<>(instances.size());
        for (Instance i : instances) {
            peers.add(new Peer(i.publicKey(), i.clientIp()));
        }
        applyPeers(peers);
    }

    /**
     * The gateway's transport from its config: {@link LoopbackTransport} with {@code [core.debug]
     * insecure_loopback_transport} (logs its WARNING), else {@link WgTools#start} on {@code [core.wg]} (the interface
     * created if missing, the private key and listen port installed, no peers yet).
     */
    static WgControl fromConfig(dev.atlas.dstack.gateway.GatewayConfig config, java.time.Clock clock)
            throws RaException {
        if (config.debug().insecureLoopbackTransport()) {
            return new LoopbackTransport(clock);
        }
        dev.atlas.dstack.gateway.GatewayConfig.Wg wg = config.wg();
        return WgTools.start(new WgTools.Settings(wg.iface(), wg.privateKey(), wg.listenPort(), wg.ip().address(),
                wg.ip().prefix(), wg.configPath(), java.util.Optional.empty()));
    }

    /**
     * The latest handshake of every peer that has one (key: base64 public key). Peers that never completed a
     * handshake are absent.
     */
    Map<String, Instant> latestHandshakes() throws RaException;

    /** Releases what the implementation created (an interface it added, a wireguard-go process). Idempotent. */
    @Override
    void close();
}
