package dev.atlas.dstack.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.atlas.dstack.ra.RaException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** WgTools without running a tool: the rendered config, the handshake parser, the key checks, the 0600 write. */
class WgToolsTest {
    static final String SK = key(1);
    static final String PK_A = key(2);
    static final String PK_B = key(3);

    static String key(int fill) {
        byte[] b = new byte[32];
        java.util.Arrays.fill(b, (byte) fill);
        return Base64.getEncoder().encodeToString(b);
    }

    static Inet4Address ip(String s) throws Exception {
        return (Inet4Address) InetAddress.getByName(s);
    }

    @Test
    void rendersDstacksTemplateOnePeerPerInstanceSortedByIp() throws Exception {
        String conf = WgTools.render(SK, 51820, List.of(new WgControl.Peer(PK_B, ip("10.4.0.10")),
                new WgControl.Peer(PK_A, ip("10.4.0.2"))));
        assertThat(conf).isEqualTo("[Interface]\nPrivateKey = " + SK + "\nListenPort = 51820\n"
                + "\n[Peer]\nPublicKey = " + PK_A + "\nAllowedIPs = 10.4.0.2/32\nPersistentKeepalive = 25\n"
                + "\n[Peer]\nPublicKey = " + PK_B + "\nAllowedIPs = 10.4.0.10/32\nPersistentKeepalive = 25\n");
        assertThat(WgTools.render(SK, 9202, List.of())).isEqualTo("[Interface]\nPrivateKey = " + SK
                + "\nListenPort = 9202\n");
    }

    @Test
    void refusesAKeyThatWouldInjectConfigLines() throws Exception {
        String evil = PK_A.substring(0, 40) + "\nEn=";
        assertThatThrownBy(() -> WgTools.render(SK, 1, List.of(new WgControl.Peer(evil, ip("10.4.0.2")))))
                .isInstanceOfSatisfying(RaException.class, e -> {
                    assertThat(e.raReason()).isEqualTo(RaException.Reason.WG_INVALID);
                    assertThat(e.field()).isEqualTo("peer public key");
                });
        assertThatThrownBy(() -> WgTools.render(SK, 1, List.of(new WgControl.Peer(PK_A, ip("10.4.0.2")),
                new WgControl.Peer(PK_A, ip("10.4.0.3"))))).hasMessageContaining("appears twice");
        assertThatThrownBy(() -> WgTools.render(SK, 1, List.of(new WgControl.Peer(PK_A, ip("10.4.0.2")),
                new WgControl.Peer(PK_B, ip("10.4.0.2"))))).hasMessageContaining("10.4.0.2 appears twice");
        // 44 characters of base64, but 31 bytes is not a key; short keys neither
        assertThatThrownBy(() -> WgTools.checkKey("A".repeat(42) + "==", "k", true))
                .hasMessageContaining("not base64 of 32 bytes");
        assertThatThrownBy(() -> WgTools.checkKey("abc", "k", true)).hasMessageContaining("44 characters");
    }

    @Test
    void aBadPrivateKeyIsNamedButNeverShown() {
        String secretish = "s3cr3t-" + "x".repeat(37);
        assertThatThrownBy(() -> WgTools.render(secretish, 1, List.of()))
                .isInstanceOfSatisfying(RaException.class, e -> {
                    assertThat(e.field()).isEqualTo("wg.private_key");
                    assertThat(e.getMessage()).doesNotContain("s3cr3t");
                });
        var s = new WgTools.Settings("wg0", SK, 1, (Inet4Address) InetAddress.getLoopbackAddress(), 24,
                Path.of("/x"), Optional.empty());
        assertThat(s.toString()).doesNotContain(SK);
    }

    @Test
    void parsesLatestHandshakesStrictly() throws Exception {
        Map<String, Instant> m = WgTools.parseHandshakes(PK_A + "\t1730190589\n" + PK_B + "\t0\n");
        assertThat(m).containsExactly(Map.entry(PK_A, Instant.ofEpochSecond(1730190589)));
        assertThat(WgTools.parseHandshakes("")).isEmpty();
        assertThat(WgTools.parseHandshakes(PK_A + "  12\n\n")).containsKey(PK_A);
        assertThatThrownBy(() -> WgTools.parseHandshakes(PK_A + "\t12\textra\n"))
                .hasMessageContaining("line 1").hasMessageContaining("3 fields");
        assertThatThrownBy(() -> WgTools.parseHandshakes(PK_A + "\t-5\n")).hasMessageContaining("out of range");
        assertThatThrownBy(() -> WgTools.parseHandshakes(PK_A + "\tsoon\n")).hasMessageContaining("not a number");
        assertThatThrownBy(() -> WgTools.parseHandshakes(PK_A + "\t1\n" + PK_A + "\t2\n"))
                .hasMessageContaining("line 2").hasMessageContaining("twice");
        assertThatThrownBy(() -> WgTools.parseHandshakes("nokey\t1\n")).hasMessageContaining("not a WireGuard key");
        assertThatThrownBy(() -> WgTools.parseHandshakes("x".repeat(WgTools.MAX_HANDSHAKES_OUTPUT + 1)))
                .hasMessageContaining("larger than");
    }

    @Test
    void writesTheConfigWithMode0600(@TempDir Path dir) throws Exception {
        Path p = dir.resolve("sub/wg-ds-gw.conf");
        WgTools.writePrivate(p, "one");
        WgTools.writePrivate(p, "two");
        assertThat(Files.readString(p)).isEqualTo("two");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(p))).isEqualTo("rw-------");
        try (var files = Files.list(p.getParent())) {
            assertThat(files).containsExactly(p);
        }
    }

    @Test
    void aMissingToolIsNamed() {
        var tools = new WgTools.Tools(Optional.empty(), java.time.Duration.ofSeconds(5));
        assertThatThrownBy(() -> tools.check(List.of("no-such-wg-tool-xyz", "show"), null))
                .isInstanceOfSatisfying(RaException.class, e -> {
                    assertThat(e.raReason()).isEqualTo(RaException.Reason.WG_TOOL_FAILED);
                    assertThat(e.getMessage()).contains("no-such-wg-tool-xyz show").contains("installed?");
                });
        assertThatThrownBy(() -> tools.check(List.of("sh", "-c", "echo boom >&2; exit 3"), null))
                .hasMessageContaining("`sh -c echo boom >&2; exit 3` exited with status 3: boom");
    }

    @Test
    void badSettingsAreRefusedBeforeAnyTool() throws Exception {
        var tools = new WgTools.Tools(Optional.empty(), java.time.Duration.ofSeconds(5));
        var ok = new WgTools.Settings("wg0", SK, 51820, ip("10.4.0.1"), 16, Path.of("/tmp/x"), Optional.empty());
        assertThatThrownBy(() -> WgTools.start(new WgTools.Settings("wg0; rm -rf /", SK, 51820, ip("10.4.0.1"), 16,
                Path.of("/tmp/x"), Optional.empty()), tools)).hasMessageContaining("wg.interface");
        assertThatThrownBy(() -> WgTools.start(new WgTools.Settings("wg0", SK, 0, ip("10.4.0.1"), 16,
                Path.of("/tmp/x"), Optional.empty()), tools)).hasMessageContaining("wg.listen_port");
        assertThatThrownBy(() -> WgTools.start(new WgTools.Settings("wg0", SK, 1, ip("10.4.0.1"), 33,
                Path.of("/tmp/x"), Optional.empty()), tools)).hasMessageContaining("prefix");
        assertThat(ok.iface()).isEqualTo("wg0");
    }

    @Test
    void loopbackTransportCountsEveryPeerHandshakenNow() throws Exception {
        Instant t = Instant.parse("2026-01-01T00:00:00Z");
        LoopbackTransport lt = new LoopbackTransport(Clock.fixed(t, ZoneOffset.UTC));
        lt.applyPeers(List.of(new WgControl.Peer(PK_A, ip("10.4.0.2"))));
        assertThat(lt.latestHandshakes()).containsExactly(Map.entry(PK_A, t));
        assertThat(LoopbackTransport.loopbackAddress(ip("10.4.1.2")).getHostAddress()).isEqualTo("127.4.1.2");
    }
}
