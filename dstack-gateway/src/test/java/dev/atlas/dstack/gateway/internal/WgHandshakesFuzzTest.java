package dev.atlas.dstack.gateway.internal;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.atlas.dstack.ra.RaException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * Jazzer target: the {@code wg show <iface> latest-handshakes} parser and the config renderer fed the same bytes as
 * a peer key. Only {@link RaException} {@code WG_INVALID} with a field may escape; a parsed map holds only keys of
 * 32 bytes and instants after the epoch; a rendered config holds only the template's lines (a key never injects
 * a line).
 */
class WgHandshakesFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI. */
    public static void fuzzerTestOneInput(byte[] data) {
        String s = new String(data, StandardCharsets.UTF_8);
        try {
            Map<String, Instant> m = WgTools.parseHandshakes(s);
            for (Map.Entry<String, Instant> e : m.entrySet()) {
                WgTools.checkKey(e.getKey(), "parsed key", true);
                if (!e.getValue().isAfter(Instant.EPOCH)) {
                    throw new AssertionError("a handshake at or before the epoch was kept");
                }
            }
        } catch (RaException e) {
            check(e);
        }
        try {
            String conf = WgTools.render(WgToolsTest.SK, 51820, List.of(new WgControl.Peer(s, ip(data))));
            for (String line : conf.split("\n", -1)) {
                if (!line.isEmpty() && !line.equals("[Interface]") && !line.equals("[Peer]")
                        && !line.matches("(PrivateKey|PublicKey) = [A-Za-z0-9+/]{43}=|ListenPort = 51820"
                                + "|AllowedIPs = [0-9.]+/32|PersistentKeepalive = 25")) {
                    throw new AssertionError("rendered an unexpected line: " + line);
                }
            }
        } catch (RaException e) {
            check(e);
        }
    }

    private static void check(RaException e) {
        if (e.raReason() != RaException.Reason.WG_INVALID || e.field() == null) {
            throw new AssertionError("unexpected refusal " + e.raReason() + " / " + e.field());
        }
    }

    private static Inet4Address ip(byte[] data) {
        byte[] a = {10, 4, 0, 2};
        for (int i = 0; i < Math.min(2, data.length); i++) {
            a[2 + i] = data[i];
        }
        try {
            return (Inet4Address) InetAddress.getByAddress(a);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }
}
