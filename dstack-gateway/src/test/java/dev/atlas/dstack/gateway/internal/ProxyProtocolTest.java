package dev.atlas.dstack.gateway.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Optional;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/** PROXY v1/v2: dstack's {@code pp.rs} test vectors, the bounds, and one-mutation refusals. */
class ProxyProtocolTest {
    private static final byte[] V1 = "PROXY TCP4 1.2.3.4 5.6.7.8 11111 22222\r\n".getBytes(StandardCharsets.US_ASCII);

    static byte[] v2Ipv4() {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.writeBytes(ProxyProtocol.V2_SIGNATURE);
        b.writeBytes(new byte[] {0x21, 0x11, 0x00, 0x0c, 1, 2, 3, 4, 5, 6, 7, 8});
        b.writeBytes(new byte[] {(byte) (11111 >> 8), (byte) 11111, (byte) (22222 >> 8), (byte) 22222});
        return b.toByteArray();
    }

    private static InetSocketAddress sa(String ip, int port) {
        return new InetSocketAddress(InetAddress.ofLiteral(ip), port);
    }

    @Test
    void parsesDstacksV1Vector() throws Exception {
        ProxyProtocol.Header h = ProxyProtocol.parseExactly(V1);
        assertEquals(1, h.version());
        assertEquals(Optional.of(sa("1.2.3.4", 11111)), h.source());
        assertEquals(Optional.of(sa("5.6.7.8", 22222)), h.destination());
        assertArrayEquals(V1, ProxyProtocol.encode(h));
    }

    @Test
    void parsesDstacksV2Vector() throws Exception {
        ProxyProtocol.Header h = ProxyProtocol.parseExactly(v2Ipv4());
        assertEquals(2, h.version());
        assertEquals(Optional.of(sa("1.2.3.4", 11111)), h.source());
        assertEquals(Optional.of(sa("5.6.7.8", 22222)), h.destination());
        assertArrayEquals(v2Ipv4(), ProxyProtocol.encode(h));
    }

    @Test
    void v1Ipv6AndUnknown() throws Exception {
        byte[] v6 = "PROXY TCP6 2001:db8::1 ::1 1 65535\r\n".getBytes(StandardCharsets.US_ASCII);
        ProxyProtocol.Header h = ProxyProtocol.parseExactly(v6);
        assertEquals(Optional.of(sa("2001:db8::1", 1)), h.source());
        assertEquals(h, ProxyProtocol.parseExactly(ProxyProtocol.encode(h)));
        ProxyProtocol.Header u = ProxyProtocol.parseExactly("PROXY UNKNOWN ffff::1 x y z\r\n".getBytes());
        assertTrue(u.source().isEmpty());
        assertEquals("PROXY UNKNOWN\r\n", new String(ProxyProtocol.encode(u), StandardCharsets.US_ASCII));
    }

    @Test
    void v2LocalUnspecAndTlvs() throws Exception {
        byte[] local = Arrays.copyOf(ProxyProtocol.V2_SIGNATURE, 16);
        local[12] = 0x20;
        ProxyProtocol.Header h = ProxyProtocol.parseExactly(local);
        assertTrue(h.local());
        assertArrayEquals(local, ProxyProtocol.encode(h));
        // TLVs after the addresses are read past and not forwarded
        byte[] withTlv = Arrays.copyOf(v2Ipv4(), v2Ipv4().length + 4);
        withTlv[15] = 16;
        withTlv[withTlv.length - 4] = 0x04; // PP2_TYPE_NOOP, length 1
        withTlv[withTlv.length - 2] = 1;
        ProxyProtocol.Header t = ProxyProtocol.parseExactly(withTlv);
        assertArrayEquals(v2Ipv4(), ProxyProtocol.encode(t));
    }

    @Test
    void incrementalNeedsTheWholeHeader() throws Exception {
        for (byte[] whole : new byte[][] {V1, v2Ipv4()}) {
            byte[] withData = Arrays.copyOf(whole, whole.length + 5);
            for (int n = 0; n < whole.length; n++) {
                assertTrue(ProxyProtocol.parse(withData, n).isEmpty(), "complete after " + n);
            }
            assertEquals(whole.length, ProxyProtocol.parse(withData, withData.length).get().length());
        }
    }

    @Test
    void dstacksRefusals() {
        RaException none = assertThrows(RaException.class,
                () -> ProxyProtocol.parse("GET / HTTP/1.1\r\n".getBytes(), 16));
        assertEquals("proxy_header: no valid proxy protocol header detected", none.detail());
        byte[] noTerm = ("PROXY" + "A".repeat(ProxyProtocol.V1_MAX)).getBytes();
        RaException v1 = assertThrows(RaException.class, () -> ProxyProtocol.parse(noTerm, noTerm.length));
        assertTrue(v1.detail().contains("v1 terminator not found"), v1.detail());
        byte[] big = Arrays.copyOf(ProxyProtocol.V2_SIGNATURE, 16);
        big[12] = 0x21;
        big[13] = 0x11;
        big[14] = (byte) (ProxyProtocol.V2_MAX >> 8);
        big[15] = (byte) ProxyProtocol.V2_MAX;
        RaException v2 = assertThrows(RaException.class, () -> ProxyProtocol.parse(big, big.length));
        assertTrue(v2.detail().contains("too long"), v2.detail());
        assertEquals(Reason.TOO_LARGE, v2.raReason());
    }

    @Test
    void aTlsRecordIsNotAProxyHeader() {
        byte[] hello = Hellos.hello("a.b");
        assertEquals(Reason.WRONG_TYPE, assertThrows(RaException.class,
                () -> ProxyProtocol.parse(hello, 1)).raReason());
    }

    @Test
    void oneMutationV1Refusals() {
        String[] bad = {
                "PROXY TCP4 1.2.3.4 5.6.7.8 11111 22222 x\r\n",
                "PROXY TCP4 1.2.3.4  5.6.7.8 11111 22222\r\n",
                "PROXY TCP4 1.2.3.256 5.6.7.8 11111 22222\r\n",
                "PROXY TCP4 1.2.3 5.6.7.8 11111 22222\r\n",
                "PROXY TCP4 ::1 5.6.7.8 11111 22222\r\n",
                "PROXY TCP6 1.2.3.4 ::1 11111 22222\r\n",
                "PROXY TCP4 1.2.3.4 5.6.7.8 65536 22222\r\n",
                "PROXY TCP4 1.2.3.4 5.6.7.8 -1 22222\r\n",
                "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
                "PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n",
                "PROXY TCP4 1.2.3.4 5.6.7.8 1\t2\r\n",
        };
        for (String s : bad) {
            byte[] b = s.getBytes(StandardCharsets.US_ASCII);
            assertThrows(RaException.class, () -> ProxyProtocol.parseExactly(b), s);
        }
    }

    @Test
    void oneMutationV2Refusals() {
        byte[] version = v2Ipv4();
        version[12] = 0x11;
        assertEquals(Reason.UNKNOWN_VERSION, assertThrows(RaException.class,
                () -> ProxyProtocol.parseExactly(version)).raReason());
        byte[] command = v2Ipv4();
        command[12] = 0x22;
        assertEquals(Reason.UNKNOWN_VARIANT, assertThrows(RaException.class,
                () -> ProxyProtocol.parseExactly(command)).raReason());
        byte[] family = v2Ipv4();
        family[13] = 0x41;
        assertEquals(Reason.UNKNOWN_VARIANT, assertThrows(RaException.class,
                () -> ProxyProtocol.parseExactly(family)).raReason());
        byte[] shortBlock = v2Ipv4();
        shortBlock[13] = 0x21; // IPv6 needs 36 bytes, the block has 12
        assertEquals(Reason.BAD_LENGTH, assertThrows(RaException.class,
                () -> ProxyProtocol.parseExactly(shortBlock)).raReason());
        byte[] signature = v2Ipv4();
        signature[11] = 0x0B;
        assertEquals(Reason.WRONG_TYPE, assertThrows(RaException.class,
                () -> ProxyProtocol.parseExactly(signature)).raReason());
    }

    @Test
    void synthesizedFromTheConnection() throws Exception {
        ProxyProtocol.Header h = ProxyProtocol.fromConnection(sa("10.1.2.3", 4000), sa("10.0.0.1", 443));
        assertEquals(h, ProxyProtocol.parseExactly(ProxyProtocol.encode(h)));
        ProxyProtocol.Header mixed = ProxyProtocol.fromConnection(sa("10.1.2.3", 4000), sa("::1", 443));
        assertTrue(mixed.source().isEmpty());
    }

    @Property(tries = 200)
    void v2EncodeParseRoundTrip(@ForAll @IntRange(max = 255) int a, @ForAll @IntRange(max = 255) int b,
            @ForAll @IntRange(max = 65535) int sport, @ForAll @IntRange(max = 65535) int dport,
            @ForAll boolean v6, @ForAll boolean v1) throws Exception {
        InetSocketAddress s = v6 ? sa("2001:db8::" + Integer.toHexString(a), sport) : sa("10." + a + ".0." + b, sport);
        InetSocketAddress d = v6 ? sa("fd00::" + Integer.toHexString(b), dport) : sa("192.168." + b + "." + a, dport);
        ProxyProtocol.Header h = new ProxyProtocol.Header(v1 ? 1 : 2, false, ProxyProtocol.Transport.STREAM,
                Optional.of(s), Optional.of(d));
        assertEquals(h, ProxyProtocol.parseExactly(ProxyProtocol.encode(h)));
    }
}
