package dev.atlas.dstack.vmm.internal;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;

import java.nio.file.Path;
import java.util.Optional;

/**
 * The VMM's {@code address}: {@code unix:PATH} (relative to the config's directory), {@code tcp:HOST:PORT} or
 * {@code HOST:PORT}. HOST is an IP literal ({@code [::1]} for IPv6) or {@code localhost}.
 */
public record ListenAddress(Optional<Path> unixPath, String host, int port) {
    public static ListenAddress parse(String address, Path base) throws RaException {
        if (address.startsWith("unix:")) {
            String p = address.substring(5);
            if (p.isEmpty()) {
                throw new RaException(Reason.CONFIG_INVALID, "address", "unix: needs a socket path");
            }
            return new ListenAddress(Optional.of(base.resolve(p).normalize()), "", 0);
        }
        String hp = address.startsWith("tcp:") ? address.substring(4) : address;
        int colon = hp.lastIndexOf(':');
        if (colon <= 0) {
            throw new RaException(Reason.CONFIG_INVALID, "address",
                    "must be unix:PATH, tcp:HOST:PORT or HOST:PORT, got " + address);
        }
        String host = hp.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        if (!host.equals("localhost") && !Ips.isIpLiteral(host)) {
            throw new RaException(Reason.CONFIG_INVALID, "address", "host must be an IP address or localhost, got "
                    + host);
        }
        int port;
        try {
            port = Integer.parseInt(hp.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new RaException(Reason.CONFIG_INVALID, "address", "port is not a number in " + address);
        }
        if (port < 0 || port > 65535) {
            throw new RaException(Reason.CONFIG_INVALID, "address", "port out of 0..65535 in " + address);
        }
        return new ListenAddress(Optional.empty(), host, port);
    }

    /** Whether only this host can reach the listener (a Unix socket or a loopback address). */
    public boolean onHostOnly() {
        return unixPath.isPresent() || host.equals("localhost") || Ips.isLoopback(host);
    }
}
