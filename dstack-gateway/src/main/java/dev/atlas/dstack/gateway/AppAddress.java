package dev.atlas.dstack.gateway;

import dev.atlas.dstack.ra.RaException;
import java.util.Objects;

/**
 * Where an SNI under a ZT-domain points: {@code <id>[-<port>][s|g]} (spec §3.2, dstack's {@code proxy.rs}
 * {@code parse_dst_info}).
 *
 * <p>The grammar, exactly as dstack applies it:
 * <ol>
 *   <li>split the subdomain on {@code -}; the first part is the id and must not be empty ("app id is empty");</li>
 *   <li>if a second part is present: strip a trailing {@code g} (h2), then a trailing {@code s} (tls); both set is
 *       "invalid sni format: `gs` is not allowed" (so {@code 443sg} fails this way, while {@code 443gs} strips only
 *       the {@code s} and fails on the port {@code 443g}); what remains is empty or a decimal port 0..65535
 *       ("invalid port");</li>
 *   <li>a third part is "invalid sni format" (checked after the second part, as dstack does, so
 *       {@code a-x-b} reports the port);</li>
 *   <li>the default port is 443 with {@code s}, else 80 (also for {@code -g}: h2 on port 80).</li>
 * </ol>
 * No case folding: ids are compared with the lowercase hex of registrations, so an uppercase id simply matches
 * nothing. Every refusal is a {@link RaException} with reason {@code INVALID_ARGUMENT}, field {@code sni}, and
 * dstack's text as the detail.
 *
 * @param id   the app id or instance id (or a reserved id: {@code gateway}, {@code health}, {@code localhost})
 * @param port the app's port, 0..65535
 * @param tls  {@code s}: TLS passthrough to the app
 * @param h2   {@code g}: TLS terminated here with ALPN {@code h2} only
 */
public record AppAddress(String id, int port, boolean tls, boolean h2) {

    /** Longest subdomain accepted (a DNS label is at most 63 bytes; a little slack for robustness). */
    public static final int MAX_SUBDOMAIN_LENGTH = 253;
    /** Longest SNI accepted (a DNS name is at most 253 bytes). */
    public static final int MAX_SNI_LENGTH = 253;

    /** dstack's texts (from {@code proxy.rs}); tests compare them exactly. */
    public static final String ERR_INVALID_SNI = "invalid sni";
    public static final String ERR_INVALID_FORMAT = "invalid sni format";
    public static final String ERR_GS = "invalid sni format: `gs` is not allowed";
    public static final String ERR_INVALID_PORT = "invalid port";
    public static final String ERR_EMPTY_ID = "app id is empty";
    public static final String ERR_TOO_LONG = "sni too long";

    public AppAddress {
        Objects.requireNonNull(id, "id");
        if (id.isEmpty() || id.indexOf('-') >= 0) {
            throw new IllegalArgumentException("AppAddress.id must be non-empty and contain no '-': " + id);
        }
        if (port < 0 || port > 0xFFFF) {
            throw new IllegalArgumentException("AppAddress.port out of range 0..65535: " + port);
        }
        if (tls && h2) {
            throw new IllegalArgumentException("AppAddress: tls and h2 together (`gs`) are not allowed");
        }
    }

    /** {@code tls()}: the connection is passed through to the app, which terminates TLS itself. */
    public boolean passthrough() {
        return tls;
    }

    /**
     * Parses the part of an SNI before the first dot.
     *
     * @throws RaException {@code INVALID_ARGUMENT} on field {@code sni} with dstack's text
     */
    public static AppAddress parseSubdomain(String subdomain) throws RaException {
        Objects.requireNonNull(subdomain, "subdomain");
        if (subdomain.length() > MAX_SUBDOMAIN_LENGTH) {
            throw refuse(ERR_TOO_LONG + " (" + subdomain.length() + " > " + MAX_SUBDOMAIN_LENGTH + " characters)");
        }
        int dash = subdomain.indexOf('-');
        String id = dash < 0 ? subdomain : subdomain.substring(0, dash);
        if (id.isEmpty()) {
            throw refuse(ERR_EMPTY_ID);
        }
        if (dash < 0) {
            return new AppAddress(id, 80, false, false);
        }
        int next = subdomain.indexOf('-', dash + 1);
        String part = next < 0 ? subdomain.substring(dash + 1) : subdomain.substring(dash + 1, next);
        boolean h2 = false;
        boolean tls = false;
        if (part.endsWith("g")) {
            h2 = true;
            part = part.substring(0, part.length() - 1);
        }
        if (part.endsWith("s")) {
            tls = true;
            part = part.substring(0, part.length() - 1);
        }
        if (h2 && tls) {
            throw refuse(ERR_GS);
        }
        int port;
        if (part.isEmpty()) {
            port = tls ? 443 : 80;
        } else {
            port = parseU16(part);
        }
        if (next >= 0) {
            throw refuse(ERR_INVALID_FORMAT);
        }
        return new AppAddress(id, port, tls, h2);
    }

    /**
     * Splits an SNI at the first dot into {@code {subdomain, baseDomain}}.
     *
     * @throws RaException "invalid sni" when there is no dot, "sni too long" above {@link #MAX_SNI_LENGTH}
     */
    public static String[] splitSni(String sni) throws RaException {
        Objects.requireNonNull(sni, "sni");
        if (sni.length() > MAX_SNI_LENGTH) {
            throw refuse(ERR_TOO_LONG + " (" + sni.length() + " > " + MAX_SNI_LENGTH + " characters)");
        }
        int dot = sni.indexOf('.');
        if (dot < 0) {
            throw refuse(ERR_INVALID_SNI);
        }
        return new String[] {sni.substring(0, dot), sni.substring(dot + 1)};
    }

    /** The subdomain this address renders to ({@code id[-port][s|g]}), which parses back to this value. */
    public String subdomain() {
        int defaultPort = tls ? 443 : 80;
        String suffix = tls ? "s" : h2 ? "g" : "";
        if (port == defaultPort) {
            return suffix.isEmpty() ? id : id + "-" + suffix;
        }
        return id + "-" + port + suffix;
    }

    /**
     * Rust's {@code str::parse::<u16>}: optional leading {@code +}, ASCII digits only, leading zeros allowed,
     * value at most 65535.
     */
    private static int parseU16(String s) throws RaException {
        int i = s.charAt(0) == '+' ? 1 : 0;
        if (i == s.length()) {
            throw refuse(ERR_INVALID_PORT);
        }
        int value = 0;
        for (; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                throw refuse(ERR_INVALID_PORT);
            }
            value = value * 10 + (c - '0');
            if (value > 0xFFFF) {
                throw refuse(ERR_INVALID_PORT);
            }
        }
        return value;
    }

    private static RaException refuse(String text) {
        return new RaException(RaException.Reason.INVALID_ARGUMENT, "sni", text);
    }
}
