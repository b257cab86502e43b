package dev.atlas.proxy.internal;

import dev.atlas.proxy.InvalidTargetException;
import dev.atlas.proxy.ProxyConfig;
import dev.atlas.proxy.RejectReason;
import dev.atlas.proxy.TargetAddress;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.function.BooleanSupplier;

/**
 * The checks before a tunnel opens, without Netty, in the order that decides which refusal a request gets:
 * draining, WebSocket handshake validity, subprotocol, rate limit, tunnel limits (total, then per client), token,
 * Origin, target syntax (and the default target), allowlist, WebSocket version; after resolution,
 * {@link #admitAddresses} applies the allowed/denied address ranges. A request that passes holds a tunnel slot
 * (released by the caller when the tunnel ends or a later step refuses it); a refused request holds none.
 */
public final class TunnelAdmission {

    /** The parts of an HTTP upgrade request the checks read (header names are case-insensitive). */
    public interface Request {
        /** The method, upper case ({@code GET}). */
        String method();

        /** Whether the request line says HTTP/1.1. */
        boolean http11();

        /** Every value of the header, in order (one entry per header line), empty when absent. */
        List<String> headers(String name);

        /** Whether the request carries a body. */
        boolean hasBody();

        /** The request target (path and query). */
        String uri();

        /** The first value of the header, or null. */
        default String header(String name) {
            List<String> v = headers(name);
            return v.isEmpty() ? null : v.get(0);
        }
    }

    /** The outcome of an admission step. */
    public sealed interface Admission permits Accepted, Rejected {
    }

    /**
     * The request may open a tunnel to {@code target}; it holds a slot for {@code client}.
     *
     * @param client      the client IP the slot is held for
     * @param target      the normalized, allowlisted target
     * @param subprotocol the subprotocol for the 101, or null
     */
    public record Accepted(String client, TargetAddress target, String subprotocol) implements Admission {
    }

    /**
     * The request is refused.
     *
     * @param reason     why
     * @param httpStatus the HTTP status of the refusal ({@link RejectReason#httpStatus()})
     * @param target     the target for the log: normalized when it parsed, else the raw value abbreviated, or "-"
     * @param detail     a human explanation, never containing secrets
     */
    public record Rejected(RejectReason reason, int httpStatus, String target, String detail) implements Admission {
        public Rejected {
            Objects.requireNonNull(reason, "reason");
            Objects.requireNonNull(target, "target");
            Objects.requireNonNull(detail, "detail");
        }

        static Rejected of(RejectReason reason, String target, String detail) {
            return new Rejected(reason, reason.httpStatus(), target, detail);
        }
    }

    /** The result of {@link #admitAddresses}: the usable addresses, or the refusal when none is. */
    public record Addresses(List<InetAddress> usable, Rejected rejected) {
        public Addresses {
            usable = List.copyOf(usable);
        }
    }

    private final ProxyConfig config;
    private final RateLimiter rate;
    private final TunnelSlots slots;
    private final BooleanSupplier draining;

    /**
     * @param config   the proxy's configuration
     * @param rate     the per-client rate limiter
     * @param slots    the tunnel slots
     * @param draining whether shutdown has begun
     */
    public TunnelAdmission(ProxyConfig config, RateLimiter rate, TunnelSlots slots, BooleanSupplier draining) {
        this.config = Objects.requireNonNull(config, "config");
        this.rate = Objects.requireNonNull(rate, "rate");
        this.slots = Objects.requireNonNull(slots, "slots");
        this.draining = Objects.requireNonNull(draining, "draining");
    }

    /** Runs the checks before resolution for a WebSocket upgrade from {@code client}. */
    public Admission admit(String client, Request req) {
        if (draining.getAsBoolean()) {
            return Rejected.of(RejectReason.DRAINING, "-", "the proxy is shutting down");
        }
        String bad = handshakeProblem(req);
        if (bad != null) {
            return Rejected.of(RejectReason.BAD_HANDSHAKE, "-", bad);
        }
        Subprotocols sub = Subprotocols.choose(req.headers("Sec-WebSocket-Protocol"));
        if (sub.refusal() != null) {
            return Rejected.of(RejectReason.UNSUPPORTED_SUBPROTOCOL, "-", sub.refusal());
        }
        if (!rate.tryAcquire(client)) {
            return Rejected.of(RejectReason.RATE_LIMITED, "-", "more than " + config.ratePerClient()
                    + " new tunnels per second (burst " + config.rateBurst() + ")");
        }
        switch (slots.tryAcquire(client)) {
            case TOTAL_FULL -> {
                return Rejected.of(RejectReason.TOO_MANY_TUNNELS, "-", config.maxTunnels() + " tunnels open");
            }
            case CLIENT_FULL -> {
                return Rejected.of(RejectReason.TOO_MANY_TUNNELS_FOR_CLIENT, "-",
                        config.maxTunnelsPerClient() + " tunnels open for this client");
            }
            case OK -> {
            }
        }
        Admission a = afterSlot(req, sub);
        if (a instanceof Rejected) {
            slots.release(client);
            return a;
        }
        TargetAddress target = ((Accepted) a).target();
        return new Accepted(client, target, sub.selected());
    }

    private Admission afterSlot(Request req, Subprotocols sub) {
        if (config.tokenRequired() && !config.tokenMatches(presentedToken(req))) {
            return Rejected.of(RejectReason.UNAUTHORIZED, "-", "missing or wrong bearer token");
        }
        if (!config.allowedOrigins().isEmpty()) {
            String origin = req.header("Origin");
            if (origin == null || req.headers("Origin").size() != 1
                    || !config.allowedOrigins().contains(origin.strip().toLowerCase(Locale.ROOT))) {
                return Rejected.of(RejectReason.ORIGIN_NOT_ALLOWED,
                        "-", origin == null ? "no Origin header" : "Origin not in the allowed list");
            }
        }
        List<String> targets;
        try {
            targets = FrontendHandler.targetParameters(req.uri());
        } catch (IllegalArgumentException e) {
            return Rejected.of(RejectReason.BAD_TARGET, "-", "undecodable query string");
        }
        TargetAddress target;
        if (targets.size() > 1) {
            return Rejected.of(RejectReason.BAD_TARGET, abbreviate(String.join(",", targets)),
                    "the target parameter is given more than once");
        } else if (targets.isEmpty()) {
            if (config.defaultTarget().isEmpty()) {
                return Rejected.of(RejectReason.NO_TARGET, "-", "no target parameter and no default target");
            }
            target = config.defaultTarget().get();
        } else {
            try {
                target = TargetAddress.parse(targets.get(0));
            } catch (InvalidTargetException e) {
                return Rejected.of(RejectReason.BAD_TARGET, abbreviate(targets.get(0)), e.getMessage());
            }
        }
        if (!config.allows(target)) {
            return Rejected.of(RejectReason.TARGET_NOT_ALLOWED, target.toString(), "not in the allowlist");
        }
        String version = req.header("Sec-WebSocket-Version");
        if (!"13".equals(version == null ? "" : version.strip())) {
            return Rejected.of(RejectReason.BAD_HANDSHAKE, target.toString(),
                    "unsupported WebSocket version (Sec-WebSocket-Version: 13 required)");
        }
        return new Accepted("-", target, sub.selected());
    }

    /**
     * The resolved addresses of {@code target} that the address rules allow ({@code literal}: the target was an
     * IP literal), or an {@link RejectReason#ADDRESS_NOT_ALLOWED} refusal naming the last refused address.
     */
    public Addresses admitAddresses(TargetAddress target, List<InetAddress> resolved, boolean literal) {
        List<InetAddress> ok = new ArrayList<>();
        String why = "name resolved to no address";
        for (InetAddress a : resolved) {
            String r = dev.atlas.proxy.internal.Addresses.refusal(a, literal, config.allowedCidrs());
            if (r == null) {
                ok.add(a);
            } else {
                why = r + " (" + dev.atlas.proxy.internal.Addresses.text(a) + ")";
            }
        }
        return ok.isEmpty() ? new Addresses(ok, Rejected.of(RejectReason.ADDRESS_NOT_ALLOWED, target.toString(), why))
                : new Addresses(ok, null);
    }

    /** Null when the request is a usable RFC 6455 upgrade, else why not. */
    static String handshakeProblem(Request req) {
        if (!"GET".equals(req.method())) {
            return "the upgrade must be a GET";
        }
        if (!req.http11()) {
            return "the upgrade must be HTTP/1.1";
        }
        if (!containsToken(req.headers("Connection"), "upgrade")) {
            return "Connection: Upgrade missing";
        }
        if (req.headers("Sec-WebSocket-Key").size() != 1) {
            return "exactly one Sec-WebSocket-Key required";
        }
        if (req.hasBody()) {
            return "an upgrade request has no body";
        }
        return null;
    }

    /** Like Netty's {@code HttpHeaders.containsValue(name, value, ignoreCase=true)}: a comma-separated token. */
    private static boolean containsToken(List<String> values, String token) {
        for (String v : values) {
            for (String p : v.split(",")) {
                if (p.strip().equalsIgnoreCase(token)) {
                    return true;
                }
            }
        }
        return false;
    }

    /** The token from {@code Authorization: Bearer} or from an offered {@code atls-proxy.bearer.<token>} subprotocol. */
    static String presentedToken(Request req) {
        List<String> auth = req.headers("Authorization");
        if (auth.size() > 1) {
            return null;
        }
        if (auth.size() == 1) {
            String a = auth.get(0).strip();
            if (a.length() > 7 && a.regionMatches(true, 0, "Bearer ", 0, 7)) {
                return a.substring(7).strip();
            }
            return null;
        }
        String found = null;
        for (String h : req.headers("Sec-WebSocket-Protocol")) {
            for (String p : h.split(",")) {
                String t = p.strip();
                if (t.startsWith(FrontendHandler.TOKEN_SUBPROTOCOL_PREFIX)) {
                    if (found != null) {
                        return null; // two tokens: ambiguous
                    }
                    found = t.substring(FrontendHandler.TOKEN_SUBPROTOCOL_PREFIX.length());
                }
            }
        }
        return found;
    }

    static String abbreviate(String s) {
        return s.length() <= 120 ? s : s.substring(0, 120) + "…";
    }
}
