package dev.atlas.proxy.internal;

import dev.atlas.proxy.IpRange;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.List;

/** Address text and the rules on which resolved addresses a tunnel may reach. */
public final class Addresses {
    private Addresses() {
    }

    /** Canonical text (dotted quad, or RFC 5952 IPv6). */
    public static String text(InetAddress a) {
        if (a instanceof Inet6Address) {
            return dev.atlas.proxy.internal.Ipv6Text.format(a.getAddress());
        }
        return a.getHostAddress();
    }

    /**
     * Why the address may not be reached, or null when it may.
     *
     * @param literal  the target was this exact IP literal in the allowlist
     * @param allowed  the configured ranges (empty: no range restriction)
     */
    public static String refusal(InetAddress a, boolean literal, List<IpRange> allowed) {
        if (a.isAnyLocalAddress()) {
            return "the unspecified address reaches this host";
        }
        if (a.isMulticastAddress() || (a instanceof Inet4Address && isBroadcast(a))) {
            return "multicast or broadcast address";
        }
        if (!allowed.isEmpty()) {
            for (IpRange r : allowed) {
                if (r.contains(a)) {
                    return null;
                }
            }
            return "resolved address is outside the allowed ranges";
        }
        if (!literal && a.isLinkLocalAddress()) {
            return "link-local address (cloud metadata) reached through a name; allow it with a CIDR";
        }
        return null;
    }

    private static boolean isBroadcast(InetAddress a) {
        byte[] b = a.getAddress();
        return b[0] == (byte) 255 && b[1] == (byte) 255 && b[2] == (byte) 255 && b[3] == (byte) 255;
    }
}
