package dev.atlas.proxy;

import java.net.IDN;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.Locale;
import java.util.Objects;

/**
 * A normalized {@code host:port}: what a tunnel may connect to, and what an allowlist entry names.
 *
 * <p>Normalization is strict on purpose: two spellings of one destination become one key, and anything that
 * could be read two ways is refused rather than guessed. Rules (see {@code docs/proxy.md}):
 * <ul>
 *   <li>Host names are IDNA-converted to ASCII (STD3 rules), lower-cased, and lose one trailing dot.</li>
 *   <li>A missing port means 443 (as Atlas's browser client assumes), so {@code h} and {@code h:443} match.
 *       Ports are decimal 1-65535 without sign or leading zero.</li>
 *   <li>IPv4 literals only in strict dotted-quad form: no decimal, octal or hex shorthands ({@code 2130706433},
 *       {@code 0177.0.0.1}, {@code 0x7f.1}, {@code 127.1}) and no name whose last label is numeric.</li>
 *   <li>IPv6 literals only in brackets, without zone id, and never IPv4-mapped or IPv4-compatible
 *       ({@code [::ffff:127.0.0.1]}); written in RFC 5952 form.</li>
 *   <li>No userinfo, path, query, fragment, percent escape, backslash, whitespace or control character.</li>
 * </ul>
 * Allowlist entries may start with {@code *.} (a wildcard over sub-domains, as in Atlas's {@code proxy-deploy}
 * branch); requested targets may not.
 */
public final class TargetAddress {
    /** Longest accepted input; a DNS name is at most 253 characters, IPv6 in brackets plus a port far less. */
    public static final int MAX_LENGTH = 300;
    /** The port assumed when none is given. */
    public static final int DEFAULT_PORT = 443;

    /** What the host is. */
    public enum Kind {
        /** A DNS name: resolved once per tunnel, and the tunnel connects to that address. */
        NAME,
        /** A dotted-quad IPv4 literal. */
        IPV4,
        /** A bracketed IPv6 literal. */
        IPV6,
        /** {@code *.suffix} (allowlist entries only). */
        WILDCARD
    }

    private final Kind kind;
    private final String host; // ASCII, lower case; IPv6 without brackets; WILDCARD: the suffix without "*."
    private final int port;
    private final InetAddress literal; // IPV4 / IPV6 only

    private TargetAddress(Kind kind, String host, int port, InetAddress literal) {
        this.kind = kind;
        this.host = host;
        this.port = port;
        this.literal = literal;
    }

    /** Parses a requested target. */
    public static TargetAddress parse(String raw) throws InvalidTargetException {
        return parse(raw, false);
    }

    /** Parses an allowlist entry ({@code *.suffix:port} allowed). */
    public static TargetAddress parseEntry(String raw) throws InvalidTargetException {
        return parse(raw, true);
    }

    private static TargetAddress parse(String raw, boolean entry) throws InvalidTargetException {
        if (raw == null || raw.isEmpty()) {
            throw new InvalidTargetException("empty target");
        }
        if (raw.length() > MAX_LENGTH) {
            throw new InvalidTargetException("target longer than " + MAX_LENGTH + " characters");
        }
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c <= 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) || Character.isWhitespace(c)
                    || Character.isSpaceChar(c)) {
                throw new InvalidTargetException("whitespace or control character in target");
            }
            if (c < 0x80 && !(isAsciiAlnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']'
                    || c == '*')) {
                throw new InvalidTargetException("character '" + c + "' not allowed in a target "
                        + "(no userinfo, path, query, escapes)");
            }
        }
        String hostPart;
        String portPart;
        boolean bracketed = raw.charAt(0) == '[';
        if (bracketed) {
            int close = raw.indexOf(']');
            if (close < 0 || raw.indexOf('[', 1) >= 0 || raw.indexOf(']', close + 1) >= 0) {
                throw new InvalidTargetException("unbalanced brackets");
            }
            hostPart = raw.substring(1, close);
            String rest = raw.substring(close + 1);
            if (rest.isEmpty()) {
                portPart = null;
            } else if (rest.charAt(0) == ':') {
                portPart = rest.substring(1);
            } else {
                throw new InvalidTargetException("garbage after the IPv6 literal");
            }
        } else {
            if (raw.indexOf('[') >= 0 || raw.indexOf(']') >= 0) {
                throw new InvalidTargetException("brackets outside an IPv6 literal");
            }
            int colon = raw.indexOf(':');
            if (colon >= 0 && raw.indexOf(':', colon + 1) >= 0) {
                throw new InvalidTargetException("an IPv6 literal must be in brackets");
            }
            hostPart = colon < 0 ? raw : raw.substring(0, colon);
            portPart = colon < 0 ? null : raw.substring(colon + 1);
        }
        int port = parsePort(portPart);
        if (bracketed) {
            InetAddress a = parseIpv6(hostPart);
            return new TargetAddress(Kind.IPV6, dev.atlas.proxy.internal.Ipv6Text.format(a.getAddress()), port, a);
        }
        if (hostPart.isEmpty()) {
            throw new InvalidTargetException("empty host");
        }
        boolean wildcard = false;
        if (hostPart.indexOf('*') >= 0) {
            if (!entry) {
                throw new InvalidTargetException("wildcards are only allowed in allowlist entries");
            }
            if (!hostPart.startsWith("*.") || hostPart.indexOf('*', 1) >= 0) {
                throw new InvalidTargetException("a wildcard must be a leading '*.' label");
            }
            wildcard = true;
            hostPart = hostPart.substring(2);
        }
        boolean ascii = hostPart.chars().allMatch(c -> c < 0x80);
        if (ascii && isStrictDottedQuad(hostPart)) {
            if (wildcard) {
                throw new InvalidTargetException("a wildcard cannot cover an IP address");
            }
            try {
                return new TargetAddress(Kind.IPV4, hostPart, port, Inet4Address.ofLiteral(hostPart));
            } catch (IllegalArgumentException e) {
                throw new InvalidTargetException("invalid IPv4 literal");
            }
        }
        String name = hostPart;
        if (name.endsWith(".")) {
            name = name.substring(0, name.length() - 1);
        }
        if (name.isEmpty() || name.startsWith(".") || name.contains("..")) {
            throw new InvalidTargetException("empty label in host name");
        }
        String converted;
        try {
            converted = IDN.toASCII(name, IDN.USE_STD3_ASCII_RULES);
        } catch (IllegalArgumentException e) {
            throw new InvalidTargetException("host name is not a valid (internationalized) DNS name");
        }
        converted = converted.toLowerCase(Locale.ROOT);
        if (converted.endsWith(".")) { // IDN maps ideographic full stops; a second trailing dot is an empty label
            throw new InvalidTargetException("empty label in host name");
        }
        checkDnsName(converted);
        String last = converted.substring(converted.lastIndexOf('.') + 1);
        if (last.chars().allMatch(c -> c >= '0' && c <= '9') || last.startsWith("0x")) {
            // 2130706433, 0177.0.0.1, 0x7f.1, 127.1, 127.0.0.1. and fullwidth digits all end up here:
            // resolvers and URL parsers read them as IPv4 in different ways, so they are refused.
            throw new InvalidTargetException("numeric host that is not a strict dotted-quad IPv4 literal");
        }
        return new TargetAddress(wildcard ? Kind.WILDCARD : Kind.NAME, converted, port, null);
    }

    private static boolean isAsciiAlnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    }

    private static int parsePort(String p) throws InvalidTargetException {
        if (p == null) {
            return DEFAULT_PORT;
        }
        if (p.isEmpty() || p.length() > 5 || p.charAt(0) == '0' || !p.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new InvalidTargetException("port must be a decimal number from 1 to 65535 without leading zero");
        }
        int v = Integer.parseInt(p);
        if (v > 65535) {
            throw new InvalidTargetException("port must be a decimal number from 1 to 65535 without leading zero");
        }
        return v;
    }

    private static boolean isStrictDottedQuad(String s) {
        String[] parts = s.split("\\.", -1);
        if (parts.length != 4) {
            return false;
        }
        for (String p : parts) {
            if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(c -> c >= '0' && c <= '9')
                    || (p.length() > 1 && p.charAt(0) == '0') || Integer.parseInt(p) > 255) {
                return false;
            }
        }
        return true;
    }

    private static void checkDnsName(String n) throws InvalidTargetException {
        if (n.length() > 253) {
            throw new InvalidTargetException("host name longer than 253 characters");
        }
        for (String label : n.split("\\.", -1)) {
            if (label.isEmpty() || label.length() > 63) {
                throw new InvalidTargetException("host name label empty or longer than 63 characters");
            }
            if (label.startsWith("-") || label.endsWith("-")) {
                throw new InvalidTargetException("host name label starts or ends with '-'");
            }
            for (int i = 0; i < label.length(); i++) {
                char c = label.charAt(i);
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
                    throw new InvalidTargetException("character not allowed in a host name");
                }
            }
        }
    }

    private static InetAddress parseIpv6(String s) throws InvalidTargetException {
        if (s.isEmpty() || !s.chars().allMatch(c -> (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
                || (c >= 'A' && c <= 'F') || c == ':' || c == '.')) {
            throw new InvalidTargetException("invalid IPv6 literal");
        }
        InetAddress a;
        try {
            a = Inet6Address.ofLiteral(s);
        } catch (IllegalArgumentException e) {
            throw new InvalidTargetException("invalid IPv6 literal");
        }
        if (a instanceof Inet4Address) { // the JDK turns ::ffff:a.b.c.d into an IPv4 address
            throw new InvalidTargetException("IPv4-mapped IPv6 literal (use the IPv4 form if it is allowlisted)");
        }
        byte[] b = a.getAddress();
        boolean firstTwelveZero = true;
        for (int i = 0; i < 12; i++) {
            firstTwelveZero &= b[i] == 0;
        }
        boolean mapped = b[10] == (byte) 0xff && b[11] == (byte) 0xff;
        for (int i = 0; i < 10; i++) {
            mapped &= b[i] == 0;
        }
        int tail = ((b[12] & 0xff) << 24) | ((b[13] & 0xff) << 16) | ((b[14] & 0xff) << 8) | (b[15] & 0xff);
        if (mapped || (firstTwelveZero && tail != 0 && tail != 1)) {
            throw new InvalidTargetException("IPv4-mapped or IPv4-compatible IPv6 literal");
        }
        return a;
    }

    /** What the host is. */
    public Kind kind() {
        return kind;
    }

    /** The normalized host: an ASCII lower-case name, a dotted quad, or RFC 5952 IPv6 text without brackets. */
    public String host() {
        return host;
    }

    /** The port. */
    public int port() {
        return port;
    }

    /** The address of an IP literal; empty for names. */
    public java.util.Optional<InetAddress> literalAddress() {
        return java.util.Optional.ofNullable(literal);
    }

    /** Whether this (wildcard) entry covers a requested target. Non-wildcards match by equality. */
    public boolean covers(TargetAddress requested) {
        if (kind != Kind.WILDCARD) {
            return equals(requested);
        }
        return requested.kind == Kind.NAME && requested.port == port && requested.host.endsWith("." + host);
    }

    /** The normalized {@code host:port} (IPv6 in brackets; wildcards with their {@code *.}). */
    @Override
    public String toString() {
        return switch (kind) {
            case IPV6 -> "[" + host + "]:" + port;
            case WILDCARD -> "*." + host + ":" + port;
            default -> host + ":" + port;
        };
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TargetAddress t && t.kind == kind && t.port == port && t.host.equals(host);
    }

    @Override
    public int hashCode() {
        return Objects.hash(kind, host, port);
    }
}
