package dev.atlas.dstack.vmm.internal;

/** IP literal checks without name resolution. */
final class Ips {
    private Ips() {}

    /** Whether {@code s} is an IPv4 dotted quad or an IPv6 literal (no brackets, no zone). */
    static boolean isIpLiteral(String s) {
        if (s == null || s.isEmpty() || s.length() > 45) {
            return false;
        }
        if (s.indexOf(':') >= 0) {
            return s.chars().allMatch(c -> Character.digit(c, 16) >= 0 || c == ':' || c == '.')
                    && parses(s);
        }
        String[] p = s.split("\\.", -1);
        if (p.length != 4) {
            return false;
        }
        for (String q : p) {
            if (q.isEmpty() || q.length() > 3 || !q.chars().allMatch(Character::isDigit)
                    || (q.length() > 1 && q.charAt(0) == '0') || Integer.parseInt(q) > 255) {
                return false;
            }
        }
        return true;
    }

    private static boolean parses(String s) {
        try {
            java.net.InetAddress.ofLiteral(s);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /** Whether an IP literal is a loopback address (127/8, ::1). */
    static boolean isLoopback(String s) {
        try {
            return java.net.InetAddress.ofLiteral(s).isLoopbackAddress();
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /** Whether an IP literal is the unspecified address (0.0.0.0, ::). */
    static boolean isUnspecified(String s) {
        try {
            return java.net.InetAddress.ofLiteral(s).isAnyLocalAddress();
        } catch (IllegalArgumentException e) {
            return false;
        }
    }
}
