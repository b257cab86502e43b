package dev.atlas.dstack.gateway.certbot.internal;

import java.net.InetAddress;
import java.util.Locale;

/** DNS-name checks of the certbot: the grammar of a certificate name, base names, loopback hosts. */
public final class Domains {
    private Domains() {
    }

    /** Why {@code name} is not a DNS name (optionally {@code *.}-prefixed, trailing dot allowed), or null. */
    public static String problem(String name) {
        if (name == null || name.isEmpty()) {
            return "empty name";
        }
        String n = name.endsWith(".") ? name.substring(0, name.length() - 1) : name;
        if (n.startsWith("*.")) {
            n = n.substring(2);
        }
        if (n.isEmpty() || n.length() > 253) {
            return "not a DNS name (length " + name.length() + ")";
        }
        for (String label : n.split("\\.", -1)) {
            if (label.isEmpty() || label.length() > 63) {
                return "not a DNS name (empty or over-long label)";
            }
            if (label.startsWith("-") || label.endsWith("-")) {
                return "not a DNS name (label starts or ends with '-')";
            }
            for (int i = 0; i < label.length(); i++) {
                char c = label.charAt(i);
                boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
                        || c == '_';
                if (!ok) {
                    return "not a DNS name (character U+" + String.format("%04X", (int) c) + ")";
                }
            }
        }
        if (!n.contains(".")) {
            return "not a DNS name under a zone (needs at least two labels)";
        }
        return null;
    }

    /** Lower case, without a trailing dot. */
    public static String normalize(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        return n.endsWith(".") ? n.substring(0, n.length() - 1) : n;
    }

    /** The name without a leading {@code *.}, normalized. */
    public static String base(String name) {
        String n = normalize(name);
        return n.startsWith("*.") ? n.substring(2) : n;
    }

    /** True for {@code localhost} and literal loopback addresses (no DNS lookup is made). */
    public static boolean isLoopbackHost(String host) {
        if (host == null) {
            return false;
        }
        String h = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
        if (h.equalsIgnoreCase("localhost")) {
            return true;
        }
        boolean literal = h.chars().allMatch(c -> Character.digit(c, 16) >= 0 || c == '.' || c == ':');
        if (!literal || !(h.contains(":") || h.chars().filter(c -> c == '.').count() == 3)) {
            return false;
        }
        try {
            return InetAddress.getByName(h).isLoopbackAddress();
        } catch (java.net.UnknownHostException e) {
            return false;
        }
    }
}
