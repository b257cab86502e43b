package dev.atlas.dstack.gateway.internal;

import dev.atlas.dstack.ra.RaException;
import java.net.Inet4Address;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * {@link WgControl} on a real WireGuard interface through the {@code ip} and {@code wg} tools (skeleton; filled in
 * by issue18-wg).
 */
public final class WgTools implements WgControl {

    /**
     * What the gateway's {@code [core.wg]} section says about its own interface.
     *
     * @param iface      {@code interface} (e.g. {@code wg-ds-gw})
     * @param privateKey {@code private_key} (base64; never logged)
     * @param listenPort {@code listen_port}
     * @param address    the host part of {@code ip}
     * @param prefix     the prefix length of {@code ip}
     * @param configPath {@code config_path}: where the rendered config is written (mode 0600)
     * @param netns      run every tool inside this network namespace ({@code ip netns exec}); empty: the current one
     */
    public record Settings(String iface, String privateKey, int listenPort, Inet4Address address, int prefix,
            Path configPath, Optional<String> netns) {
        public Settings {
            Objects.requireNonNull(iface, "iface");
            Objects.requireNonNull(privateKey, "privateKey");
            Objects.requireNonNull(address, "address");
            Objects.requireNonNull(configPath, "configPath");
            Objects.requireNonNull(netns, "netns");
        }

        @Override
        public String toString() {
            return "Settings[iface=" + iface + ", listenPort=" + listenPort + ", address=" + address.getHostAddress()
                    + "/" + prefix + ", configPath=" + configPath + ", netns=" + netns + "]";
        }
    }

    private WgTools() {
    }

    /** Creates the interface if missing, addresses it, brings it up and applies an empty peer set. */
    public static WgTools start(Settings settings) throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }

    @Override
    public void applyPeers(List<Peer> peers) throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }

    @Override
    public Map<String, Instant> latestHandshakes() throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }

    @Override
    public void close() {
    }
}
