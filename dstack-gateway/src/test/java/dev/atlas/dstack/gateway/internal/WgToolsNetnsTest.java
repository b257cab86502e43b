package dev.atlas.dstack.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real WireGuard: the gateway's interface made by {@link WgTools} in this host's namespace, a CVM side configured by
 * hand with {@code wg}/{@code ip} in a namespace the test creates (veth pair), then HTTP over the tunnel to a backend
 * in the namespace listening on the client IP, and the handshake visible in {@code latest-handshakes}. Skips with a
 * message where the host cannot (not root, no netns, no TUN, no wg).
 */
class WgToolsNetnsTest {

    @Test
    void gatewayInterfaceCarriesTrafficToAPeerInANamespace(@TempDir Path dir) throws Exception {
        Optional<String> missing = NetnsFixture.unavailable();
        assumeTrue(missing.isEmpty(), () -> "real WireGuard test skipped: " + missing.orElse(""));
        try (NetnsFixture ns = NetnsFixture.create()) {
            String gwIface = "wgt" + ns.suffix;
            ns.alsoRemoveLink(gwIface);
            String gwSk = NetnsFixture.run(List.of("wg", "genkey")).strip();
            String gwPk = NetnsFixture.run(List.of("wg", "pubkey"), gwSk + "\n").strip();
            String cvmSk = NetnsFixture.run(List.of("wg", "genkey")).strip();
            String cvmPk = NetnsFixture.run(List.of("wg", "pubkey"), cvmSk + "\n").strip();
            int gwPort = 40000 + Integer.parseInt(ns.suffix, 16) % 20000;
            Path conf = dir.resolve("wg/" + gwIface + ".conf");
            WgTools gw = WgTools.start(new WgTools.Settings(gwIface, gwSk, gwPort,
                    (Inet4Address) InetAddress.getByName(ns.wgIp(1)), 24, conf, Optional.empty()));
            assertThat(gw.mode()).isIn("kernel", "wireguard-go");
            Inet4Address clientIp = (Inet4Address) InetAddress.getByName(ns.wgIp(2));
            gw.applyPeers(List.of(new WgControl.Peer(cvmPk, clientIp)));
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(conf))).isEqualTo("rw-------");
            assertThat(NetnsFixture.run(List.of("wg", "show", gwIface, "peers")).strip()).isEqualTo(cvmPk);
            assertThat(gw.latestHandshakes()).isEmpty();

            // the CVM side, by hand (the simulated CVM's GatewayBoot does the same steps)
            String cvmIface = "wgc" + ns.suffix;
            try {
                ns.inNs(List.of("ip", "link", "add", cvmIface, "type", "wireguard"));
            } catch (java.io.IOException noKernelModule) {
                ns.inNs(List.of("wireguard-go", cvmIface));
            }
            ns.inNs(List.of("wg", "setconf", cvmIface, "/dev/stdin"), "[Interface]\nPrivateKey = " + cvmSk
                    + "\nListenPort = 9182\n\n[Peer]\nPublicKey = " + gwPk + "\nAllowedIPs = " + ns.wgIp(1)
                    + "/32\nEndpoint = " + ns.hostIp() + ":" + gwPort + "\nPersistentKeepalive = 25\n");
            ns.inNs(List.of("ip", "address", "add", clientIp.getHostAddress() + "/32", "dev", cvmIface));
            ns.inNs(List.of("ip", "link", "set", cvmIface, "up"));
            ns.inNs(List.of("ip", "route", "replace", ns.wgIp(1) + "/32", "dev", cvmIface));

            Path www = Files.createDirectories(dir.resolve("www"));
            Files.writeString(www.resolve("hello.txt"), "hello through wireguard\n");
            int port = ns.startHttpBackend(clientIp.getHostAddress(), www);

            String body = httpGet(new InetSocketAddress(clientIp, port), "/hello.txt");
            assertThat(body).contains("200").endsWith("hello through wireguard\n");
            assertThat(gw.latestHandshakes()).containsOnlyKeys(cvmPk);

            // removing the peer from the gateway cuts the tunnel: syncconf drops it
            gw.applyPeers(List.of());
            assertThat(NetnsFixture.run(List.of("wg", "show", gwIface, "peers")).strip()).isEmpty();
            assertThat(gw.latestHandshakes()).isEmpty();
            gw.removeInterface();
            assertThat(NetnsFixture.run(List.of("ip", "-o", "link", "show")).contains(gwIface + ":")).isFalse();
        }
    }

    /** One HTTP/1.0 GET over a plain socket (connect timeout 5 s: the handshake happens on the first packet). */
    static String httpGet(InetSocketAddress a, String path) throws Exception {
        try (Socket s = new Socket()) {
            s.connect(a, 5000);
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            out.write(("GET " + path + " HTTP/1.0\r\nHost: backend\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
