package dev.atlas.cli;

import dev.atlas.server.AtlsServerCall;
import dev.atlas.server.AtlsServerListener;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;

/** One line per server event on stderr (no secrets ever reach the listener). */
final class StderrListener implements AtlsServerListener {
    private final PrintWriter err;

    StderrListener(PrintWriter err) {
        this.err = err;
    }

    private void line(String s) {
        synchronized (err) {
            err.println(Instant.now() + " " + s);
            err.flush();
        }
    }

    @Override
    public void started(InetSocketAddress address, String sha, String provider) {
        line("listening on " + address + ", certificate sha256 " + sha + " measured via " + provider);
    }

    @Override
    public void quoteEnd(AtlsServerCall call, Duration took) {
        line("quote served to " + call.peer() + " in " + took.toMillis() + " ms");
    }

    @Override
    public void quoteFailed(AtlsServerCall call, Exception cause, Duration took) {
        line("quote for " + call.peer() + " FAILED: " + cause.getMessage());
    }

    @Override
    public void requestRejected(AtlsServerCall call, int status, String reason) {
        line("rejected " + status + " " + call.path() + " from " + call.peer() + ": " + reason);
    }

    @Override
    public void applicationFailed(AtlsServerCall call, Exception cause, Duration took) {
        line("application failed on " + call.path() + ": " + CliErrors.detail(cause));
    }

    @Override
    public void stopped() {
        line("stopped");
    }
}
