package dev.atlas.proxy;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.Arrays;

/** An address block in CIDR notation ({@code 10.0.0.0/8}, {@code fd00::/8}); a bare address is a /32 or /128. */
public final class IpRange {
    private final byte[] network;
    private final int prefix;
    private final String text;

    private IpRange(byte[] network, int prefix, String text) {
        this.network = network;
        this.prefix = prefix;
        this.text = text;
    }

    /** Parses CIDR notation; the address must be a literal and have no bits set beyond the prefix. */
    public static IpRange parse(String s) {
        String t = s.strip();
        int slash = t.indexOf('/');
        String addr = slash < 0 ? t : t.substring(0, slash);
        InetAddress a;
        try {
            a = addr.indexOf(':') >= 0 ? Inet6Address.ofLiteral(addr) : Inet4Address.ofLiteral(addr);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("not an IP range: " + s);
        }
        if (addr.indexOf(':') < 0 && addr.split("\\.", -1).length != 4) {
            throw new IllegalArgumentException("IPv4 ranges must use four dotted parts: " + s);
        }
        byte[] b = a.getAddress();
        int max = b.length * 8;
        int p = max;
        if (slash >= 0) {
            String ps = t.substring(slash + 1);
            if (ps.isEmpty() || ps.length() > 3 || !ps.chars().allMatch(c -> c >= '0' && c <= '9')) {
                throw new IllegalArgumentException("bad prefix length: " + s);
            }
            p = Integer.parseInt(ps);
            if (p > max) {
                throw new IllegalArgumentException("prefix longer than the address: " + s);
            }
        }
        byte[] masked = mask(b, p);
        if (!Arrays.equals(masked, b)) {
            throw new IllegalArgumentException("address has bits set beyond the /" + p + " prefix: " + s);
        }
        return new IpRange(b, p, t);
    }

    private static byte[] mask(byte[] b, int p) {
        byte[] r = b.clone();
        for (int i = 0; i < r.length; i++) {
            int bits = Math.max(0, Math.min(8, p - i * 8));
            r[i] &= (byte) (0xff << (8 - bits));
        }
        return r;
    }

    /** Whether the address is inside; IPv4 and IPv6 never match each other. */
    public boolean contains(InetAddress a) {
        byte[] b = a.getAddress();
        return b.length == network.length && Arrays.equals(mask(b, prefix), network);
    }

    @Override
    public String toString() {
        return text;
    }
}
