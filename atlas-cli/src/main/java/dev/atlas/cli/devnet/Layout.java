package dev.atlas.cli.devnet;

import java.nio.file.Path;
import java.util.Map;

/**
 * Where everything of a devnet lives inside its directory, and its ports. Unix socket paths must stay under the
 * kernel's 108-byte limit, hence the short names ({@code run/}, {@code vms/}).
 */
record Layout(Path dir, String baseDomain, Map<String, Integer> ports) {
    /** The mock Intel PKI seed shared by every simulated CVM of a devnet (one root, one PCCS). */
    static final long PKI_SEED = 2121;
    /** Longest directory path accepted: the VMM's per-VM sockets ({@code vms/<uuid>/...}) must fit in 107 bytes. */
    static final int MAX_DIR_LENGTH = 48;

    Layout {
        ports = Map.copyOf(ports);
    }

    int port(String name) {
        Integer p = ports.get(name);
        if (p == null) {
            throw new IllegalStateException("no port for " + name);
        }
        return p;
    }

    Path state() { return dir.resolve("devnet.json"); }
    Path logs() { return dir.resolve("logs"); }
    Path log(String component) { return logs().resolve(component + ".log"); }
    Path run() { return dir.resolve("run"); }
    Path pidFile(String component) { return run().resolve(component + ".pid"); }
    Path kmsToml() { return dir.resolve("kms.toml"); }
    Path gatewayToml() { return dir.resolve("gateway.toml"); }
    Path vmmToml() { return dir.resolve("vmm.toml"); }
    Path authConfig() { return dir.resolve("auth-config.json"); }
    Path kmsCompose() { return dir.resolve("kms-compose.json"); }
    Path gatewayCompose() { return dir.resolve("gateway-compose.json"); }
    Path gatewaySysConfig() { return dir.resolve("gateway-sys-config.json"); }
    Path kmsSysConfig() { return dir.resolve("kms-sys-config.json"); }
    Path kmsAgentSocket() { return run().resolve("kms-cvm.sock"); }
    Path gatewayAgentSocket() { return run().resolve("gateway-cvm.sock"); }
    Path kmsCerts() { return dir.resolve("kms-certs"); }
    Path gatewayCerts() { return dir.resolve("gateway-certs"); }
    Path gatewayData() { return dir.resolve("gateway-data"); }
    Path proxyCa() { return gatewayCerts().resolve("proxy-ca.pem"); }
    Path proxyCert() { return gatewayCerts().resolve("proxy-cert.pem"); }
    Path proxyKey() { return gatewayCerts().resolve("proxy-key.pem"); }
    Path mockRoot() { return dir.resolve("mock-intel-root.pem"); }
    Path images() { return dir.resolve("images"); }
    Path vms() { return dir.resolve("vms"); }
    Path apps() { return dir.resolve("apps"); }
    Path appDir(String name) { return apps().resolve(name); }
    Path hosts() { return dir.resolve("hosts"); }
    Path launcher() { return dir.resolve("bin").resolve("atlas"); }
    Path guestLauncher() { return dir.resolve("bin").resolve("simulated-guest"); }

    String pccsUrl() { return "http://127.0.0.1:" + port("pccs"); }
    String authUrl() { return "http://127.0.0.1:" + port("auth"); }
    String kmsUrl() { return "https://127.0.0.1:" + port("kms"); }
    String gatewayRpcUrl() { return "https://127.0.0.1:" + port("gateway-rpc"); }
    String gatewayAdminUrl() { return "http://127.0.0.1:" + port("gateway-admin"); }
    String vmmUrl() { return "http://127.0.0.1:" + port("vmm"); }
    int proxyPort() { return port("gateway-proxy"); }

    /**
     * The second octet of this devnet's WireGuard /16 (10.o.0.0/16, reached at 127.o.c.d over loopback transport):
     * from the proxy port, so two devnets on one host (a user's and a test's) do not hand out the same addresses.
     */
    int subnetOctet() { return 16 + proxyPort() % 224; }

    /** The guide's app URL: {@code https://<id>[-<port>[s|g]].<base>:<proxy port>/} (no port: 80). */
    String appUrl(String id, int port, String suffix) {
        String label = port == 80 && suffix.isEmpty() ? id : id + "-" + port + suffix;
        return "https://" + label + "." + baseDomain + ":" + proxyPort() + "/";
    }
}
