package dev.atlas.cli;

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
    public void quoteServed(InetSocketAddress client, Duration took) {
        line("quote served to " + client + " in " + took.toMillis() + " ms");
    }

    @Override
    public void quoteFailed(InetSocketAddress client, String reason, Throwable cause) {
        line("quote for " + client + " FAILED: " + reason);
    }

    @Override
    public void requestRejected(InetSocketAddress client, String path, int status, String reason) {
        line("rejected " + status + " " + path + " from " + client + ": " + reason);
    }

    @Override
    public void applicationFailed(String path, Throwable cause) {
        line("application failed on " + path + ": " + CliErrors.detail(cause));
    }

    @Override
    public void stopped() {
        line("stopped");
    }
}
