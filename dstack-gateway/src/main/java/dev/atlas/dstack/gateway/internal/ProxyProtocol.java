package dev.atlas.dstack.gateway.internal;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;

/**
 * The HAProxy PROXY protocol, versions 1 (text) and 2 (binary), as dstack's {@code pp.rs} uses it: read in front of
 * every inbound connection when {@code inbound_pp_enabled} (an outer load balancer tells us the client), and
 * written in front of the first byte to a backend whose port policy asks for it ({@link Backend#proxyProtocol()}):
 * the inbound header as received (re-encoded in its version), or, without inbound PROXY, a v2 header made from the
 * TCP peer and local addresses.
 *
 * <p>Bounds, as dstack: a v1 line ends with CRLF within 107 bytes, a v2 header is at most 2048 bytes (16-byte
 * fixed part included). Stricter than dstack's crate where the specification is explicit: v1 has single spaces,
 * dotted-quad IPv4 / IPv6 literals matching {@code TCP4}/{@code TCP6}, ports 0..65535 without sign; v2 has version
 * 2, command LOCAL or PROXY, a known family, and an address block at least as long as its family needs (TLVs after
 * it are skipped and not forwarded). AF_UNIX addresses are accepted and forwarded as UNSPEC.
 */
public final class ProxyProtocol {
    /** Longest v1 line, CRLF included (the specification's 107). */
    public static final int V1_MAX = 107;
    /** Longest v2 header (dstack's {@code V2_MAX_LENGTH}). */
    public static final int V2_MAX = 2048;

    static final byte[] V1_PREFIX = "PROXY".getBytes(StandardCharsets.US_ASCII);
    static final byte[] V2_SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    private static final int V2_FIXED = 16;

    /** dstack's text when neither signature matches. */
    public static final String ERR_NO_HEADER = "no valid proxy protocol header detected";

    private ProxyProtocol() {}

    /** TCP or UDP over the addresses (v2's transport nibble; v1 is always TCP). */
    public enum Transport { UNSPEC, STREAM, DGRAM }

    /**
     * One PROXY header.
     *
     * @param version     1 or 2
     * @param local       v2 LOCAL command (health checks of the balancer itself; no addresses); v1 UNKNOWN is
     *                    {@code local = false} with no addresses
     * @param transport   stream or datagram ({@code UNSPEC} without addresses)
     * @param source      the client, when the header names one
     * @param destination the address the client connected to, when the header names one
     */
    public record Header(int version, boolean local, Transport transport, Optional<InetSocketAddress> source,
            Optional<InetSocketAddress> destination) {
        public Header {
            if (version != 1 && version != 2) {
                throw new IllegalArgumentException("PROXY version must be 1 or 2: " + version);
            }
            Objects.requireNonNull(transport, "transport");
            Objects.requireNonNull(source, "source");
            Objects.requireNonNull(destination, "destination");
            if (source.isPresent() != destination.isPresent()) {
                throw new IllegalArgumentException("PROXY source and destination go together");
            }
            if (source.isPresent() && (source.get().getAddress() instanceof Inet4Address)
                    != (destination.get().getAddress() instanceof Inet4Address)) {
                throw new IllegalArgumentException("PROXY source and destination of different families");
            }
        }

        /** For logs: the client address, {@code <unknown>} or {@code <local>}. */
        public String display() {
            if (local) {
                return "<local>";
            }
            return source.map(s -> s.getAddress().getHostAddress() + ":" + s.getPort()).orElse("<unknown>");
        }
    }

    /** A parsed header and how many bytes of the input it took. */
    public record Parsed(Header header, int length) {}

    /** A v2 PROXY header for a TCP connection from {@code source} to {@code destination} (UNSPEC when the families
     * differ), as dstack synthesizes when {@code inbound_pp_enabled} is off. */
    public static Header fromConnection(InetSocketAddress source, InetSocketAddress destination) {
        if (source == null || destination == null || source.isUnresolved() || destination.isUnresolved()
                || (source.getAddress() instanceof Inet4Address) != (destination.getAddress() instanceof Inet4Address)) {
            return new Header(2, false, Transport.UNSPEC, Optional.empty(), Optional.empty());
        }
        return new Header(2, false, Transport.STREAM, Optional.of(source), Optional.of(destination));
    }

    /**
     * Parses a header at the start of {@code length} buffered bytes.
     *
     * @return the header once complete, empty while more bytes are needed (never more than {@link #V2_MAX})
     * @throws RaException {@code WRONG_TYPE} ({@value #ERR_NO_HEADER}), {@code TOO_LARGE} (v1 without CRLF
     *     within 107 bytes, v2 longer than 2048), {@code UNKNOWN_VERSION}, {@code UNKNOWN_VARIANT} (command,
     *     family, v1 protocol), {@code BAD_LENGTH}, {@code INVALID_ARGUMENT} (an address or port)
     */
    public static Optional<Parsed> parse(byte[] buf, int length) throws RaException {
        Objects.checkFromIndexSize(0, length, buf.length);
        if (length == 0) {
            return Optional.empty();
        }
        if (buf[0] == 'P') {
            int n = Math.min(length, V1_PREFIX.length);
            if (!Arrays.equals(buf, 0, n, V1_PREFIX, 0, n)) {
                throw fail(Reason.WRONG_TYPE, "proxy_header", ERR_NO_HEADER);
            }
            return length < V1_PREFIX.length ? Optional.empty() : parseV1(buf, length);
        }
        int n = Math.min(length, V2_SIGNATURE.length);
        if (!Arrays.equals(buf, 0, n, V2_SIGNATURE, 0, n)) {
            throw fail(Reason.WRONG_TYPE, "proxy_header", ERR_NO_HEADER);
        }
        if (length < V2_FIXED) {
            return Optional.empty();
        }
        return parseV2(buf, length);
    }

    /**
     * Parses a whole input that must be exactly one header (tests, fuzzing).
     *
     * @throws RaException as {@link #parse}, {@code TRUNCATED} when incomplete, {@code TRAILING_BYTES} after it
     */
    public static Header parseExactly(byte[] input) throws RaException {
        Optional<Parsed> p = parse(input, input.length);
        if (p.isEmpty()) {
            throw fail(Reason.TRUNCATED, "proxy_header", "input ends inside the header (" + input.length + " bytes)");
        }
        if (p.get().length() != input.length) {
            throw fail(Reason.TRAILING_BYTES, "proxy_header", (input.length - p.get().length())
                    + " bytes after the header");
        }
        return p.get().header();
    }

    private static Optional<Parsed> parseV1(byte[] buf, int length) throws RaException {
        int limit = Math.min(length, V1_MAX);
        int end = -1;
        for (int i = 1; i < limit; i++) {
            if (buf[i - 1] == '\r' && buf[i] == '\n') {
                end = i + 1;
                break;
            }
        }
        if (end < 0) {
            if (length >= V1_MAX) {
                throw fail(Reason.TOO_LARGE, "proxy_header.v1",
                        ERR_NO_HEADER + " (v1 terminator not found within " + V1_MAX + " bytes)");
            }
            return Optional.empty();
        }
        for (int i = 0; i < end - 2; i++) {
            int b = buf[i] & 0xFF;
            if (b < 0x20 || b > 0x7E) {
                throw fail(Reason.INVALID_ARGUMENT, "proxy_header.v1", "non-printable byte 0x"
                        + Integer.toHexString(b) + " at offset " + i);
            }
        }
        String line = new String(buf, 0, end - 2, StandardCharsets.US_ASCII);
        String[] parts = line.split(" ", -1);
        if (parts.length < 2 || !parts[0].equals("PROXY")) {
            throw fail(Reason.WRONG_TYPE, "proxy_header.v1", ERR_NO_HEADER);
        }
        switch (parts[1]) {
            case "UNKNOWN" -> {
                return Optional.of(new Parsed(new Header(1, false, Transport.UNSPEC, Optional.empty(),
                        Optional.empty()), end));
            }
            case "TCP4", "TCP6" -> {
                if (parts.length != 6) {
                    throw fail(Reason.BAD_LENGTH, "proxy_header.v1", "expected 6 space-separated fields, got "
                            + parts.length);
                }
                boolean v4 = parts[1].equals("TCP4");
                InetAddress src = v1Address(parts[2], v4, "source_address");
                InetAddress dst = v1Address(parts[3], v4, "destination_address");
                int sport = v1Port(parts[4], "source_port");
                int dport = v1Port(parts[5], "destination_port");
                return Optional.of(new Parsed(new Header(1, false, Transport.STREAM,
                        Optional.of(new InetSocketAddress(src, sport)), Optional.of(new InetSocketAddress(dst, dport))),
                        end));
            }
            default -> throw fail(Reason.UNKNOWN_VARIANT, "proxy_header.v1.protocol",
                    "expected TCP4, TCP6 or UNKNOWN, got \"" + parts[1] + "\"");
        }
    }

    private static InetAddress v1Address(String s, boolean v4, String field) throws RaException {
        if (v4) {
            String[] octets = s.split("\\.", -1);
            if (octets.length != 4) {
                throw fail(Reason.INVALID_ARGUMENT, "proxy_header.v1." + field, "not a dotted-quad IPv4 address: "
                        + s);
            }
            byte[] a = new byte[4];
            for (int i = 0; i < 4; i++) {
                String o = octets[i];
                if (o.isEmpty() || o.length() > 3 || !o.chars().allMatch(c -> c >= '0' && c <= '9')
                        || Integer.parseInt(o) > 255) {
                    throw fail(Reason.INVALID_ARGUMENT, "proxy_header.v1." + field,
                            "not a dotted-quad IPv4 address: " + s);
                }
                a[i] = (byte) Integer.parseInt(o);
            }
            try {
                return InetAddress.getByAddress(a);
            } catch (java.net.UnknownHostException e) {
                throw new IllegalStateException(e);
            }
        }
        if (s.indexOf(':') < 0 || s.length() > 45 || s.indexOf('%') >= 0) {
            throw fail(Reason.INVALID_ARGUMENT, "proxy_header.v1." + field, "not an IPv6 address: " + s);
        }
        try {
            return Inet6Address.ofLiteral(s);
        } catch (IllegalArgumentException e) {
            throw fail(Reason.INVALID_ARGUMENT, "proxy_header.v1." + field, "not an IPv6 address: " + s);
        }
    }

    private static int v1Port(String s, String field) throws RaException {
        if (s.isEmpty() || s.length() > 5 || !s.chars().allMatch(c -> c >= '0' && c <= '9')
                || Integer.parseInt(s) > 0xFFFF) {
            throw fail(Reason.INVALID_ARGUMENT, "proxy_header.v1." + field, "not a port 0..65535: " + s);
        }
        return Integer.parseInt(s);
    }

    private static Optional<Parsed> parseV2(byte[] buf, int length) throws RaException {
        int verCmd = buf[12] & 0xFF;
        int famProto = buf[13] & 0xFF;
        int addrLen = ((buf[14] & 0xFF) << 8) | (buf[15] & 0xFF);
        int total = V2_FIXED + addrLen;
        if (total > V2_MAX) {
            throw fail(Reason.TOO_LARGE, "proxy_header.v2.length",
                    "v2 proxy protocol header is too long (" + total + " > " + V2_MAX + " bytes)");
        }
        if ((verCmd >> 4) != 2) {
            throw fail(Reason.UNKNOWN_VERSION, "proxy_header.v2.version", "expected 2, got " + (verCmd >> 4));
        }
        int cmd = verCmd & 0x0F;
        if (cmd > 1) {
            throw fail(Reason.UNKNOWN_VARIANT, "proxy_header.v2.command", "expected LOCAL (0) or PROXY (1), got "
                    + cmd);
        }
        int family = famProto >> 4;
        int proto = famProto & 0x0F;
        if (family > 3 || proto > 2) {
            throw fail(Reason.UNKNOWN_VARIANT, "proxy_header.v2.family",
                    "unknown address family/protocol 0x" + Integer.toHexString(famProto));
        }
        int need = switch (family) {
            case 1 -> 12;
            case 2 -> 36;
            case 3 -> 216;
            default -> 0;
        };
        if (addrLen < need) {
            throw fail(Reason.BAD_LENGTH, "proxy_header.v2.length", "address block of " + addrLen
                    + " bytes, family 0x" + Integer.toHexString(famProto) + " needs " + need);
        }
        if (length < total) {
            return Optional.empty();
        }
        boolean local = cmd == 0;
        Transport transport = proto == 1 ? Transport.STREAM : proto == 2 ? Transport.DGRAM : Transport.UNSPEC;
        if (local || family == 0 || family == 3 || proto == 0) {
            return Optional.of(new Parsed(new Header(2, local, Transport.UNSPEC,
                    Optional.empty(), Optional.empty()), total));
        }
        int alen = family == 1 ? 4 : 16;
        byte[] s = Arrays.copyOfRange(buf, V2_FIXED, V2_FIXED + alen);
        byte[] d = Arrays.copyOfRange(buf, V2_FIXED + alen, V2_FIXED + 2 * alen);
        int p = V2_FIXED + 2 * alen;
        int sport = ((buf[p] & 0xFF) << 8) | (buf[p + 1] & 0xFF);
        int dport = ((buf[p + 2] & 0xFF) << 8) | (buf[p + 3] & 0xFF);
        try {
            return Optional.of(new Parsed(new Header(2, false, transport,
                    Optional.of(new InetSocketAddress(InetAddress.getByAddress(s), sport)),
                    Optional.of(new InetSocketAddress(InetAddress.getByAddress(d), dport))), total));
        } catch (java.net.UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The header's bytes in its own version (v2 without TLVs). */
    public static byte[] encode(Header h) {
        if (h.version() == 1) {
            String line;
            if (h.source().isEmpty()) {
                line = "PROXY UNKNOWN\r\n";
            } else {
                InetSocketAddress s = h.source().get();
                InetSocketAddress d = h.destination().get();
                boolean v4 = s.getAddress() instanceof Inet4Address;
                line = "PROXY " + (v4 ? "TCP4 " : "TCP6 ") + text(s.getAddress()) + " " + text(d.getAddress()) + " "
                        + s.getPort() + " " + d.getPort() + "\r\n";
            }
            return line.getBytes(StandardCharsets.US_ASCII);
        }
        if (h.source().isEmpty()) {
            byte[] out = Arrays.copyOf(V2_SIGNATURE, V2_FIXED);
            out[12] = (byte) (h.local() ? 0x20 : 0x21);
            out[13] = 0x00;
            return out;
        }
        InetSocketAddress s = h.source().get();
        InetSocketAddress d = h.destination().get();
        byte[] sa = s.getAddress().getAddress();
        byte[] da = d.getAddress().getAddress();
        int family = sa.length == 4 ? 1 : 2;
        int proto = h.transport() == Transport.DGRAM ? 2 : 1;
        int addrLen = 2 * sa.length + 4;
        byte[] out = Arrays.copyOf(V2_SIGNATURE, V2_FIXED + addrLen);
        out[12] = (byte) (h.local() ? 0x20 : 0x21);
        out[13] = (byte) ((family << 4) | proto);
        out[14] = (byte) (addrLen >> 8);
        out[15] = (byte) addrLen;
        System.arraycopy(sa, 0, out, V2_FIXED, sa.length);
        System.arraycopy(da, 0, out, V2_FIXED + sa.length, da.length);
        int p = V2_FIXED + 2 * sa.length;
        out[p] = (byte) (s.getPort() >> 8);
        out[p + 1] = (byte) s.getPort();
        out[p + 2] = (byte) (d.getPort() >> 8);
        out[p + 3] = (byte) d.getPort();
        return out;
    }

    private static String text(InetAddress a) {
        String t = a.getHostAddress();
        int pct = t.indexOf('%');
        return pct < 0 ? t : t.substring(0, pct);
    }

    private static RaException fail(Reason reason, String field, String message) {
        return new RaException(reason, field, message);
    }
}
